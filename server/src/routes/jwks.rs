//! `GET /.well-known/jwks.json`: the public keys that verify access tokens,
//! so that another service can check a token without any secret. It lists
//! the EdDSA keys of the ring that still verify (the signing key, keys not
//! signing yet, and retired keys until their tokens have expired); HMAC
//! keys are never published, so with `HS256` the set is empty.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::tokens::TokenService;
use crate::error::{AppJson, method_not_allowed};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        // A JSON 405 with `Allow`, as everywhere else (a POST here is a
        // mistake worth a readable answer).
        .method_not_allowed_fallback(method_not_allowed)
}

/// Public, and cacheable for one `KEY_RELOAD_SECS`: a new key is listed
/// two such periods before it signs, so a cache of this age always holds
/// it in time, and a retired key stays listed until its tokens expire.
async fn jwks(State(tokens): State<Arc<TokenService>>) -> Response {
    let cache_control = format!("public, max-age={}", tokens.reload_every().as_secs());
    let mut response = AppJson(tokens.jwks().as_ref().clone()).into_response();
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
