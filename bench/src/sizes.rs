//! The size of what a browser downloads: the site's WASM, JS and CSS, raw
//! and compressed the way a server or CDN would send them (gzip -9, brotli
//! quality 11).

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::http::Result;

/// One file's sizes in bytes.
#[derive(Clone, Debug)]
pub struct Asset {
    pub file: String,
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

/// Measures the site's WASM, JS and CSS in `pkg_dir`; a missing CSS file is
/// left out, a missing WASM or JS file is an error. Each is found by name:
/// `<name>.<ext>`, wasm-bindgen's `<name>_bg.wasm`, or, when cargo-leptos
/// hashes the file names (`hash-files`), `<name>.<hash>.<ext>` (the newest,
/// should an older build have left one behind). Precompressed copies
/// (`.br`, `.gz`) are not what is measured: this computes its own.
pub fn measure(pkg_dir: &Path, output_name: &str) -> Result<Vec<Asset>> {
    let mut assets = Vec::new();
    for (extension, required) in [("wasm", true), ("js", true), ("css", false)] {
        let Some(file) = find(pkg_dir, output_name, extension) else {
            if required {
                let path = pkg_dir.join(format!("{output_name}.{extension}"));
                return Err(format!("{}: not found (build the site first)", path.display()).into());
            }
            continue;
        };
        let bytes = std::fs::read(pkg_dir.join(&file))
            .map_err(|e| format!("{}: {e}", pkg_dir.join(&file).display()))?;
        assets.push(Asset {
            file,
            raw: bytes.len(),
            gzip: gzip(&bytes)?,
            brotli: brotli(&bytes)?,
        });
    }
    Ok(assets)
}

/// The name of the newest file in `dir` that is the site's `extension` file.
fn find(dir: &Path, output_name: &str, extension: &str) -> Option<String> {
    let is_ours = |file: &str| {
        let Some(stem) = file.strip_suffix(&format!(".{extension}")) else {
            return false;
        };
        stem == output_name
            || (extension == "wasm" && stem == format!("{output_name}_bg"))
            || stem
                .strip_prefix(&format!("{output_name}."))
                .is_some_and(|hash| !hash.is_empty() && !hash.contains('.'))
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let file = entry.file_name().into_string().ok()?;
            let modified = entry.metadata().ok()?.modified().ok()?;
            is_ours(&file).then_some((modified, file))
        })
        .max()
        .map(|(_, file)| file)
}

fn gzip(bytes: &[u8]) -> Result<usize> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

fn brotli(bytes: &[u8]) -> Result<usize> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out.len())
}

/// The `[profile.<name>]` section of the workspace manifest, one setting a
/// line, so the report shows the settings that produced the sizes.
pub fn profile_settings(manifest: &Path, profile: &str) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let header = format!("[profile.{profile}]");
    let mut lines = text.lines().skip_while(|line| line.trim() != header);
    lines.next()?;
    let settings: Vec<&str> = lines
        .take_while(|line| !line.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    Some(settings.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sites_files_are_found_plain_or_hashed_never_precompressed() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "auth-demo.AbC-12_x.wasm",
            "auth-demo.AbC-12_x.wasm.br",
            "auth-demo.AbC-12_x.wasm.gz",
            "auth-demo.js",
            "auth-demo.js.br",
            "other.css",
        ] {
            std::fs::write(dir.path().join(file), file).unwrap();
        }

        let found: Vec<String> = measure(dir.path(), "auth-demo")
            .unwrap()
            .into_iter()
            .map(|asset| asset.file)
            .collect();

        assert_eq!(found, ["auth-demo.AbC-12_x.wasm", "auth-demo.js"]);
    }

    #[test]
    fn a_missing_wasm_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth-demo.js"), "js").unwrap();
        assert!(measure(dir.path(), "auth-demo").is_err());
    }
}
