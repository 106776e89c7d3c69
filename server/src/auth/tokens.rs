//! Access tokens (short-lived signed JWTs, checked without the database) and
//! refresh tokens (long-lived opaque random strings, of which the server
//! keeps only a hash).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::Secret;

/// The `iss` of every access token; tokens from anyone else are refused.
pub const ISSUER: &str = "auth-demo";

/// The one algorithm we sign with and the only one we accept.
const ALGORITHM: Algorithm = Algorithm::HS256;

/// What an access token says. `sub` and `sid` are all the protected API
/// needs to act for a user without reading the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    /// The session (login) that minted this token.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token, so two tokens minted in one second still differ.
    pub jti: Uuid,
    pub iss: String,
}

/// Why an access token was refused. The difference matters to the client:
/// only `Expired` means "refresh and retry".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessTokenError {
    /// The signature is good but `exp` (plus leeway) has passed.
    Expired,
    /// Malformed, forged, wrong algorithm or key, wrong issuer or missing
    /// claims.
    Invalid,
}

/// Mints and checks access tokens with one HMAC key, through jsonwebtoken
/// alone; the keys and the validation rules are built once, at start.
#[derive(Clone)]
pub struct TokenService {
    /// Names the key in every token's header (`kid`), so that a key ring
    /// can later pick the key that verifies a token by it.
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
}

impl TokenService {
    pub fn new(secret: &Secret, access_ttl: Duration, leeway: Duration) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        // jsonwebtoken's defaults are looser: 60 s of leeway and only `exp`
        // required.
        validation.leeway = leeway.as_secs();
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self {
            kid: key_id(secret),
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            access_ttl,
        }
    }

    /// Mints an access token for one session of one user.
    pub fn issue_access_token(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let iat = now.timestamp();
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            iat,
            exp: iat + i64::try_from(self.access_ttl.as_secs())?,
            jti: Uuid::new_v4(),
            iss: ISSUER.to_owned(),
        };
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(ALGORITHM)
        };
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// Checks the key id, the signature, the algorithm, the issuer and the
    /// expiry. jsonwebtoken checks the signature before the claims, so
    /// `Expired` implies a good signature.
    pub fn verify_access_token(&self, token: &str) -> Result<Claims, AccessTokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessTokenError::Invalid)?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(AccessTokenError::Invalid);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AccessTokenError::Expired,
                _ => AccessTokenError::Invalid,
            })
    }
}

/// A key's public name: the start of its SHA-256, which says nothing of
/// the key that a token signed with it does not already.
fn key_id(secret: &Secret) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(secret.expose())[..12])
}

/// An opaque refresh token as the client holds it: 256 bits from the OS
/// generator, URL-safe base64. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

/// The SHA-256 of a refresh token, the only form the store ever sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshTokenHash(pub [u8; 32]);

impl RefreshToken {
    /// 32 bytes = 256 bits of entropy, as the contract requires.
    const BYTES: usize = 32;

    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; Self::BYTES];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a value presented by a client; it is only ever hashed.
    pub fn from_presented(value: String) -> Self {
        Self(value)
    }

    pub fn hash(&self) -> RefreshTokenHash {
        RefreshTokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshTokenHash {
    /// Constant-time comparison with a hash read from the store, so that how
    /// long a comparison takes says nothing about how much of it matched.
    pub fn matches(&self, stored: &[u8]) -> bool {
        self.0.ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of our tokens with another algorithm, so that a test
    /// gets past the key id to what it is about.
    fn our_header(algorithm: Algorithm) -> Header {
        Header {
            kid: Some(key_id(&Secret::new(vec![7; 32]))),
            ..Header::new(algorithm)
        }
    }

    /// Claims as we would issue them now, for 900 s.
    fn fresh_claims() -> Claims {
        Claims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            iat: Utc::now().timestamp(),
            exp: Utc::now().timestamp() + 900,
            jti: Uuid::new_v4(),
            iss: ISSUER.to_owned(),
        }
    }

    fn service(ttl_secs: u64, leeway_secs: u64) -> TokenService {
        TokenService::new(
            &Secret::new(vec![7; 32]),
            Duration::from_secs(ttl_secs),
            Duration::from_secs(leeway_secs),
        )
    }

    #[test]
    fn a_fresh_token_verifies_to_its_claims() {
        // Arrange
        let tokens = service(900, 5);
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());

        // Act
        let token = tokens
            .issue_access_token(user, session, Utc::now())
            .unwrap();
        let claims = tokens.verify_access_token(&token).unwrap();

        // Assert
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.iss, ISSUER);
    }

    #[test]
    fn an_expired_token_is_expired_not_invalid() {
        let tokens = service(60, 5);
        let long_ago = Utc::now() - chrono::Duration::seconds(120);
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), long_ago)
            .unwrap();

        assert_eq!(
            tokens.verify_access_token(&token),
            Err(AccessTokenError::Expired)
        );
    }

    #[test]
    fn the_leeway_tolerates_a_token_just_past_its_expiry() {
        let tokens = service(60, 30);
        let just_past = Utc::now() - chrono::Duration::seconds(70);
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), just_past)
            .unwrap();

        assert!(tokens.verify_access_token(&token).is_ok());
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid_even_when_expired() {
        let other = TokenService::new(
            &Secret::new(vec![8; 32]),
            Duration::from_secs(1),
            Duration::ZERO,
        );
        let long_ago = Utc::now() - chrono::Duration::seconds(120);
        let forged = other
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), long_ago)
            .unwrap();

        assert_eq!(
            service(900, 5).verify_access_token(&forged),
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn an_unsigned_token_is_invalid() {
        // {"alg":"none"} with the claims of a real token and no signature.
        let tokens = service(900, 5);
        let real = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();
        let claims = real.split('.').nth(1).unwrap();
        let kid = key_id(&Secret::new(vec![7; 32]));
        let header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        let unsigned = format!("{header}.{claims}.");

        assert_eq!(
            tokens.verify_access_token(&unsigned),
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn another_hmac_algorithm_is_refused() {
        let tokens = service(900, 5);
        let claims = fresh_claims();
        let hs512 = jsonwebtoken::encode(
            &our_header(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&[7; 32]),
        )
        .unwrap();

        assert_eq!(
            tokens.verify_access_token(&hs512),
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn a_token_without_issuer_or_subject_is_invalid() {
        let tokens = service(900, 5);
        let key = EncodingKey::from_secret(&[7; 32]);
        let exp = Utc::now().timestamp() + 900;
        for claims in [
            serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4() }),
            serde_json::json!({ "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4(), "iss": ISSUER }),
            serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4(), "iss": "someone-else" }),
        ] {
            let token = jsonwebtoken::encode(&our_header(ALGORITHM), &claims, &key).unwrap();
            assert_eq!(
                tokens.verify_access_token(&token),
                Err(AccessTokenError::Invalid),
                "{claims}"
            );
        }
    }

    #[test]
    fn a_token_names_its_key_and_carries_every_claim_of_the_contract() {
        let tokens = service(900, 5);
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();

        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, ALGORITHM);
        assert_eq!(header.kid, Some(key_id(&Secret::new(vec![7; 32]))));
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload).unwrap();
        for claim in ["sub", "sid", "iat", "exp", "jti", "iss"] {
            assert!(claims.contains_key(claim), "{claim} missing");
        }
    }

    #[test]
    fn a_token_without_our_key_id_is_invalid_even_when_well_signed() {
        let tokens = service(900, 5);
        let key = EncodingKey::from_secret(&[7; 32]);
        let claims = fresh_claims();
        for kid in [None, Some("another key".to_owned())] {
            let header = Header {
                kid,
                ..Header::new(ALGORITHM)
            };
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();

            assert_eq!(
                tokens.verify_access_token(&token),
                Err(AccessTokenError::Invalid)
            );
        }
    }

    #[test]
    fn garbage_is_invalid() {
        let tokens = service(900, 5);
        for token in ["", "abc", "a.b.c", "😀.😀.😀"] {
            assert_eq!(
                tokens.verify_access_token(token),
                Err(AccessTokenError::Invalid)
            );
        }
    }

    #[test]
    fn refresh_tokens_are_256_bit_url_safe_and_unique() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();

        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn a_refresh_token_matches_only_its_own_hash() {
        let token = RefreshToken::generate().unwrap();
        let other = RefreshToken::generate().unwrap();

        assert!(token.hash().matches(&token.hash().0));
        assert!(!token.hash().matches(&other.hash().0));
        assert!(!token.hash().matches(&token.hash().0[..31]));
    }
}
