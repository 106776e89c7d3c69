//! The access-token signing key when none is configured: created on first
//! start in the data folder, readable by its owner only, and reused after,
//! so that tokens survive a restart.
//!
//! The key is written whole to a temporary file of its own, synced, and only
//! then hard-linked to its name, which fails if the name exists: a crash
//! leaves at most a stray temporary file, never a partial key, and of two
//! processes starting at once exactly one key wins and both use it.

use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::config::Secret;

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
    if path.exists() {
        return Err(ErrorKind::AlreadyExists.into());
    }
    let mut bytes = vec![0u8; GENERATED_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
    let temporary = path.with_extension(format!("tmp-{}", URL_SAFE_NO_PAD.encode(suffix)));
    let written = write_private(&temporary, STANDARD.encode(&bytes).as_bytes())
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
    Ok(Secret::new(bytes))
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
    let secret = Secret::new(bytes);
    if let Some(why) = secret.weakness() {
        bail!(
            "the signing key {} is too weak ({why}); it may be partial or made by hand. \
             Delete it to have a new one made (everyone will have to sign in again)",
            path.display(),
        );
    }
    Ok(secret)
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

        assert!(error.to_string().contains("too weak"), "{error}");
    }

    #[test]
    fn a_partial_or_repeated_key_file_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");
        let whole = STANDARD.encode([5u8; 64]);
        for content in [&whole[..20], &whole[..], "", "not base64!"] {
            std::fs::write(&path, content).unwrap();

            let error = load_or_create(&path).unwrap_err();

            assert!(error.to_string().contains("jwt_secret"), "{error}");
        }
    }

    #[test]
    fn processes_starting_at_once_all_end_up_with_one_complete_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt_secret");

        let keys: Vec<Secret> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });

        assert!(keys.iter().all(|key| *key == keys[0]));
        assert_eq!(keys[0].expose().len(), GENERATED_KEY_BYTES);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary files are left behind");
    }
}
