//! Request guards shared by `/auth` and `/api`.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// The largest request body accepted, as `CONTRACT.md` says.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// Refuses `POST` and `DELETE` whose `Origin` is not this server's own
/// (`403 cross_origin_request`). Requests without `Origin` (same-origin
/// GETs, curl, older browsers) pass: `SameSite=Lax` still keeps the cookies
/// off cross-site subrequests. Our own origin is taken from `Host`, so this
/// works behind a proxy only if it keeps `Host`.
pub async fn reject_cross_origin(request: Request, next: Next) -> Response {
    let state_changing = matches!(*request.method(), Method::POST | Method::DELETE);
    if state_changing && let Some(origin) = request.headers().get(header::ORIGIN) {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let same = match (origin.to_str().ok().and_then(origin_authority), host) {
            (Some(origin), Some(host)) => origin.eq_ignore_ascii_case(host),
            _ => false,
        };
        if !same {
            return Error::CrossOriginRequest.into_response();
        }
    }
    next.run(request).await
}

/// `http://localhost:3000` → `localhost:3000`; `null` and anything else
/// without a scheme → `None`.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let ok =
        matches!(scheme, "http" | "https") && !authority.is_empty() && !authority.contains('/');
    ok.then_some(authority)
}

/// Answers `413 payload_too_large` from `Content-Length` alone, before any
/// of the body is read, whatever the handler. Bodies without a length are
/// cut off at the same size by `DefaultBodyLimit` when they are read.
pub async fn reject_oversized_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT_BYTES as u64) {
        return Error::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_reduce_to_their_authority() {
        assert_eq!(
            origin_authority("http://localhost:3000"),
            Some("localhost:3000")
        );
        assert_eq!(origin_authority("https://example.com"), Some("example.com"));
        assert_eq!(origin_authority("null"), None);
        assert_eq!(origin_authority("ftp://example.com"), None);
        assert_eq!(origin_authority("http://"), None);
    }
}
