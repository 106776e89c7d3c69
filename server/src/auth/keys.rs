//! The signing keys of the access tokens: a ring of keys, each with its
//! place (`generation`), algorithm and creation time, kept where every
//! instance of the server finds them: files in the data folder with SQLite,
//! the `signing_keys` table with PostgreSQL. A configured `JWT_SECRET` is a
//! ring of that one key and is never written anywhere.
//!
//! The newest *active* key signs; a key becomes active
//! [`KeyPolicy::activation_delay`] after it was added, so that every
//! instance (each re-reads the ring every `KEY_RELOAD_SECS`) and every
//! service caching our JWKS knows it before any token signed with it
//! arrives. An older key only verifies, until every token it could have
//! signed has expired: [`KeyPolicy::retire_after`] after its successor
//! became active, a margin that covers an instance that learned of the
//! successor late. Then `server keys rotate` deletes it.
//!
//! A key file is written whole to a temporary file of its own, synced, and
//! only then hard-linked to its name, which fails if the name exists: a
//! crash leaves at most a stray temporary file, never a partial key, and of
//! two processes adding the same generation at once exactly one key wins.
//! The database does the same with `on conflict do nothing` on the
//! generation.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{DatabaseUrl, Secret, Settings};
use crate::store::{PostgresStore, Store, StoredSigningKey};

/// 512 bits: HS256 hashes keys longer than its 64-byte block, so more would
/// add nothing.
const GENERATED_HMAC_KEY_BYTES: usize = 64;

/// An Ed25519 private key is its 32-byte seed.
const ED25519_SEED_BYTES: usize = 32;

/// The file of the one key the server kept before the ring existed. It is
/// read as generation 0, so tokens signed with it stay valid after an
/// upgrade, and deleted by `server keys rotate` like any retired key.
const LEGACY_KEY_FILE: &str = "jwt_secret";

/// The folder (inside the data folder) of the ring's key files.
const KEY_FOLDER: &str = "signing_keys";

/// The secret behind the device cookie's MAC. It is not a signing key and is
/// never rotated, so that rotating the ring does not forget every device.
pub const DEVICE_SECRET: &str = "device_key";

/// The algorithm of new signing keys (`SIGNING_ALG`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    /// HMAC-SHA256: the default and the fastest; verifying needs the
    /// secret, so nothing is published.
    #[default]
    #[serde(rename = "HS256")]
    Hs256,
    /// Ed25519 signatures: other services can verify tokens with the
    /// public keys of `/.well-known/jwks.json`.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// `HS256` or `EdDSA`, as in a token's header (and, for the
    /// configuration, in any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "hs256" => Some(Self::Hs256),
            "eddsa" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The name of the JOSE algorithm: `HS256` or `EdDSA`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// One key of the ring as stored. `Debug` never shows the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Its place in the ring: the newest active key signs. Generation 0 is
    /// the key file of before the ring.
    pub generation: i64,
    pub alg: SigningAlg,
    /// The HMAC key, or the Ed25519 seed.
    pub secret: Secret,
    /// When it was added; it starts signing `activation_delay` later.
    pub created_at: DateTime<Utc>,
}

impl StoredKey {
    /// A new random key of `alg`.
    pub fn generate(
        generation: i64,
        alg: SigningAlg,
        created_at: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let mut bytes = vec![
            0u8;
            match alg {
                SigningAlg::Hs256 => GENERATED_HMAC_KEY_BYTES,
                SigningAlg::EdDsa => ED25519_SEED_BYTES,
            }
        ];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
        Ok(Self {
            generation,
            alg,
            secret: Secret::new(bytes),
            created_at,
        })
    }

    /// A key read back from storage, checked: an HMAC key must not be weak,
    /// an Ed25519 seed must be 32 bytes. `origin` names where it came from.
    fn checked(self, origin: &str) -> anyhow::Result<Self> {
        match self.alg {
            SigningAlg::Hs256 => {
                if let Some(why) = self.secret.weakness() {
                    bail!(
                        "the signing key {origin} is too weak ({why}); it may be partial or made \
                         by hand. Delete it to have a new one made (everyone will have to sign in \
                         again)"
                    );
                }
            }
            SigningAlg::EdDsa => {
                if self.secret.expose().len() != ED25519_SEED_BYTES {
                    bail!(
                        "the signing key {origin} is not an Ed25519 key (it has {} bytes, not \
                         {ED25519_SEED_BYTES}); it may be partial or made by hand",
                        self.secret.expose().len()
                    );
                }
            }
        }
        Ok(self)
    }

    /// The key's public name, in every token it signs: the start of the
    /// SHA-256 of the HMAC key or of the Ed25519 public key, which says
    /// nothing a token does not already.
    pub fn kid(&self) -> String {
        match self.alg {
            SigningAlg::Hs256 => hmac_key_id(&self.secret),
            SigningAlg::EdDsa => {
                let public = self.ed25519_public().expect("checked when read");
                URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12])
            }
        }
    }

    /// The Ed25519 signing key (for jsonwebtoken, as PKCS#8 DER) and its
    /// public half; `None` for an HMAC key.
    pub fn ed25519_pkcs8_der(&self) -> Option<anyhow::Result<Vec<u8>>> {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let signing = self.ed25519_signing_key()?;
        Some(
            signing
                .to_pkcs8_der()
                .map(|der| der.as_bytes().to_vec())
                .map_err(|e| anyhow::anyhow!("encoding an Ed25519 key: {e}")),
        )
    }

    /// The Ed25519 public key; `None` for an HMAC key.
    pub fn ed25519_public(&self) -> Option<[u8; 32]> {
        Some(self.ed25519_signing_key()?.verifying_key().to_bytes())
    }

    fn ed25519_signing_key(&self) -> Option<ed25519_dalek::SigningKey> {
        if self.alg != SigningAlg::EdDsa {
            return None;
        }
        let seed: &[u8; ED25519_SEED_BYTES] = self.secret.expose().try_into().ok()?;
        Some(ed25519_dalek::SigningKey::from_bytes(seed))
    }
}

/// The kid of an HMAC key (a configured `JWT_SECRET` included): unchanged
/// from before the ring, so tokens of the old key file keep verifying.
pub fn hmac_key_id(secret: &Secret) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(secret.expose())[..12])
}

/// The times that govern the ring, from the settings. Every instance and
/// `server keys rotate` must compute them alike, so they derive from
/// settings all of them share (`KEY_RELOAD_SECS`, `ACCESS_TOKEN_TTL_SECS`,
/// `TOKEN_LEEWAY_SECS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How often each instance re-reads the ring (`KEY_RELOAD_SECS`).
    pub reload_every: Duration,
    pub access_ttl: Duration,
    pub leeway: Duration,
}

impl KeyPolicy {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            reload_every: settings.key_reload_interval,
            access_ttl: settings.access_token_ttl,
            leeway: settings.token_leeway,
        }
    }

    /// How long after it is added a key starts signing: two reload periods,
    /// so every instance has read it (one period, plus one for a slow or
    /// failed read) and every JWKS cache (`max-age` one period) has been
    /// refreshed before the first token signed with it exists.
    pub fn activation_delay(&self) -> chrono::Duration {
        to_chrono(self.reload_every * 2)
    }

    /// How long after its successor became active a key still verifies:
    /// the last token it signed may have been signed then (or one reload
    /// period later, by an instance that learned of the successor late, or
    /// whose clock is behind) and lives for the token lifetime plus the
    /// leeway.
    pub fn retire_after(&self) -> chrono::Duration {
        to_chrono(self.access_ttl + self.leeway + self.reload_every)
    }

    /// Of `keys` (any order), the one that signs at `now`: the newest
    /// active one, or the oldest if none is active yet (a new ring's first
    /// key signs at once).
    pub fn signing_key<'a>(
        &self,
        keys: &'a [StoredKey],
        now: DateTime<Utc>,
    ) -> Option<&'a StoredKey> {
        let delay = self.activation_delay();
        keys.iter()
            .filter(|key| key.created_at + delay <= now)
            .max_by_key(|key| key.generation)
            .or_else(|| keys.iter().min_by_key(|key| key.generation))
    }

    /// Whether `key` of `keys` still verifies at `now`: it signs, or may
    /// have signed a token that has not expired yet.
    pub fn still_verifies(&self, key: &StoredKey, keys: &[StoredKey], now: DateTime<Utc>) -> bool {
        let delay = self.activation_delay();
        // It stopped signing when the first newer key became active.
        let superseded = keys
            .iter()
            .filter(|other| other.generation > key.generation)
            .map(|other| other.created_at + delay)
            .min();
        match superseded {
            None => true,
            // It never signs again, and its last tokens expire within the margin.
            Some(superseded) => now < superseded + self.retire_after(),
        }
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Where the ring lives.
#[derive(Clone)]
pub enum KeyStorage {
    /// One file per key in the data folder (with SQLite: one machine).
    Folder(PathBuf),
    /// The `signing_keys` table (with PostgreSQL: shared by every instance).
    Database(PostgresStore),
}

impl KeyStorage {
    /// The storage the settings name: the database with PostgreSQL, the
    /// data folder otherwise. `store` is the server's own, if it has one
    /// open already.
    pub async fn for_settings(settings: &Settings, store: Option<&Store>) -> anyhow::Result<Self> {
        Ok(match &settings.database_url {
            DatabaseUrl::Sqlite(_) => Self::Folder(settings.data_dir.clone()),
            DatabaseUrl::Postgres(url) => Self::Database(match store.and_then(Store::postgres) {
                Some(shared) => shared.clone(),
                None => PostgresStore::connect(url).await?,
            }),
        })
    }

    /// Every key stored, oldest first.
    pub async fn load(&self) -> anyhow::Result<Vec<StoredKey>> {
        let mut keys = match self {
            Self::Folder(data_dir) => {
                let data_dir = data_dir.clone();
                tokio::task::spawn_blocking(move || load_folder(&data_dir)).await??
            }
            Self::Database(store) => {
                let mut keys = Vec::new();
                for row in store.signing_keys().await? {
                    let origin = format!("of generation {} in signing_keys", row.generation);
                    let alg = SigningAlg::parse(&row.alg).with_context(|| {
                        format!("the signing key {origin} has an unknown algorithm")
                    })?;
                    keys.push(
                        StoredKey {
                            generation: row.generation,
                            alg,
                            secret: Secret::new(row.secret),
                            created_at: row.created_at,
                        }
                        .checked(&origin)?,
                    );
                }
                keys
            }
        };
        keys.sort_by_key(|key| key.generation);
        Ok(keys)
    }

    /// Adds `key` unless its generation exists; `false` if another process
    /// added that generation first (its key is kept, never replaced).
    pub async fn insert(&self, key: &StoredKey) -> anyhow::Result<bool> {
        match self {
            Self::Folder(data_dir) => {
                let folder = key_folder(data_dir)?;
                let path = folder.join(key_file_name(key.generation));
                let contents = serde_json::to_vec(&KeyFile::of(key))?;
                tokio::task::spawn_blocking(move || {
                    match create_file_atomically(&path, &contents) {
                        Ok(()) => Ok(true),
                        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(false),
                        Err(error) => Err(error).with_context(|| {
                            format!("could not write the signing key {}", path.display())
                        }),
                    }
                })
                .await?
            }
            Self::Database(store) => Ok(store
                .insert_signing_key(&StoredSigningKey {
                    generation: key.generation,
                    alg: key.alg.name().to_owned(),
                    secret: key.secret.expose().to_vec(),
                    created_at: key.created_at,
                })
                .await?),
        }
    }

    /// Deletes the keys of these generations.
    pub async fn delete(&self, generations: &[i64]) -> anyhow::Result<()> {
        match self {
            Self::Folder(data_dir) => {
                for generation in generations {
                    let path = if *generation == 0 {
                        data_dir.join(LEGACY_KEY_FILE)
                    } else {
                        data_dir.join(KEY_FOLDER).join(key_file_name(*generation))
                    };
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(error) if error.kind() == ErrorKind::NotFound => {}
                        Err(error) => {
                            return Err(error)
                                .with_context(|| format!("could not delete {}", path.display()));
                        }
                    }
                }
                Ok(())
            }
            Self::Database(store) => Ok(store.delete_signing_keys(generations).await?),
        }
    }

    /// The device cookie's secret, created on first use and never rotated.
    pub async fn device_secret(&self) -> anyhow::Result<Secret> {
        match self {
            Self::Folder(data_dir) => {
                let path = data_dir.join(DEVICE_SECRET);
                tokio::task::spawn_blocking(move || load_or_create(&path)).await?
            }
            Self::Database(store) => {
                let candidate = StoredKey::generate(0, SigningAlg::Hs256, Utc::now())?;
                let bytes = store
                    .server_secret_or_insert(DEVICE_SECRET, candidate.secret.expose())
                    .await?;
                Ok(Secret::new(bytes))
            }
        }
    }

    /// The ring, with a first key of `alg` added if there is none. Of
    /// several processes starting at once on an empty ring, one key wins
    /// and all of them read it back.
    pub async fn load_or_init(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<StoredKey>> {
        let keys = self.load().await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        let first = StoredKey::generate(1, alg, now)?;
        if self.insert(&first).await? {
            tracing::info!(kid = %first.kid(), alg = alg.name(), "created the first signing key");
        }
        let keys = self.load().await?;
        if keys.is_empty() {
            bail!("the signing key ring is still empty after adding its first key");
        }
        Ok(keys)
    }
}

/// What `server keys rotate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The kid of the key added.
    pub added: String,
    pub alg: SigningAlg,
    /// When it starts signing.
    pub signs_from: DateTime<Utc>,
    /// The kids of the keys deleted because every token they signed has
    /// expired.
    pub removed: Vec<String>,
}

/// Adds a new key of `alg` to the ring (it starts signing after the
/// activation delay; every instance verifies with it once it has read it)
/// and deletes the keys whose tokens have all expired. Nobody is signed
/// out: no key that may have signed a live token is removed.
pub async fn rotate(
    storage: &KeyStorage,
    alg: SigningAlg,
    policy: &KeyPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<Rotation> {
    let keys = storage.load().await?;
    let retired: Vec<&StoredKey> = keys
        .iter()
        .filter(|key| !policy.still_verifies(key, &keys, now))
        .collect();
    storage
        .delete(&retired.iter().map(|key| key.generation).collect::<Vec<_>>())
        .await?;
    let removed = retired.iter().map(|key| key.kid()).collect();
    // Another rotation at the same moment may take the next generation
    // first: then this one takes the one after.
    let mut next = keys.iter().map(|key| key.generation).max().unwrap_or(0) + 1;
    for _ in 0..5 {
        let key = StoredKey::generate(next, alg, now)?;
        if storage.insert(&key).await? {
            return Ok(Rotation {
                added: key.kid(),
                alg,
                signs_from: now + policy.activation_delay(),
                removed,
            });
        }
        next = storage
            .load()
            .await?
            .iter()
            .map(|key| key.generation)
            .max()
            .unwrap_or(0)
            + 1;
    }
    bail!("other processes kept adding signing keys at the same moment; run the command again")
}

/// A key file's contents.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    alg: SigningAlg,
    created_at: DateTime<Utc>,
    /// Standard base64.
    secret: String,
}

impl KeyFile {
    fn of(key: &StoredKey) -> Self {
        Self {
            alg: key.alg,
            created_at: key.created_at,
            secret: STANDARD.encode(key.secret.expose()),
        }
    }
}

fn key_file_name(generation: i64) -> String {
    format!("key-{generation}.json")
}

/// The ring's folder in the data folder, created readable by its owner only.
fn key_folder(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let folder = data_dir.join(KEY_FOLDER);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&folder)
        .with_context(|| format!("could not create {}", folder.display()))?;
    Ok(folder)
}

/// The legacy key file (generation 0) and every `key-<n>.json` of the
/// folder; temporary files and anything else are ignored.
fn load_folder(data_dir: &Path) -> anyhow::Result<Vec<StoredKey>> {
    let mut keys = Vec::new();
    let legacy = data_dir.join(LEGACY_KEY_FILE);
    if legacy.exists() {
        keys.push(StoredKey {
            generation: 0,
            alg: SigningAlg::Hs256,
            secret: load(&legacy)?,
            // Only its successor's time matters for when it retires.
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        });
    }
    let folder = data_dir.join(KEY_FOLDER);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(keys),
        Err(error) => {
            return Err(error).with_context(|| format!("could not read {}", folder.display()));
        }
    };
    for entry in entries {
        let path = entry?.path();
        let Some(generation) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("key-")?.strip_suffix(".json"))
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
        else {
            continue;
        };
        restrict_to_owner(&path)?;
        let origin = path.display().to_string();
        let text = std::fs::read(&path)
            .with_context(|| format!("could not read the signing key {origin}"))?;
        let file: KeyFile = serde_json::from_slice(&text).with_context(|| {
            format!("the signing key {origin} is not a key file; it may be partial or made by hand")
        })?;
        let secret = STANDARD
            .decode(file.secret.trim())
            .with_context(|| format!("the signing key {origin} is not base64"))?;
        keys.push(
            StoredKey {
                generation,
                alg: file.alg,
                secret: Secret::new(secret),
                created_at: file.created_at,
            }
            .checked(&origin)?,
        );
    }
    Ok(keys)
}

/// Reads the secret at `path`, creating it first if there is none.
pub fn load_or_create(path: &Path) -> anyhow::Result<Secret> {
    let mut bytes = vec![0u8; GENERATED_HMAC_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
    match create_file_atomically(path, STANDARD.encode(&bytes).as_bytes()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a new secret");
            Ok(Secret::new(bytes))
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => load(path),
        Err(error) => {
            Err(error).with_context(|| format!("could not create the secret {}", path.display()))
        }
    }
}

/// Creates `path` with `contents`, readable by its owner only, or fails
/// with `AlreadyExists` and leaves it as it was. Nobody ever sees the file
/// partly written: it appears under its name only once complete and synced.
fn create_file_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Err(ErrorKind::AlreadyExists.into());
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
    let temporary = path.with_extension(format!("tmp-{}", URL_SAFE_NO_PAD.encode(suffix)));
    let written = write_private(&temporary, contents)
        // A hard link fails if the name exists, so a key another process
        // has just put there is never replaced.
        .and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    written?;
    if let Some(folder) = path.parent()
        && let Ok(folder) = std::fs::File::open(folder)
    {
        // Makes the new name survive a power cut; where a folder cannot be
        // synced, the worst case is a new key on the next start.
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Writes `contents` to a new file readable by its owner only, and syncs it.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// A base64 HMAC key file (the legacy key, the device secret).
fn load(path: &Path) -> anyhow::Result<Secret> {
    restrict_to_owner(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the signing key {}", path.display()))?;
    let bytes = STANDARD.decode(text.trim()).with_context(|| {
        format!(
            "the signing key {} is not base64; delete it to have a new one made",
            path.display()
        )
    })?;
    let key = StoredKey {
        generation: 0,
        alg: SigningAlg::Hs256,
        secret: Secret::new(bytes),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
    }
    .checked(&path.display().to_string())?;
    Ok(key.secret)
}

/// A key file that others can read is tightened to 0600 rather than used as is.
fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "signing key was readable by others; restricting it to its owner");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> KeyPolicy {
        KeyPolicy {
            reload_every: Duration::from_secs(60),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(5),
        }
    }

    fn folder() -> (tempfile::TempDir, KeyStorage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = KeyStorage::Folder(dir.path().to_owned());
        (dir, storage)
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_ring_gets_one_private_key_of_the_configured_algorithm() {
        // Arrange
        let (dir, storage) = folder();

        // Act
        let first = storage
            .load_or_init(SigningAlg::EdDsa, Utc::now())
            .await
            .unwrap();
        let again = storage
            .load_or_init(SigningAlg::Hs256, Utc::now())
            .await
            .unwrap();

        // Assert
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].alg, SigningAlg::EdDsa);
        assert_eq!(first, again, "read back, not made again");
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir.path().join(KEY_FOLDER)), 0o700);
            assert_eq!(mode(&dir.path().join(KEY_FOLDER).join("key-1.json")), 0o600);
        }
    }

    #[tokio::test]
    async fn processes_starting_at_once_on_an_empty_ring_all_end_up_with_one_key() {
        let (dir, storage) = folder();

        let rings = futures_join_all((0..8).map(|_| {
            let storage = storage.clone();
            tokio::spawn(async move { storage.load_or_init(SigningAlg::Hs256, Utc::now()).await })
        }))
        .await;

        for ring in &rings {
            assert_eq!(ring, &rings[0]);
        }
        assert_eq!(rings[0].len(), 1);
        let left: Vec<_> = std::fs::read_dir(dir.path().join(KEY_FOLDER))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "no temporary files are left behind");
    }

    /// Awaits spawned tasks in order (no `futures` crate needed).
    async fn futures_join_all(
        tasks: impl Iterator<Item = tokio::task::JoinHandle<anyhow::Result<Vec<StoredKey>>>>,
    ) -> Vec<Vec<StoredKey>> {
        let mut rings = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            rings.push(task.await.unwrap().unwrap());
        }
        rings
    }

    #[tokio::test]
    async fn a_partial_or_hand_made_key_file_is_refused_naming_the_file() {
        let (dir, storage) = folder();
        storage
            .load_or_init(SigningAlg::EdDsa, Utc::now())
            .await
            .unwrap();
        let path = dir.path().join(KEY_FOLDER).join("key-2.json");
        let whole = serde_json::to_string(&KeyFile::of(
            &StoredKey::generate(2, SigningAlg::EdDsa, Utc::now()).unwrap(),
        ))
        .unwrap();
        let short_seed = r#"{"alg":"EdDSA","created_at":"2026-12-01T00:00:00Z","secret":"AAEC"}"#;
        let weak_hmac = format!(
            r#"{{"alg":"HS256","created_at":"2026-12-01T00:00:00Z","secret":"{}"}}"#,
            STANDARD.encode([5u8; 64])
        );
        for content in [&whole[..whole.len() / 2], "", short_seed, &weak_hmac, "{}"] {
            std::fs::write(&path, content).unwrap();

            let error = storage.load().await.unwrap_err();

            assert!(format!("{error:#}").contains("key-2.json"), "{error:#}");
        }
    }

    #[tokio::test]
    async fn the_key_file_of_before_the_ring_is_its_generation_zero_with_its_old_kid() {
        // Arrange: the data folder of a server of before the ring.
        let (dir, storage) = folder();
        let legacy = load_or_create(&dir.path().join(LEGACY_KEY_FILE)).unwrap();

        // Act
        let keys = storage
            .load_or_init(SigningAlg::EdDsa, Utc::now())
            .await
            .unwrap();

        // Assert: no new key; tokens signed before the upgrade still verify.
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].generation, 0);
        assert_eq!(keys[0].kid(), hmac_key_id(&legacy));
    }

    #[test]
    fn a_short_repeated_or_partial_legacy_key_file_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEGACY_KEY_FILE);
        let whole = STANDARD.encode([5u8; 64]);
        for content in [
            &STANDARD.encode([1u8; 8])[..],
            &whole[..20],
            &whole[..],
            "",
            "not base64!",
        ] {
            std::fs::write(&path, content).unwrap();

            let error = load_folder(dir.path()).unwrap_err();

            assert!(format!("{error:#}").contains(LEGACY_KEY_FILE), "{error:#}");
        }
    }

    #[tokio::test]
    async fn rotating_adds_a_key_that_signs_after_the_delay_and_removes_none_still_needed() {
        // Arrange
        let (_dir, storage) = folder();
        let policy = policy();
        let t0 = Utc::now();
        let first = storage.load_or_init(SigningAlg::Hs256, t0).await.unwrap();

        // Act: rotate twice in a row.
        let a = rotate(&storage, SigningAlg::EdDsa, &policy, t0)
            .await
            .unwrap();
        let b = rotate(&storage, SigningAlg::EdDsa, &policy, t0)
            .await
            .unwrap();

        // Assert
        let keys = storage.load().await.unwrap();
        assert_eq!(keys.len(), 3, "nothing could be deleted yet");
        assert!(a.removed.is_empty() && b.removed.is_empty());
        assert_eq!(keys[2].kid(), b.added);
        assert_eq!(keys[2].alg, SigningAlg::EdDsa);
        assert_eq!(a.signs_from, t0 + policy.activation_delay());
        assert_eq!(policy.signing_key(&keys, t0).unwrap().kid(), first[0].kid());
        assert_eq!(
            policy.signing_key(&keys, a.signs_from).unwrap().kid(),
            b.added
        );
    }

    #[tokio::test]
    async fn rotating_deletes_the_keys_whose_tokens_have_all_expired() {
        let (dir, storage) = folder();
        let policy = policy();
        let t0 = Utc::now() - chrono::Duration::days(2);
        let legacy = load_or_create(&dir.path().join(LEGACY_KEY_FILE)).unwrap();
        let first = rotate(&storage, SigningAlg::Hs256, &policy, t0)
            .await
            .unwrap();
        let second = rotate(
            &storage,
            SigningAlg::Hs256,
            &policy,
            t0 + chrono::Duration::days(1),
        )
        .await
        .unwrap();

        // A day later still: keys 0 and 1 have long been superseded.
        let third = rotate(&storage, SigningAlg::Hs256, &policy, Utc::now())
            .await
            .unwrap();

        assert_eq!(second.removed, vec![hmac_key_id(&legacy)]);
        assert_eq!(third.removed, vec![first.added]);
        let kids: Vec<String> = storage
            .load()
            .await
            .unwrap()
            .iter()
            .map(StoredKey::kid)
            .collect();
        assert_eq!(
            kids,
            vec![second.added, third.added],
            "the signing key stays"
        );
        assert!(!dir.path().join(LEGACY_KEY_FILE).exists());
    }
}
