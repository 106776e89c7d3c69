//! The access-token signing key when none is configured: created on first
//! start in the data folder, readable by its owner only, and reused after,
//! so that tokens survive a restart.

use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::{Secret, Settings};

/// 512 bits: HS256 hashes keys longer than its 64-byte block, so more would
/// add nothing.
const GENERATED_KEY_BYTES: usize = 64;

/// Reads the key at `path`, creating it first if there is none.
pub fn load_or_create(path: &Path) -> anyhow::Result<Secret> {
    match create(path) {
        Ok(secret) => {
            tracing::info!(path = %path.display(), "created a new signing key");
            Ok(secret)
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => load(path),
        Err(error) => Err(error)
            .with_context(|| format!("could not create the signing key {}", path.display())),
    }
}

fn create(path: &Path) -> std::io::Result<Secret> {
    let mut bytes = vec![0u8; GENERATED_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let mut options = std::fs::OpenOptions::new();
    // `create_new` never overwrites a key another process has just written.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(STANDARD.encode(&bytes).as_bytes())?;
    file.sync_all()?;
    Ok(Secret::new(bytes))
}

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
    if bytes.len() < Settings::MIN_SECRET_BYTES {
        bail!(
            "the signing key {} is too short ({} bytes, at least {} needed); delete it to have a new one made",
            path.display(),
            bytes.len(),
            Settings::MIN_SECRET_BYTES
        );
    }
    Ok(Secret::new(bytes))
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

    #[test]
    fn a_created_key_is_private_and_loads_back_the_same() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");

        // Act
        let first = load_or_create(&path).unwrap();
        let second = load_or_create(&path).unwrap();

        // Assert
        assert_eq!(first, second);
        assert_eq!(first.expose().len(), GENERATED_KEY_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_short_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");
        std::fs::write(&path, STANDARD.encode([1u8; 8])).unwrap();

        let error = load_or_create(&path).unwrap_err();

        assert!(error.to_string().contains("too short"), "{error}");
    }
}
