//! Who is asking: the access cookie checked on its own (signature and
//! expiry, no database), for the API; and the auth state a page is rendered
//! with, for server-side rendering.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::auth::{AuthState, ServerAuth};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use http::request::Parts;
use uuid::Uuid;

use super::cookies::presented_access_token;
use super::tokens::{AccessTokenError, TokenService};
use crate::error::Error;
use crate::state::AppState;

/// The user and session of a valid access token. Rejects with `401`
/// `unauthenticated`, `invalid_token` or `token_expired` (the last with
/// `WWW-Authenticate: token_expired`).
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<TokenService>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Arc::<TokenService>::from_ref(state);
        let jar = CookieJar::from_headers(&parts.headers);
        let token = presented_access_token(&jar).ok_or(Error::Unauthenticated)?;
        let claims = tokens
            .verify_access_token(token)
            .map_err(|error| match error {
                AccessTokenError::Expired => Error::TokenExpired,
                AccessTokenError::Invalid => Error::InvalidToken,
            })?;
        Ok(Self {
            user_id: claims.sub,
            session_id: claims.sid,
        })
    }
}

/// The TCP peer's address, when the server runs with connect info (it
/// always does; a router driven in-process has none). Never rejects.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
        ))
    }
}

/// Middleware for page routes: works out who is signed in and leaves it in
/// the request's extensions as [`ServerAuth`], where the rendering context
/// picks it up (see `startup::provide_server_auth`). It reads cookies and
/// never writes them.
pub async fn seed_server_auth(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = page_auth_state(&state, &jar).await;
    request.extensions_mut().insert(ServerAuth(auth));
    next.run(request).await
}

/// `SignedIn` for a valid access cookie of an existing user (one read);
/// `SignedOut` for a valid cookie whose user is gone; otherwise `Checking`,
/// so that the browser refreshes before deciding.
///
/// A missing or unreadable cookie is `Checking` too, not `SignedOut`: the
/// access cookie's `Max-Age` is the token's lifetime, so a browser drops it
/// the moment the token expires, and the refresh cookie (sent only to
/// `/auth`) never reaches a page request. Someone who comes back after a
/// pause looks exactly like a stranger here; only the browser's refresh can
/// tell them apart, and until it has, the page must not show them signed out.
async fn page_auth_state(state: &AppState, jar: &CookieJar) -> AuthState {
    let Some(token) = presented_access_token(jar) else {
        return AuthState::Checking;
    };
    match state.tokens.verify_access_token(token) {
        Ok(claims) => match state.store.find_user_by_id(claims.sub).await {
            Ok(Some(user)) => AuthState::SignedIn(user),
            Ok(None) => AuthState::SignedOut,
            Err(error) => {
                tracing::error!(error = ?error, "could not read the user for a page");
                AuthState::Checking
            }
        },
        Err(AccessTokenError::Expired | AccessTokenError::Invalid) => AuthState::Checking,
    }
}
