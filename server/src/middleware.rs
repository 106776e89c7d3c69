//! Request guards shared by `/auth` and `/api`, the time limit of every
//! request, and the security headers of every response.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::Error;

/// The largest request body accepted, as `docs/contract.md` says.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// Which origin state-changing requests must come from: `PUBLIC_ORIGIN`
/// when it is set, otherwise the request's own `Host`. The router puts it
/// in every request's extensions (`startup::router`), so the guards below
/// need no state of their own.
#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    /// Lower-case `scheme://host[:port]`, as `config` normalises it.
    pub public_origin: Option<String>,
}

impl OriginPolicy {
    /// Whether a `POST` or `DELETE` with these headers comes from another
    /// origin: an `Origin` that is not ours (`null` included), or, without
    /// `Origin`, `Sec-Fetch-Site: cross-site`. A request with neither
    /// (curl, an old browser's same-origin post) passes: `SameSite=Lax`
    /// still keeps the cookies off cross-site subrequests.
    fn is_cross_origin(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return headers
                .get(SEC_FETCH_SITE)
                .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        };
        let Some(origin) = origin.to_str().ok() else {
            return true;
        };
        match &self.public_origin {
            Some(ours) => !origin
                .strip_suffix('/')
                .unwrap_or(origin)
                .eq_ignore_ascii_case(ours),
            None => {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
                match (origin_authority(origin), host) {
                    (Some(origin), Some(host)) => !origin.eq_ignore_ascii_case(host),
                    _ => true,
                }
            }
        }
    }
}

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Refuses `POST` and `DELETE` from another origin (see [`OriginPolicy`])
/// with `403 cross_origin_request`.
pub async fn reject_cross_origin(request: Request, next: Next) -> Response {
    if is_cross_origin(&request) {
        return Error::CrossOriginRequest.into_response();
    }
    next.run(request).await
}

/// The CSRF rule of [`reject_cross_origin`], also used by the plain-HTML
/// forms, which answer it with a page instead of JSON. Judged by the
/// request's [`OriginPolicy`] extension (the default, `Host`, without one).
pub fn is_cross_origin(request: &Request) -> bool {
    let state_changing = matches!(*request.method(), Method::POST | Method::DELETE);
    state_changing
        && request.extensions().get::<Arc<OriginPolicy>>().map_or_else(
            || OriginPolicy::default().is_cross_origin(request.headers()),
            |policy| policy.is_cross_origin(request.headers()),
        )
}

/// Answers `408 request_timeout` for a request not answered within `limit`
/// (`REQUEST_TIMEOUT_SECS`), however slowly its body arrives; the handler's
/// work is dropped. Our own middleware rather than tower-http's
/// `TimeoutLayer`, whose `408` has an empty body where the contract wants
/// JSON.
pub async fn limit_request_time(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::RequestTimeout.into_response(),
    }
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

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn without_a_public_origin_the_origin_must_match_the_host() {
        let policy = OriginPolicy::default();
        let cases = [
            (
                vec![
                    ("origin", "http://localhost:3000"),
                    ("host", "localhost:3000"),
                ],
                false,
            ),
            (
                vec![
                    ("origin", "https://LOCALHOST:3000/"),
                    ("host", "localhost:3000"),
                ],
                false,
            ),
            (
                vec![
                    ("origin", "http://evil.example"),
                    ("host", "localhost:3000"),
                ],
                true,
            ),
            (vec![("origin", "null"), ("host", "localhost:3000")], true),
            (vec![("origin", "http://localhost:3000")], true),
            (vec![("host", "localhost:3000")], false),
            (vec![("sec-fetch-site", "same-origin")], false),
            (vec![("sec-fetch-site", "same-site")], false),
            (vec![("sec-fetch-site", "cross-site")], true),
            (vec![("sec-fetch-site", "none")], false),
        ];
        for (pairs, cross) in cases {
            assert_eq!(policy.is_cross_origin(&headers(&pairs)), cross, "{pairs:?}");
        }
    }

    #[test]
    fn with_a_public_origin_only_that_origin_is_ours_whatever_the_host() {
        let policy = OriginPolicy {
            public_origin: Some("https://app.example.com".into()),
        };
        let cases = [
            (
                vec![
                    ("origin", "https://app.example.com"),
                    ("host", "10.0.0.5:3000"),
                ],
                false,
            ),
            (vec![("origin", "https://App.Example.com/")], false),
            (vec![("origin", "http://app.example.com")], true),
            (
                vec![
                    ("origin", "http://10.0.0.5:3000"),
                    ("host", "10.0.0.5:3000"),
                ],
                true,
            ),
            (vec![("origin", "null")], true),
            (vec![("sec-fetch-site", "cross-site")], true),
        ];
        for (pairs, cross) in cases {
            assert_eq!(policy.is_cross_origin(&headers(&pairs)), cross, "{pairs:?}");
        }
    }

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
