//! Static files as a release build leaves them: the frontend under `/pkg`
//! with content-hashed names, a brotli and a gzip copy beside each file.
//! The real server serves a temporary site root holding such files.

use std::io::{Read, Write};
use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, IF_MODIFIED_SINCE,
    LAST_MODIFIED, VARY,
};
use server::config::Settings;
use server::startup::Application;
use tempfile::TempDir;

use crate::helpers::client;

const HASHED_WASM: &str = "/pkg/auth-demo.pmKzj1DgEj6c_cv-ZLkqHw.wasm";
const HASHED_JS: &str = "/pkg/auth-demo.Ab3dEfGh1jKlMn0pQrStUv.js";
const UNHASHED_JS: &str = "/pkg/auth-demo.js";
const ROBOTS: &str = "/robots.txt";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A running server whose site root is a temporary folder of built files.
struct Site {
    address: String,
    root: TempDir,
    _data: TempDir,
}

impl Site {
    /// The bytes of a file as it lies in the site root (uncompressed).
    fn file(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.root.path().join(path.trim_start_matches('/'))).unwrap()
    }

    async fn get(&self, path: &str, accept_encoding: &str) -> reqwest::Response {
        client()
            .get(format!("{}{path}", self.address))
            .header(ACCEPT_ENCODING, accept_encoding)
            .send()
            .await
            .unwrap()
    }
}

/// Writes `content` at `path` under `root`, with `.br` and `.gz` copies
/// when `precompressed`, as `cargo leptos build --release --precompress` does.
fn write_file(root: &Path, path: &str, content: &[u8], precompressed: bool) {
    let file = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, content).unwrap();
    if precompressed {
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &content[..], &mut br, &Default::default()).unwrap();
        std::fs::write(format!("{}.br", file.display()), br).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(content).unwrap();
        std::fs::write(format!("{}.gz", file.display()), gz.finish().unwrap()).unwrap();
    }
}

/// Something compressible and recognisable, like a real bundle.
fn contents(name: &str) -> Vec<u8> {
    (0..2_000)
        .flat_map(|i| format!("{name} line {i}\n").into_bytes())
        .collect()
}

async fn spawn_site() -> Site {
    let root = tempfile::tempdir().unwrap();
    write_file(root.path(), HASHED_WASM, &contents("wasm"), true);
    write_file(root.path(), HASHED_JS, &contents("js"), true);
    write_file(root.path(), UNHASHED_JS, &contents("plain js"), true);
    write_file(root.path(), ROBOTS, b"User-agent: *\nAllow: /\n", false);

    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let settings = Settings::from_lookup(|name| match name {
        "DATA_DIR" => Some(data_dir.clone()),
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        "COOKIE_SECURE" => Some("false".into()),
        _ => None,
    })
    .unwrap();
    let leptos_options = leptos::config::LeptosOptions::builder()
        .output_name("auth-demo")
        .site_root(root.path().display().to_string())
        .build();
    let application = Application::build(settings, leptos_options).await.unwrap();
    let address = format!("http://{}", application.local_addr().unwrap());
    tokio::spawn(application.run_until(std::future::pending()));
    Site {
        address,
        root,
        _data: data,
    }
}

fn header(response: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match encoding {
        None => decoded.extend_from_slice(body),
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut decoded)
                .unwrap();
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut decoded)
                .unwrap();
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    decoded
}

#[tokio::test]
async fn a_hashed_bundle_file_is_sent_in_the_encoding_asked_for_and_kept_for_a_year() {
    // Arrange
    let site = spawn_site().await;
    let cases = [
        ("br, gzip", Some("br")),
        ("gzip, deflate, br;q=0.5", Some("gzip")),
        ("br", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
        ("zstd", None),
    ];
    for (accept, expected) in cases {
        for path in [HASHED_WASM, HASHED_JS] {
            // Act
            let response = site.get(path, accept).await;

            // Assert
            let what = format!("{path} with Accept-Encoding: {accept}");
            assert_eq!(response.status(), StatusCode::OK, "{what}");
            assert_eq!(header(&response, CONTENT_ENCODING), expected, "{what}");
            assert_eq!(header(&response, CACHE_CONTROL), Some(IMMUTABLE), "{what}");
            assert!(
                header(&response, VARY).is_some_and(|v| v.eq_ignore_ascii_case("accept-encoding")),
                "{what}"
            );
            let content_type = header(&response, CONTENT_TYPE).unwrap().to_owned();
            let body = response.bytes().await.unwrap();
            if expected.is_some() {
                assert!(
                    body.len() < site.file(path).len() / 4,
                    "{what}: not compressed"
                );
            }
            assert_eq!(decode(expected, &body), site.file(path), "{what}");
            let expected_type = if path.ends_with(".wasm") {
                "application/wasm"
            } else {
                "text/javascript"
            };
            assert_eq!(content_type, expected_type, "{what}");
        }
    }
}

#[tokio::test]
async fn a_file_without_a_hash_in_its_name_is_revalidated_before_each_use() {
    let site = spawn_site().await;

    for path in [UNHASHED_JS, ROBOTS] {
        let response = site.get(path, "br, gzip").await;

        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CACHE_CONTROL), Some("no-cache"), "{path}");
        assert_eq!(header(&response, VARY), Some("accept-encoding"), "{path}");
        let encoding = header(&response, CONTENT_ENCODING).map(str::to_owned);
        let last_modified = header(&response, LAST_MODIFIED).unwrap().to_owned();
        let body = response.bytes().await.unwrap();
        assert_eq!(
            decode(encoding.as_deref(), &body),
            site.file(path),
            "{path}"
        );

        // Revalidation costs no body when nothing changed.
        let again = client()
            .get(format!("{}{path}", site.address))
            .header(ACCEPT_ENCODING, "br, gzip")
            .header(IF_MODIFIED_SINCE, &last_modified)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header(&again, CACHE_CONTROL), Some("no-cache"), "{path}");
    }
    // robots.txt was built without compressed copies: sent as it is.
    assert_eq!(
        header(&site.get(ROBOTS, "br, gzip").await, CONTENT_ENCODING),
        None
    );
}

#[tokio::test]
async fn pages_and_the_404_page_are_never_cached_as_immutable() {
    let site = spawn_site().await;

    for (path, status) in [
        ("/", StatusCode::OK),
        ("/no/such/page", StatusCode::NOT_FOUND),
        (
            "/pkg/auth-demo.AAAAAAAAAAAAAAAAAAAAAA.wasm",
            StatusCode::NOT_FOUND,
        ),
        ("/pkg", StatusCode::NOT_FOUND),
    ] {
        let response = site.get(path, "br, gzip").await;

        assert_eq!(response.status(), status, "{path}");
        assert!(
            header(&response, CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")),
            "{path}"
        );
        assert!(
            !header(&response, CACHE_CONTROL).is_some_and(|c| c.contains("immutable")),
            "{path}"
        );
    }
}
