//! Access tokens (short-lived signed JWTs, checked without the database) and
//! refresh tokens (long-lived opaque random strings, of which the server
//! keeps only a hash).
//!
//! Access tokens are signed and checked with the key ring of
//! [`super::keys`]: every token names its key in its header (`kid`), the
//! newest active key signs, and a token is checked with the key its `kid`
//! names, among the ring's keys only, and with that key's one algorithm.
//! Each key's jsonwebtoken keys and validation rules are built once, when
//! the ring is read, not per request.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::keys::{KeyPolicy, KeyStorage, SigningAlg, StoredKey};
use crate::config::{Secret, Settings};
use crate::store::Store;

/// The `iss` of every access token; tokens from anyone else are refused.
pub const ISSUER: &str = "auth-demo";

/// At most one read of the ring per this long because of a token naming a
/// key this process does not know, so that made-up `kid`s cannot make every
/// request read the storage.
const UNKNOWN_KID_RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Tokens of EdDSA keys remembered after their signature checked out, per
/// generation of [`VerifiedTokens`] (so at most twice this many): a token is
/// presented on every request of its 15 minutes, and an Ed25519 check costs
/// about 20 times an HMAC one (see the notes of the key ring).
const VERIFIED_TOKENS_PER_GENERATION: usize = 8192;

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
    /// Malformed, forged, unknown key, wrong algorithm, wrong issuer or
    /// missing claims.
    Invalid,
}

/// One key of the ring, ready to use.
struct RingKey {
    kid: String,
    /// The same, shared with the remembered tokens it verified.
    kid_shared: Arc<str>,
    stored: StoredKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Accepts this key's algorithm only, requires `exp`, `iss` and `sub`.
    validation: Validation,
    /// The public half as a JWK, for an EdDSA key.
    jwk: Option<Jwk>,
}

impl RingKey {
    fn new(stored: StoredKey, leeway: Duration) -> anyhow::Result<Self> {
        let kid = stored.kid();
        let alg = stored.alg.algorithm();
        let (encoding, decoding, jwk) = match stored.alg {
            SigningAlg::Hs256 => (
                EncodingKey::from_secret(stored.secret.expose()),
                DecodingKey::from_secret(stored.secret.expose()),
                None,
            ),
            SigningAlg::EdDsa => {
                let der = stored.ed25519_pkcs8_der().expect("an EdDSA key")?;
                let x = URL_SAFE_NO_PAD.encode(stored.ed25519_public().expect("an EdDSA key"));
                let jwk = Jwk {
                    common: CommonParameters {
                        public_key_use: Some(PublicKeyUse::Signature),
                        key_algorithm: Some(KeyAlgorithm::EdDSA),
                        key_id: Some(kid.clone()),
                        ..CommonParameters::default()
                    },
                    algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                        key_type: OctetKeyPairType::OctetKeyPair,
                        curve: EllipticCurve::Ed25519,
                        x: x.clone(),
                    }),
                };
                (
                    EncodingKey::from_ed_der(&der),
                    DecodingKey::from_ed_components(&x)?,
                    Some(jwk),
                )
            }
        };
        let mut validation = Validation::new(alg);
        // jsonwebtoken's defaults are looser: 60 s of leeway and only `exp`
        // required.
        validation.leeway = leeway.as_secs();
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Ok(Self {
            kid_shared: Arc::from(kid.as_str()),
            kid,
            stored,
            encoding,
            decoding,
            validation,
            jwk,
        })
    }
}

/// The keys that verify now, one of which signs.
struct Ring {
    /// Oldest first.
    keys: Vec<RingKey>,
    /// The same keys as stored, for the policy to choose among.
    stored: Vec<StoredKey>,
    policy: KeyPolicy,
    /// The public keys of the EdDSA keys, as served.
    jwks: Arc<JwkSet>,
    /// Whether any key is EdDSA (only their tokens are remembered).
    has_eddsa: bool,
}

impl Ring {
    /// The ring of the keys of `stored` that still verify at `now`.
    fn build(
        stored: Vec<StoredKey>,
        policy: KeyPolicy,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for key in &stored {
            if policy.still_verifies(key, &stored, now) {
                keys.push(RingKey::new(key.clone(), policy.leeway)?);
            }
        }
        if keys.is_empty() {
            anyhow::bail!("the signing key ring is empty");
        }
        keys.sort_by_key(|key| key.stored.generation);
        let stored = keys.iter().map(|key| key.stored.clone()).collect();
        let jwks = Arc::new(JwkSet {
            keys: keys.iter().filter_map(|key| key.jwk.clone()).collect(),
        });
        let has_eddsa = keys.iter().any(|key| key.stored.alg == SigningAlg::EdDsa);
        Ok(Self {
            keys,
            stored,
            policy,
            jwks,
            has_eddsa,
        })
    }

    fn find(&self, kid: &str) -> Option<&RingKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    fn signing(&self, now: DateTime<Utc>) -> &RingKey {
        let generation = self
            .policy
            .signing_key(&self.stored, now)
            .expect("a ring is never empty")
            .generation;
        self.keys
            .iter()
            .find(|key| key.stored.generation == generation)
            .expect("chosen among the ring's keys")
    }
}

/// Access tokens whose signature and claims have been checked, by the whole
/// token, with their claims and key: a repeated EdDSA token then costs a
/// map lookup instead of a signature check. `exp` is compared on every hit,
/// so an expired token is `Expired` as it would be without the cache, and a
/// token whose key has left the ring is not accepted. Revocation is checked
/// after this by the caller, as for any token.
///
/// Hand-written rather than a cache crate: two hash maps, the newer one
/// filled until it holds [`VERIFIED_TOKENS_PER_GENERATION`], then made the
/// older one (the oldest dropped whole). A hit in the older map moves the
/// token to the newer. Bounded, O(1), and roughly least recently used, which
/// is all tokens that live 15 minutes need; 40 lines instead of a dependency.
#[derive(Default)]
struct VerifiedTokens {
    maps: std::sync::Mutex<Generations>,
}

/// The newer map, then the older; each from a whole token to its claims
/// and the `kid` of the key that verified it.
type Generations = [std::collections::HashMap<String, (Claims, Arc<str>)>; 2];

impl VerifiedTokens {
    /// The claims and key id of `token` if it was verified before.
    fn get(&self, token: &str) -> Option<(Claims, Arc<str>)> {
        let mut maps = self.lock();
        if let Some(hit) = maps[0].get(token) {
            return Some(hit.clone());
        }
        let (token, hit) = maps[1].remove_entry(token)?;
        Self::put(&mut maps, token, hit.clone());
        Some(hit)
    }

    fn insert(&self, token: &str, claims: Claims, kid: Arc<str>) {
        let mut maps = self.lock();
        Self::put(&mut maps, token.to_owned(), (claims, kid));
    }

    fn put(maps: &mut Generations, token: String, entry: (Claims, Arc<str>)) {
        if maps[0].len() >= VERIFIED_TOKENS_PER_GENERATION {
            maps[1] = std::mem::take(&mut maps[0]);
        }
        maps[0].insert(token, entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // Nothing panics while the lock is held: a poisoned lock still
        // holds whole maps.
        self.maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Mints and checks access tokens with the key ring, through jsonwebtoken
/// alone. Shared by every request (`Arc`); the ring is replaced whole when
/// it is read again.
pub struct TokenService {
    ring: RwLock<Arc<Ring>>,
    /// Where the ring is read from again; `None` for a configured key.
    storage: Option<KeyStorage>,
    access_ttl: Duration,
    /// When the ring was last read because of an unknown `kid`; the lock
    /// makes concurrent reloads one.
    unknown_kid_reload: tokio::sync::Mutex<Option<Instant>>,
    /// EdDSA tokens already verified (HMAC ones cost less to check again
    /// than to look up).
    verified: VerifiedTokens,
    /// `TOKEN_LEEWAY_SECS`, for the `exp` check of a remembered token.
    leeway: Duration,
}

impl TokenService {
    /// A ring of one configured HMAC key (`JWT_SECRET`), which never changes.
    pub fn new(secret: &Secret, access_ttl: Duration, leeway: Duration) -> Self {
        let policy = KeyPolicy {
            reload_every: Duration::from_secs(60),
            access_ttl,
            leeway,
        };
        let key = StoredKey {
            generation: 1,
            alg: SigningAlg::Hs256,
            secret: secret.clone(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let ring = Ring::build(vec![key], policy, Utc::now()).expect("an HMAC key always builds");
        Self::with_ring(ring, None, access_ttl, leeway)
    }

    /// The ring of `keys` kept in `storage`, read again from there.
    pub fn from_keys(
        keys: Vec<StoredKey>,
        storage: KeyStorage,
        policy: KeyPolicy,
    ) -> anyhow::Result<Self> {
        let ring = Ring::build(keys, policy, Utc::now())?;
        Ok(Self::with_ring(
            ring,
            Some(storage),
            policy.access_ttl,
            policy.leeway,
        ))
    }

    /// The server's tokens as the settings say: the configured key, or the
    /// ring of the storage (created with a first key of `SIGNING_ALG` if
    /// empty). `store` is the server's own, if open.
    pub async fn open(settings: &Settings, store: Option<&Store>) -> anyhow::Result<Self> {
        if let Some(secret) = &settings.jwt_secret {
            return Ok(Self::new(
                secret,
                settings.access_token_ttl,
                settings.token_leeway,
            ));
        }
        let storage = KeyStorage::for_settings(settings, store).await?;
        let keys = storage
            .load_or_init(settings.signing_alg, Utc::now())
            .await?;
        let tokens = Self::from_keys(keys, storage, KeyPolicy::from_settings(settings))?;
        let ring = tokens.current();
        let signing = ring.signing(Utc::now());
        tracing::info!(kid = %signing.kid, alg = signing.stored.alg.name(), keys = ring.keys.len(), "signing key ring read");
        if signing.stored.alg != settings.signing_alg {
            tracing::warn!(
                "SIGNING_ALG is {} but the signing key is {}: run `server keys rotate` to add a {} key",
                settings.signing_alg.name(),
                signing.stored.alg.name(),
                settings.signing_alg.name(),
            );
        }
        Ok(tokens)
    }

    fn with_ring(
        ring: Ring,
        storage: Option<KeyStorage>,
        access_ttl: Duration,
        leeway: Duration,
    ) -> Self {
        Self {
            ring: RwLock::new(Arc::new(ring)),
            storage,
            access_ttl,
            unknown_kid_reload: tokio::sync::Mutex::new(None),
            verified: VerifiedTokens::default(),
            leeway,
        }
    }

    fn current(&self) -> Arc<Ring> {
        // Nothing panics while the lock is held, so a poisoned lock still
        // holds a whole ring.
        Arc::clone(
            &self
                .ring
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Mints an access token for one session of one user, signed with the
    /// key that signs at `now`.
    pub fn issue_access_token(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let ring = self.current();
        let key = ring.signing(now);
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
            kid: Some(key.kid.clone()),
            ..Header::new(key.stored.alg.algorithm())
        };
        Ok(jsonwebtoken::encode(&header, &claims, &key.encoding)?)
    }

    /// Checks the key id (one of the ring's), the algorithm (that key's
    /// own), the signature, the issuer and the expiry. jsonwebtoken checks
    /// the signature before the claims, so `Expired` implies a good
    /// signature. A `kid` this process does not know makes it read the ring
    /// again (at most once a second, one read for all who wait), so a key
    /// added by another instance is known at once.
    pub async fn verify_access_token(&self, token: &str) -> Result<Claims, AccessTokenError> {
        let mut ring = self.current();
        if ring.has_eddsa
            && let Some((claims, kid)) = self.verified.get(token)
            && ring.find(&kid).is_some()
        {
            // As jsonwebtoken judges `exp`, with the same leeway.
            let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
            if claims.exp < Utc::now().timestamp().saturating_sub(leeway) {
                return Err(AccessTokenError::Expired);
            }
            return Ok(claims);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessTokenError::Invalid)?;
        let kid = header.kid.as_deref().ok_or(AccessTokenError::Invalid)?;
        if ring.find(kid).is_none() {
            self.reload_for_unknown_kid(kid).await;
            ring = self.current();
        }
        let key = ring.find(kid).ok_or(AccessTokenError::Invalid)?;
        // jsonwebtoken refuses it too (the validation allows this one
        // algorithm); said here so no other key is ever tried.
        if header.alg != key.stored.alg.algorithm() {
            return Err(AccessTokenError::Invalid);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AccessTokenError::Expired,
                _ => AccessTokenError::Invalid,
            })?;
        if key.stored.alg == SigningAlg::EdDsa {
            self.verified
                .insert(token, claims.clone(), Arc::clone(&key.kid_shared));
        }
        Ok(claims)
    }

    async fn reload_for_unknown_kid(&self, kid: &str) {
        if self.storage.is_none() {
            return;
        }
        let mut last = self.unknown_kid_reload.lock().await;
        // Someone who held the lock before may have read it in.
        if self.current().find(kid).is_some()
            || last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_RELOAD_EVERY)
        {
            return;
        }
        *last = Some(Instant::now());
        if let Err(error) = self.reload().await {
            tracing::warn!(error = ?error, "could not read the signing keys again");
        }
    }

    /// Reads the ring again from its storage (nothing for a configured key).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let Some(storage) = &self.storage else {
            return Ok(());
        };
        let keys = storage.load().await?;
        let now = Utc::now();
        let old = self.current();
        let ring = Ring::build(keys, old.policy, now)?;
        let (before, after) = (&old.signing(now).kid, &ring.signing(now).kid);
        if before != after {
            tracing::info!(kid = %after, "now signing with a new key");
        }
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
        Ok(())
    }

    /// Reads the ring again every `KEY_RELOAD_SECS`, so that this process
    /// starts signing with a key another process added; `None` for a
    /// configured key.
    pub fn spawn_reloader(self: &Arc<Self>) -> Option<JoinHandle<()>> {
        self.storage.as_ref()?;
        let tokens = Arc::clone(self);
        let every = self.current().policy.reload_every;
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(error) = tokens.reload().await {
                    tracing::warn!(error = ?error, "could not read the signing keys again; keeping the ring as it was");
                }
            }
        }))
    }

    /// The public keys that verify tokens (the EdDSA keys of the ring;
    /// none for HMAC keys, whose secret is never published).
    pub fn jwks(&self) -> Arc<JwkSet> {
        Arc::clone(&self.current().jwks)
    }

    /// The `kid` of the key that signs at `now`.
    pub fn signing_kid(&self, now: DateTime<Utc>) -> String {
        self.current().signing(now).kid.clone()
    }

    /// How often the ring is read again (`KEY_RELOAD_SECS`).
    pub fn reload_every(&self) -> Duration {
        self.current().policy.reload_every
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
    use jsonwebtoken::Algorithm;

    use super::*;
    use crate::auth::keys::{hmac_key_id, rotate};

    /// The header of our tokens with another algorithm, so that a test
    /// gets past the key id to what it is about.
    fn our_header(algorithm: Algorithm) -> Header {
        Header {
            kid: Some(hmac_key_id(&Secret::new(vec![7; 32]))),
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

    #[tokio::test]
    async fn a_fresh_token_verifies_to_its_claims() {
        // Arrange
        let tokens = service(900, 5);
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());

        // Act
        let token = tokens
            .issue_access_token(user, session, Utc::now())
            .unwrap();
        let claims = tokens.verify_access_token(&token).await.unwrap();

        // Assert
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.iss, ISSUER);
    }

    #[tokio::test]
    async fn an_expired_token_is_expired_not_invalid() {
        let tokens = service(60, 5);
        let long_ago = Utc::now() - chrono::Duration::seconds(120);
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), long_ago)
            .unwrap();

        assert_eq!(
            tokens.verify_access_token(&token).await,
            Err(AccessTokenError::Expired)
        );
    }

    #[tokio::test]
    async fn the_leeway_tolerates_a_token_just_past_its_expiry() {
        let tokens = service(60, 30);
        let just_past = Utc::now() - chrono::Duration::seconds(70);
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), just_past)
            .unwrap();

        assert!(tokens.verify_access_token(&token).await.is_ok());
    }

    #[tokio::test]
    async fn a_token_signed_with_another_key_is_invalid_even_when_expired() {
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
            service(900, 5).verify_access_token(&forged).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn an_unsigned_token_is_invalid() {
        // {"alg":"none"} with the claims of a real token and no signature.
        let tokens = service(900, 5);
        let real = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();
        let claims = real.split('.').nth(1).unwrap();
        let kid = hmac_key_id(&Secret::new(vec![7; 32]));
        let header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        let unsigned = format!("{header}.{claims}.");

        assert_eq!(
            tokens.verify_access_token(&unsigned).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn another_hmac_algorithm_is_refused() {
        let tokens = service(900, 5);
        let claims = fresh_claims();
        let hs512 = jsonwebtoken::encode(
            &our_header(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&[7; 32]),
        )
        .unwrap();

        assert_eq!(
            tokens.verify_access_token(&hs512).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn a_token_without_issuer_or_subject_is_invalid() {
        let tokens = service(900, 5);
        let key = EncodingKey::from_secret(&[7; 32]);
        let exp = Utc::now().timestamp() + 900;
        for claims in [
            serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4() }),
            serde_json::json!({ "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4(), "iss": ISSUER }),
            serde_json::json!({ "sub": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": 0, "exp": exp, "jti": Uuid::new_v4(), "iss": "someone-else" }),
        ] {
            let token = jsonwebtoken::encode(&our_header(Algorithm::HS256), &claims, &key).unwrap();
            assert_eq!(
                tokens.verify_access_token(&token).await,
                Err(AccessTokenError::Invalid),
                "{claims}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_names_its_key_and_carries_every_claim_of_the_contract() {
        let tokens = service(900, 5);
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();

        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid, Some(hmac_key_id(&Secret::new(vec![7; 32]))));
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload).unwrap();
        for claim in ["sub", "sid", "iat", "exp", "jti", "iss"] {
            assert!(claims.contains_key(claim), "{claim} missing");
        }
    }

    #[tokio::test]
    async fn a_token_without_our_key_id_is_invalid_even_when_well_signed() {
        let tokens = service(900, 5);
        let key = EncodingKey::from_secret(&[7; 32]);
        let claims = fresh_claims();
        for kid in [None, Some("another key".to_owned())] {
            let header = Header {
                kid,
                ..Header::new(Algorithm::HS256)
            };
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();

            assert_eq!(
                tokens.verify_access_token(&token).await,
                Err(AccessTokenError::Invalid)
            );
        }
    }

    #[tokio::test]
    async fn garbage_is_invalid() {
        let tokens = service(900, 5);
        for token in ["", "abc", "a.b.c", "😀.😀.😀"] {
            assert_eq!(
                tokens.verify_access_token(token).await,
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

    /// The ring's times as the defaults make them: 60 s reloads, 900 s tokens.
    fn policy() -> KeyPolicy {
        KeyPolicy {
            reload_every: Duration::from_secs(60),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(5),
        }
    }

    fn key(generation: i64, alg: SigningAlg, created_at: DateTime<Utc>) -> StoredKey {
        StoredKey::generate(generation, alg, created_at).unwrap()
    }

    /// A ring over `keys`, kept in a folder of its own (so that it can be
    /// read again).
    async fn ring_of(keys: &[StoredKey]) -> (TokenService, KeyStorage, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let storage = KeyStorage::Folder(dir.path().to_owned());
        for key in keys {
            assert!(storage.insert(key).await.unwrap());
        }
        let tokens = TokenService::from_keys(keys.to_vec(), storage.clone(), policy()).unwrap();
        (tokens, storage, dir)
    }

    fn header_of(token: &str) -> Header {
        jsonwebtoken::decode_header(token).unwrap()
    }

    #[tokio::test]
    async fn the_newest_active_key_signs_and_each_token_names_it() {
        // Arrange: an old key, and a newer one whose activation delay has
        // passed, and a newest one just added.
        let now = Utc::now();
        let delay = policy().activation_delay();
        let old = key(1, SigningAlg::Hs256, now - chrono::Duration::days(1));
        let active = key(
            2,
            SigningAlg::EdDsa,
            now - delay - chrono::Duration::seconds(1),
        );
        let pending = key(3, SigningAlg::Hs256, now);
        let (tokens, _storage, _dir) =
            ring_of(&[old.clone(), active.clone(), pending.clone()]).await;

        // Act
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), now)
            .unwrap();

        // Assert
        let header = header_of(&token);
        assert_eq!(header.kid, Some(active.kid()));
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert!(tokens.verify_access_token(&token).await.is_ok());
        assert_eq!(
            tokens.signing_kid(now + delay),
            pending.kid(),
            "the newest signs once active"
        );
    }

    #[tokio::test]
    async fn a_new_ring_signs_with_its_first_key_at_once() {
        let now = Utc::now();
        let first = key(1, SigningAlg::EdDsa, now);
        let (tokens, _storage, _dir) = ring_of(std::slice::from_ref(&first)).await;

        assert_eq!(tokens.signing_kid(now), first.kid());
    }

    #[tokio::test]
    async fn every_key_of_the_ring_verifies_its_own_tokens_only() {
        let now = Utc::now();
        // Key 2 has just become active: key 1 still verifies.
        let hs = key(1, SigningAlg::Hs256, now - chrono::Duration::hours(1));
        let ed = key(2, SigningAlg::EdDsa, now - policy().activation_delay());
        let (tokens, _storage, _dir) = ring_of(&[hs.clone(), ed.clone()]).await;
        let (only_hs, _s1, _d1) = ring_of(std::slice::from_ref(&hs)).await;
        let (only_ed, _s2, _d2) = ring_of(std::slice::from_ref(&ed)).await;
        let by_hs = only_hs
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), now)
            .unwrap();
        let by_ed = only_ed
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), now)
            .unwrap();

        assert!(tokens.verify_access_token(&by_hs).await.is_ok());
        assert!(tokens.verify_access_token(&by_ed).await.is_ok());
        // Another ring's key, even of the same algorithm, is unknown here.
        assert_eq!(
            only_hs.verify_access_token(&by_ed).await,
            Err(AccessTokenError::Invalid)
        );
        // A token naming one key but signed by another is refused.
        let h = by_hs.split('.').next().unwrap();
        let c = by_ed.split('.').nth(1).unwrap();
        let sig = by_ed.split('.').nth(2).unwrap();
        assert_eq!(
            tokens.verify_access_token(&format!("{h}.{c}.{sig}")).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn a_token_of_an_unknown_key_is_refused() {
        let now = Utc::now();
        let (tokens, _storage, _dir) = ring_of(&[key(1, SigningAlg::EdDsa, now)]).await;
        let (stranger, _s, _d) = ring_of(&[key(1, SigningAlg::EdDsa, now)]).await;
        let token = stranger
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), now)
            .unwrap();

        assert_eq!(
            tokens.verify_access_token(&token).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn an_hs256_token_keyed_with_our_eddsa_public_key_is_refused() {
        // The classic confusion: a verifier that lets the header pick the
        // algorithm would check this HMAC with the public key as secret.
        let ed = key(1, SigningAlg::EdDsa, Utc::now());
        let (tokens, _storage, _dir) = ring_of(std::slice::from_ref(&ed)).await;
        let public = ed.ed25519_public().unwrap();
        let x = URL_SAFE_NO_PAD.encode(public);
        let header = Header {
            kid: Some(ed.kid()),
            ..Header::new(Algorithm::HS256)
        };
        for secret in [&public[..], x.as_bytes()] {
            let forged =
                jsonwebtoken::encode(&header, &fresh_claims(), &EncodingKey::from_secret(secret))
                    .unwrap();

            assert_eq!(
                tokens.verify_access_token(&forged).await,
                Err(AccessTokenError::Invalid)
            );
        }
    }

    #[tokio::test]
    async fn an_eddsa_token_is_refused_by_an_hmac_key_of_the_same_kid() {
        let hs = key(1, SigningAlg::Hs256, Utc::now());
        let ed = key(1, SigningAlg::EdDsa, Utc::now());
        let (tokens, _storage, _dir) = ring_of(std::slice::from_ref(&hs)).await;
        let header = Header {
            kid: Some(hs.kid()),
            ..Header::new(Algorithm::EdDSA)
        };
        let der = ed.ed25519_pkcs8_der().unwrap().unwrap();
        let forged =
            jsonwebtoken::encode(&header, &fresh_claims(), &EncodingKey::from_ed_der(&der))
                .unwrap();

        assert_eq!(
            tokens.verify_access_token(&forged).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn an_old_key_verifies_until_every_token_it_signed_has_expired_then_not() {
        // Arrange: key 1 signed until key 2 became active.
        let policy = policy();
        let t0 = Utc::now() - chrono::Duration::days(1);
        let old = key(1, SigningAlg::Hs256, t0);
        let new = key(2, SigningAlg::Hs256, t0 + chrono::Duration::hours(1));
        let superseded = new.created_at + policy.activation_delay();
        let keys = [old.clone(), new.clone()];
        // The last token key 1 signed, by an instance a reload period late.
        let last_signed = superseded + chrono::Duration::from_std(policy.reload_every).unwrap();
        let last_valid =
            last_signed + chrono::Duration::from_std(policy.access_ttl + policy.leeway).unwrap();

        // Act / Assert: it verifies while that token may be presented...
        assert!(policy.still_verifies(&old, &keys, last_valid - chrono::Duration::seconds(1)));
        // ... and not once it has expired; the newest key always does.
        assert!(!policy.still_verifies(&old, &keys, last_valid + chrono::Duration::seconds(1)));
        assert!(policy.still_verifies(&new, &keys, last_valid + chrono::Duration::days(365)));

        // Through the service: a token of the old key is accepted after the
        // rotation, while the ring still holds it...
        let now = Utc::now();
        let recent = [
            old.clone(),
            StoredKey {
                created_at: now - policy.activation_delay(),
                ..new.clone()
            },
        ];
        let (tokens, _s, _d) = ring_of(&recent).await;
        let (old_only, _s2, _d2) = ring_of(std::slice::from_ref(&old)).await;
        let token = old_only
            .issue_access_token(
                Uuid::new_v4(),
                Uuid::new_v4(),
                now - chrono::Duration::seconds(10),
            )
            .unwrap();
        assert!(tokens.verify_access_token(&token).await.is_ok());
        assert_eq!(tokens.signing_kid(now), new.kid());
        // ... and refused once the ring has dropped it.
        let (later, _s3, _d3) = ring_of(&keys).await;
        assert_eq!(
            later.verify_access_token(&token).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn a_key_added_elsewhere_is_read_in_on_its_first_token() {
        // Arrange: two instances on one ring; one rotates and reads it in.
        let policy = policy();
        let first = key(
            1,
            SigningAlg::Hs256,
            Utc::now() - chrono::Duration::hours(1),
        );
        let (a, storage, _dir) = ring_of(std::slice::from_ref(&first)).await;
        let b = TokenService::from_keys(vec![first.clone()], storage.clone(), policy).unwrap();
        // Passed the activation delay already, so that it signs at once.
        let rotation = rotate(
            &storage,
            SigningAlg::EdDsa,
            &policy,
            Utc::now() - policy.activation_delay(),
        )
        .await
        .unwrap();
        b.reload().await.unwrap();

        // Act
        let token = b
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();

        // Assert
        assert_eq!(header_of(&token).kid, Some(rotation.added.clone()));
        assert!(
            a.verify_access_token(&token).await.is_ok(),
            "read in on the unknown kid"
        );
        assert_eq!(a.signing_kid(Utc::now()), rotation.added);
    }

    #[tokio::test]
    async fn the_jwks_lists_the_eddsa_keys_and_no_hmac_key() {
        let now = Utc::now();
        let hs = key(1, SigningAlg::Hs256, now - chrono::Duration::hours(1));
        let ed = key(2, SigningAlg::EdDsa, now - policy().activation_delay());
        let (tokens, _storage, _dir) = ring_of(&[hs.clone(), ed.clone()]).await;
        let (hmac_only, _s, _d) = ring_of(std::slice::from_ref(&hs)).await;

        let jwks = serde_json::to_value(tokens.jwks().as_ref()).unwrap();

        assert_eq!(
            jwks,
            serde_json::json!({ "keys": [{
                "kid": ed.kid(),
                "kty": "OKP",
                "alg": "EdDSA",
                "use": "sig",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(ed.ed25519_public().unwrap()),
            }] })
        );
        assert_eq!(
            serde_json::to_value(hmac_only.jwks().as_ref()).unwrap(),
            serde_json::json!({ "keys": [] })
        );
        // What another service would do with it.
        let set: JwkSet = serde_json::from_value(jwks).unwrap();
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), now)
            .unwrap();
        let jwk = set.find(&header_of(&token).kid.unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        assert!(
            jsonwebtoken::decode::<Claims>(
                &token,
                &DecodingKey::from_jwk(jwk).unwrap(),
                &validation
            )
            .is_ok()
        );
    }

    #[test]
    fn no_secret_reaches_a_debug_line() {
        let ed = key(1, SigningAlg::EdDsa, Utc::now());
        let printed = format!("{ed:?}");
        assert!(!printed.contains(&format!("{:?}", ed.secret.expose())));
        assert!(printed.contains("redacted"));
    }

    #[tokio::test]
    async fn a_remembered_eddsa_token_is_expired_once_its_exp_has_passed() {
        // Arrange: a good token, checked once, then remembered with an
        // `exp` in the past (time passed in, rather than waited for).
        let ed = key(1, SigningAlg::EdDsa, Utc::now());
        let (tokens, _storage, _dir) = ring_of(std::slice::from_ref(&ed)).await;
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();
        let claims = tokens.verify_access_token(&token).await.unwrap();
        let (_, kid) = tokens.verified.get(&token).expect("remembered");
        let past = Claims {
            exp: Utc::now().timestamp() - 6,
            ..claims
        };
        tokens.verified.insert(&token, past, kid);

        // Act
        let verified = tokens.verify_access_token(&token).await;

        // Assert: only the remembered claims can say so (the token itself
        // is fresh).
        assert_eq!(verified, Err(AccessTokenError::Expired));
    }

    #[tokio::test]
    async fn a_remembered_token_whose_key_left_the_ring_is_refused() {
        let now = Utc::now();
        let ed = key(1, SigningAlg::EdDsa, now);
        let (tokens, storage, _dir) = ring_of(std::slice::from_ref(&ed)).await;
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), now)
            .unwrap();
        assert!(tokens.verify_access_token(&token).await.is_ok());
        storage
            .insert(&key(2, SigningAlg::EdDsa, now - chrono::Duration::days(1)))
            .await
            .unwrap();
        storage.delete(&[1]).await.unwrap();
        tokens.reload().await.unwrap();

        assert_eq!(
            tokens.verify_access_token(&token).await,
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn the_remembered_tokens_stay_bounded() {
        let verified = VerifiedTokens::default();
        let claims = fresh_claims();
        for i in 0..3 * VERIFIED_TOKENS_PER_GENERATION {
            verified.insert(&format!("token {i}"), claims.clone(), Arc::from("kid"));
        }
        // The first token is found again after a use, the newest too.
        let len =
            |verified: &VerifiedTokens| verified.lock().iter().map(|m| m.len()).sum::<usize>();
        assert!(len(&verified) <= 2 * VERIFIED_TOKENS_PER_GENERATION);
        assert!(verified.get("token 0").is_none());
        let newest = format!("token {}", 3 * VERIFIED_TOKENS_PER_GENERATION - 1);
        assert!(verified.get(&newest).is_some());
    }

    #[tokio::test]
    async fn hmac_tokens_are_checked_every_time_not_remembered() {
        let (tokens, _storage, _dir) = ring_of(&[key(1, SigningAlg::Hs256, Utc::now())]).await;
        let token = tokens
            .issue_access_token(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap();

        assert!(tokens.verify_access_token(&token).await.is_ok());

        assert!(tokens.verified.get(&token).is_none());
    }
}
