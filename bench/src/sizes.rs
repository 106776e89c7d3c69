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

/// Measures `<pkg>/<name>.wasm`, `<name>.js` and `<name>.css`; a missing
/// CSS file is left out, a missing WASM or JS file is an error.
pub fn measure(pkg_dir: &Path, output_name: &str) -> Result<Vec<Asset>> {
    // cargo-leptos 0.3 renames wasm-bindgen's `<name>_bg.wasm` to `<name>.wasm`.
    let wasm = [
        format!("{output_name}.wasm"),
        format!("{output_name}_bg.wasm"),
    ]
    .into_iter()
    .find(|file| pkg_dir.join(file).is_file())
    .unwrap_or_else(|| format!("{output_name}.wasm"));
    let mut assets = Vec::new();
    for (file, required) in [
        (wasm, true),
        (format!("{output_name}.js"), true),
        (format!("{output_name}.css"), false),
    ] {
        let path = pkg_dir.join(&file);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) if !required => continue,
            Err(e) => return Err(format!("{}: {e} (build the site first)", path.display()).into()),
        };
        assets.push(Asset {
            file,
            raw: bytes.len(),
            gzip: gzip(&bytes)?,
            brotli: brotli(&bytes)?,
        });
    }
    Ok(assets)
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
