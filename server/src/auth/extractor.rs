//! Who is asking: the access cookie checked on its own (signature, expiry,
//! and the in-memory set of revoked sessions; no database), for the API; the same plus one read for whether
//! its session is live, for `/auth/me` and the account; the user agent;
//! and, for register and login, the [`Visitor`]. Pages decide who they are
//! for in `crate::pages`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum_extra::extract::CookieJar;
use http::request::Parts;
use uuid::Uuid;

use super::cookies::presented_access_token;
use super::revoked::RevokedSessions;
use super::tokens::{AccessTokenError, TokenService};
use crate::client_addr::ClientAddress;
use crate::error::Error;
use crate::service::{self, LiveSession, Visitor};
use crate::state::AppState;

/// The user and session of a valid access token whose session this process
/// has not seen revoked. Rejects with `401` `unauthenticated`,
/// `invalid_token` or `token_expired` (the last with
/// `WWW-Authenticate: token_expired`).
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<TokenService>: FromRef<S>,
    Arc<RevokedSessions>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Arc::<TokenService>::from_ref(state);
        let jar = CookieJar::from_headers(&parts.headers);
        let token = presented_access_token(&jar).ok_or(Error::Unauthenticated)?;
        let claims = tokens
            .verify_access_token(token)
            .await
            .map_err(|error| match error {
                AccessTokenError::Expired => Error::TokenExpired,
                AccessTokenError::Invalid => Error::InvalidToken,
            })?;
        // A revoked session's token is refused like a forged one: its
        // owner must sign in again.
        if Arc::<RevokedSessions>::from_ref(state).contains(claims.sid) {
            return Err(Error::InvalidToken);
        }
        Ok(Self {
            user_id: claims.sub,
            session_id: claims.sid,
        })
    }
}

/// An [`AuthUser`] whose session is live, checked with one read: what
/// `/auth/me` and the account endpoints need, so that a token kept after
/// its session was revoked is refused at once. Rejects as [`AuthUser`]
/// does, and a revoked or ended session with `401 invalid_token`.
#[derive(Clone, Debug)]
pub struct LiveUser(pub LiveSession);

impl FromRequestParts<AppState> for LiveUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        Ok(Self(service::live_session(state, auth).await?))
    }
}

/// Longer user agents are cut; they are only shown in the session list.
const MAX_USER_AGENT_CHARS: usize = 256;

/// The `User-Agent` as text to show in the session list: bytes that are not
/// UTF-8 become U+FFFD and control characters are dropped, then it is cut.
/// Never rejects.
#[derive(Clone, Debug)]
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(http::header::USER_AGENT) else {
            return Ok(Self(None));
        };
        let value: String = String::from_utf8_lossy(value.as_bytes())
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        Ok(Self((!value.is_empty()).then_some(value)))
    }
}

/// Never rejects: each part is `None` when the request does not carry it.
impl FromRequestParts<AppState> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, state).await?;
        let UserAgent(user_agent) = UserAgent::from_request_parts(parts, state).await?;
        let device = state.devices.read(&CookieJar::from_headers(&parts.headers));
        Ok(Visitor {
            address,
            user_agent,
            device,
        })
    }
}
