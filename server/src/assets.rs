//! The site's static files (the compiled frontend under `/pkg`, the files of
//! `public/`) and the 404 page for every other unknown path.
//!
//! A release build (`scripts/run --release`) names the frontend's files by
//! their content (`hash-files`) and writes a brotli and a gzip copy of every
//! file beside it (`--precompress`). Here the copy the client accepts is sent
//! as it is, with its `Content-Encoding`; a file whose name carries its hash
//! may be kept for a year without asking again, anything else is revalidated
//! on every use (`Last-Modified`, `304`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::services::ServeDir;

use crate::pages::{provide_page_context, tell_the_truth};
use crate::state::AppState;

/// For a file whose name changes with its content: a year, and no
/// revalidation even on reload.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// For anything else served from the site root: may be stored, but is
/// checked with the server (cheaply, by `If-Modified-Since`) before each use.
pub const REVALIDATE: &str = "no-cache";

/// The length of the hash cargo-leptos puts into a file name: an MD5 digest
/// in unpadded base64url.
const HASH_LEN: usize = 22;

/// The router's fallback: a file of the site root, in the encoding the
/// client prefers among those built, or else the app's 404 page.
pub fn router(state: AppState) -> Router {
    let options = &state.leptos_options;
    warn_if_hash_file_missing(options);
    let pkg_route = Arc::<str>::from(options.site_pkg_dir_route_base());
    // leptos_axum renders its 404 page only from behind its own file lookup,
    // which misses again here at the cost of one `stat`. The page goes
    // through the same middleware as every other page, so its first HTML
    // tells the truth about who is signed in, as the contract's "Pages" asks.
    let not_found_page = leptos_axum::file_and_error_handler_with_context::<AppState, _>(
        provide_page_context,
        app::shell,
    )
    .layer(middleware::from_fn_with_state(
        state.clone(),
        tell_the_truth,
    ))
    .with_state(state.clone());
    let files = ServeDir::new(&*options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        // A folder is not a page: the 404 page, not a redirect to `dir/`.
        .append_index_html_on_directories(false)
        // `POST /no/such/page` gets the 404 page like a `GET` does.
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found_page);
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn_with_state(pkg_route, cache_headers))
}

/// Adds `Cache-Control` and `Vary: accept-encoding` to a file sent from the
/// site root (statuses 200, 206 and 304), leaving the 404 page alone.
async fn cache_headers(
    State(pkg_route): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let hashed = request
        .uri()
        .path()
        .strip_prefix(&*pkg_route)
        .is_some_and(has_content_hash);
    let mut response = next.run(request).await;
    if !matches!(
        response.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        return response;
    }
    // A page may change under the same address, whatever its name says.
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let cache_control = if hashed && !html {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    // The same address answers differently by `Accept-Encoding`: a shared
    // cache must not hand the brotli copy to a client that asked for gzip.
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// True for a file name cargo-leptos gave a content hash with `hash-files`
/// (`<stem>.<hash>.<extension>`, e.g. `auth-demo.pmKzj1DgEj6c_cv-ZLkqHw.wasm`),
/// so its content never changes under that name. Files in subfolders
/// (wasm-bindgen's `snippets/`) keep their names and do not count.
fn has_content_hash(file_name: &str) -> bool {
    let mut parts = file_name.rsplit('.');
    let (Some(_extension), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !stem.is_empty()
        && !file_name.contains('/')
        && hash.len() == HASH_LEN
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// With `LEPTOS_HASH_FILES=true`, Leptos reads the hashed names from a file
/// beside the server binary (`hash.txt`, written by the release build). A
/// binary copied without it links the unhashed names, which a hashed build
/// does not have: say so once at start instead of on every page.
fn warn_if_hash_file_missing(options: &leptos::config::LeptosOptions) {
    if !options.hash_files {
        return;
    }
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
    else {
        return;
    };
    let hash_file = dir.join(&*options.hash_file);
    if !hash_file.is_file() {
        tracing::warn!(
            path = %hash_file.display(),
            "LEPTOS_HASH_FILES is true but the hash file is missing; pages will link the frontend by unhashed names"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_leptos_hashed_are_recognised() {
        for name in [
            "auth-demo.pmKzj1DgEj6c_cv-ZLkqHw.wasm",
            "auth-demo.AAAAAAAAAAAAAAAAAAAAAA.js",
            "auth-demo.0123456789abcdefghij-_.css",
        ] {
            assert!(has_content_hash(name), "{name}");
        }
    }

    #[test]
    fn other_names_are_not() {
        for name in [
            "auth-demo.wasm",
            "auth-demo.js",
            "robots.txt",
            // One character short, one too many, a character outside base64url.
            "auth-demo.pmKzj1DgEj6c_cv-ZLkqH.wasm",
            "auth-demo.pmKzj1DgEj6c_cv-ZLkqHwX.wasm",
            "auth-demo.pmKzj1DgEj6c_cv+ZLkqHw.wasm",
            // No stem, or a hash-like folder.
            ".pmKzj1DgEj6c_cv-ZLkqHw.wasm",
            "snippets/x.pmKzj1DgEj6c_cv-ZLkqHw.js",
        ] {
            assert!(!has_content_hash(name), "{name}");
        }
    }
}
