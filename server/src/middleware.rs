//! Request guards shared by `/auth` and `/api`, and the security headers
//! of every response.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::Error;

/// The largest request body accepted, as `docs/contract.md` says.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// Refuses `POST` and `DELETE` whose `Origin` is not this server's own
/// (`403 cross_origin_request`). Requests without `Origin` (same-origin
/// GETs, curl, older browsers) pass: `SameSite=Lax` still keeps the cookies
/// off cross-site subrequests. Our own origin is taken from `Host`, so this
/// works behind a proxy only if it keeps `Host`.
pub async fn reject_cross_origin(request: Request, next: Next) -> Response {
    if is_cross_origin(&request) {
        return Error::CrossOriginRequest.into_response();
    }
    next.run(request).await
}

/// The CSRF rule of [`reject_cross_origin`], also used by the plain-HTML
/// forms, which answer it with a page instead of JSON.
pub fn is_cross_origin(request: &Request) -> bool {
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
        return !same;
    }
    false
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

/// The Content-Security-Policy of every response that does not set its own:
/// JSON, static files, errors. Nothing may load, run or frame it. Pages set
/// theirs, with the per-request script nonce, while rendering (`app::shell`).
pub const DEFAULT_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `Strict-Transport-Security` when cookies are `Secure`, i.e. when the site
/// is served over https: one year, subdomains too, no preload (that is a
/// decision for whoever owns the domain).
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the security headers to every response of `router`:
/// `X-Content-Type-Options: nosniff`; `Referrer-Policy: same-origin` (not
/// `no-referrer`: under it browsers send `Origin: null` on same-origin
/// POSTs, which the cross-origin guard refuses); `X-Frame-Options: DENY`
/// beside the CSP's `frame-ancestors 'none'` for old browsers;
/// `Cross-Origin-Opener-Policy: same-origin`; [`DEFAULT_CSP`] where the
/// response has no CSP yet; and HSTS when `https` is set.
pub fn security_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    https: bool,
) -> Router<S> {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    let mut router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DEFAULT_CSP),
    ));
    for (name, value) in fixed {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if https {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ));
    }
    router
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
