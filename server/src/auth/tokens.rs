//! Access tokens (short-lived signed JWTs, checked without the database) and
//! refresh tokens (long-lived opaque random strings, of which the server
//! keeps only a hash).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
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
    /// Malformed, forged, wrong algorithm, wrong issuer or missing claims.
    Invalid,
}

/// Mints and checks access tokens with one HMAC key.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The encoded header of every token we sign, with its `.`.
    own_header: String,
    /// The same key as `decoding`, for the fast path of our own tokens.
    hmac: HmacSha256,
    leeway_secs: u64,
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
        // A header that cannot fail to serialize; were it to, "." matches no
        // token and every token takes jsonwebtoken's path.
        let header = serde_json::to_vec(&Header::new(ALGORITHM)).unwrap_or_default();
        let own_header = format!("{}.", URL_SAFE_NO_PAD.encode(header));
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            own_header,
            hmac: HmacSha256::new(secret.expose()),
            leeway_secs: leeway.as_secs(),
            access_ttl,
        }
    }

    /// The access token's lifetime, also the access cookie's `Max-Age`.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
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
        Ok(jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm, issuer and expiry. jsonwebtoken checks
    /// the signature before the claims, so `Expired` implies a good signature.
    ///
    /// Tokens with the very header we sign with (all of ours) are checked
    /// here without jsonwebtoken's per-call work (a boxed verifier keyed
    /// afresh, the header and the claims each parsed twice); anything
    /// else, and anything not plainly three clean parts, goes through
    /// jsonwebtoken, which refuses it or decides the same way.
    pub fn verify_access_token(&self, token: &str) -> Result<Claims, AccessTokenError> {
        self.verify_own_token(token)
            .unwrap_or_else(|| self.verify_with_jsonwebtoken(token))
    }

    /// The same decisions as [`Self::verify_with_jsonwebtoken`] for a token
    /// with our header: signature first, then the claims parsed once, `exp`
    /// (with the leeway) before `iss`. `sub`, `exp` and `iss` are required
    /// by `Claims` itself. `aud` and `nbf` are not looked at: we never put
    /// them in a token, and a good signature means we made it. `None` hands
    /// the token to jsonwebtoken.
    fn verify_own_token(&self, token: &str) -> Option<Result<Claims, AccessTokenError>> {
        let rest = token.strip_prefix(self.own_header.as_str())?;
        let (payload, signature) = rest.split_once('.')?;
        if signature.contains('.') {
            return None;
        }
        let mut presented = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(signature, &mut presented) {
            Ok(32) => {}
            _ => return None,
        }
        let signed = &token.as_bytes()[..self.own_header.len() + payload.len()];
        if !bool::from(self.hmac.sign(signed).ct_eq(&presented)) {
            return Some(Err(AccessTokenError::Invalid));
        }
        let mut json = [0u8; 512];
        let len = URL_SAFE_NO_PAD.decode_slice(payload, &mut json).ok()?;
        let Ok(claims) = serde_json::from_slice::<Claims>(&json[..len]) else {
            return Some(Err(AccessTokenError::Invalid));
        };
        // jsonwebtoken reads `exp` as an unsigned number.
        let Ok(exp) = u64::try_from(claims.exp) else {
            return Some(Err(AccessTokenError::Invalid));
        };
        if exp < jsonwebtoken::get_current_timestamp().saturating_sub(self.leeway_secs) {
            return Some(Err(AccessTokenError::Expired));
        }
        if claims.iss != ISSUER {
            return Some(Err(AccessTokenError::Invalid));
        }
        Some(Ok(claims))
    }

    fn verify_with_jsonwebtoken(&self, token: &str) -> Result<Claims, AccessTokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AccessTokenError::Expired,
                _ => AccessTokenError::Invalid,
            })
    }
}

/// HMAC-SHA256 keyed once at start; each check clones the keyed state instead
/// of absorbing the key again, which is the per-call work jsonwebtoken does.
/// The same MAC as jsonwebtoken's HS256 (the tests check one against the other).
#[derive(Clone)]
struct HmacSha256(Hmac<Sha256>);

impl HmacSha256 {
    fn new(key: &[u8]) -> Self {
        // HMAC takes keys of any length; this never fails.
        Self(<Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length"))
    }

    fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
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
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{header}.{claims}.");

        assert_eq!(
            tokens.verify_access_token(&unsigned),
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn another_hmac_algorithm_is_refused() {
        let tokens = service(900, 5);
        let claims = Claims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            iat: Utc::now().timestamp(),
            exp: Utc::now().timestamp() + 900,
            jti: Uuid::new_v4(),
            iss: ISSUER.to_owned(),
        };
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
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
            let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key).unwrap();
            assert_eq!(
                tokens.verify_access_token(&token),
                Err(AccessTokenError::Invalid),
                "{claims}"
            );
        }
    }

    #[test]
    fn the_fast_path_agrees_with_jsonwebtoken() {
        // Keys shorter than, equal to and longer than SHA-256's block.
        for key in [vec![7; 32], vec![9; 64], vec![3; 100]] {
            let tokens = TokenService::new(
                &Secret::new(key.clone()),
                Duration::from_secs(60),
                Duration::from_secs(5),
            );
            let now = Utc::now();
            for issued in [
                now,
                now - chrono::Duration::seconds(64),
                now - chrono::Duration::seconds(66),
            ] {
                let token = tokens
                    .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), issued)
                    .unwrap();
                assert!(tokens.verify_own_token(&token).is_some(), "{token}");
                assert_eq!(
                    tokens.verify_access_token(&token),
                    tokens.verify_with_jsonwebtoken(&token)
                );
                // A flipped signature character, and the claims of another.
                let mut tampered = token.clone().into_bytes();
                let last = tampered.len() - 2;
                tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
                let tampered = String::from_utf8(tampered).unwrap();
                assert_eq!(
                    tokens.verify_access_token(&tampered),
                    Err(AccessTokenError::Invalid)
                );
                assert_eq!(
                    tokens.verify_with_jsonwebtoken(&tampered),
                    Err(AccessTokenError::Invalid)
                );
            }
            let key = EncodingKey::from_secret(&key);
            let exp = Utc::now().timestamp() + 900;
            for claims in [
                serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": -5, "jti": Uuid::new_v4(), "iss": ISSUER }),
                serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": 10, "jti": Uuid::new_v4(), "iss": "someone-else" }),
                serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4(), "iss": "someone-else" }),
                serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4(), "iss": ISSUER }),
                serde_json::json!({ "sub": "nope", "sid": Uuid::new_v4(), "iat": 0, "exp": 10, "jti": Uuid::new_v4(), "iss": ISSUER }),
            ] {
                let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key).unwrap();
                assert!(tokens.verify_own_token(&token).is_some(), "{claims}");
                assert_eq!(
                    tokens.verify_access_token(&token),
                    tokens.verify_with_jsonwebtoken(&token),
                    "{claims}"
                );
            }
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
