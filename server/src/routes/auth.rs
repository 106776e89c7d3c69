//! `/auth`: register, login, me, refresh, logout, and the account's
//! sessions and password, as `docs/contract.md` says. Handlers parse, call the
//! flows of `service`, and set cookies; nothing else.

use std::net::IpAddr;

use app::auth::after_login;
use app::model::{ChangePassword, Credentials, SessionsResponse, User, UserResponse};
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum_extra::extract::CookieJar;
use chrono::Utc;
use serde::Deserialize;

use crate::auth::cookies::presented_refresh_token;
use crate::auth::device::Device;
use crate::auth::extractor::{AuthUser, LiveUser};
use crate::auth::sessions::Refreshed;
use crate::auth::throttle::ThrottleKey;
use crate::client_addr::ClientAddress;
use crate::error::{AppJson, Error, Result};
use crate::service::{self, Revoked, SignedIn, Visitor};
use crate::state::AppState;

/// Mounted under `/auth`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/refresh", post(refresh).get(navigation_refresh))
        .route("/logout", post(logout).delete(logout))
        .route("/logout-all", post(logout_all))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}", delete(revoke_session))
        .route("/password", post(change_password))
}

async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(StatusCode, CookieJar, AppJson<UserResponse>)> {
    let Credentials { email, password } = credentials;
    let signed = service::register(&state, &visitor, &email, &password).await?;
    let (jar, user) = with_sign_in_cookies(&state, jar, visitor.device, signed);
    Ok((StatusCode::CREATED, jar, AppJson(UserResponse { user })))
}

async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(CookieJar, AppJson<UserResponse>)> {
    let Credentials { email, password } = credentials;
    let signed = service::login(&state, &visitor, &email, password).await?;
    let (jar, user) = with_sign_in_cookies(&state, jar, visitor.device, signed);
    Ok((jar, AppJson(UserResponse { user })))
}

/// Register or login succeeded: the new session's cookies, and the device
/// cookie (see `auth::device`), for the JSON endpoints and the forms alike.
pub(crate) fn with_sign_in_cookies(
    state: &AppState,
    jar: CookieJar,
    device: Option<Device>,
    SignedIn { user, tokens }: SignedIn,
) -> (CookieJar, User) {
    let jar = state.cookies.set_issued(jar, tokens);
    let jar = state.devices.remember(jar, &user.email, device);
    (jar, user)
}

/// Token check plus one read that also checks the session is live.
async fn me(LiveUser(session): LiveUser) -> AppJson<UserResponse> {
    AppJson(UserResponse { user: session.user })
}

async fn refresh(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    jar: CookieJar,
) -> Response {
    match refresh_cookies(&state, client, jar).await {
        Ok((jar, user)) => (jar, AppJson(UserResponse { user })).into_response(),
        Err((jar, error)) => (jar, error).into_response(),
    }
}

/// `GET /auth/refresh?next=…`: the browser's own navigation after a page
/// found its access token expired. The same refresh as `POST`, then `303`
/// back to `next` (a local path only), whether or not it worked: a refused
/// refresh has cleared the cookies, so the page then renders signed out.
async fn navigation_refresh(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    jar: CookieJar,
    query: std::result::Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let next = after_login(query.next.as_deref());
    let jar = match refresh_cookies(&state, client, jar).await {
        Ok((jar, _)) | Err((jar, Error::InvalidRefreshToken | Error::RefreshTokenReused)) => jar,
        Err((_, error)) => return error.into_response(),
    };
    (jar, see_other(&next)).into_response()
}

/// `?next=` of the navigation refresh; anything unreadable is no `next`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NextQuery {
    next: Option<String>,
}

/// One refresh and the cookies it leaves: both set when it rotated, only
/// the access cookie in the grace window (clearing or replacing the refresh
/// cookie there would undo the rotation that the winning request just did),
/// both cleared when the token was refused. Tokens the server does not
/// know are limited per client address (`UNKNOWN_REFRESH_MAX_PER_WINDOW`),
/// refused with `429` before they reach the store.
async fn refresh_cookies(
    state: &AppState,
    client: Option<IpAddr>,
    jar: CookieJar,
) -> std::result::Result<(CookieJar, User), (CookieJar, Error)> {
    let presented = presented_refresh_token(&jar);
    let refreshed = match presented {
        Some(_) => {
            let address: Vec<_> = client.map(ThrottleKey::address).into_iter().collect();
            let refresh = state.sessions.refresh(presented, Utc::now);
            let unknown = |refreshed: &Result<Refreshed>| {
                matches!(refreshed, Err(Error::InvalidRefreshToken))
            };
            state
                .throttle
                .unknown_refreshes
                .guard(&address, refresh, unknown)
                .await
                .map_err(|error| (jar.clone(), error))?
        }
        None => state.sessions.refresh(None, Utc::now).await,
    };
    match refreshed {
        Ok(Refreshed::Rotated { user, tokens }) => {
            Ok((state.cookies.set_issued(jar, tokens), user))
        }
        Ok(Refreshed::WithinGrace {
            user,
            access_token,
            session_expires_at,
        }) => Ok((
            state
                .cookies
                .set_access(jar, access_token, session_expires_at, Utc::now()),
            user,
        )),
        Err(error @ (Error::InvalidRefreshToken | Error::RefreshTokenReused)) => {
            Err((state.cookies.clear_both(jar), error))
        }
        Err(error) => Err((jar, error)),
    }
}

/// Idempotent: with no or unknown cookies it still clears them and says 204.
/// The pages' plain-HTML logout form arrives here too (`POST /logout`
/// answers it with `307`, which keeps the method): a form post gets `303`
/// to the home page instead of a `204` that would leave the browser on the
/// page it was leaving.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response> {
    service::logout(&state, presented_refresh_token(&jar)).await?;
    let jar = state.cookies.clear_both(jar);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    Ok(if form {
        (clear_cache(), jar, see_other("/")).into_response()
    } else {
        (StatusCode::NO_CONTENT, clear_cache(), jar).into_response()
    })
}

/// Revokes every session of the user, this one included, and clears the
/// cookies as logout does.
async fn logout_all(
    LiveUser(session): LiveUser,
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<impl IntoResponse> {
    service::logout_all(&state, &session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        clear_cache(),
        state.cookies.clear_both(jar),
    ))
}

/// The user's live sessions, newest first, marking the one asking.
async fn list_sessions(
    LiveUser(session): LiveUser,
    State(state): State<AppState>,
) -> Result<AppJson<SessionsResponse>> {
    let sessions = service::list_sessions(&state, &session).await?;
    Ok(AppJson(SessionsResponse { sessions }))
}

/// Revokes one of the user's sessions (see [`service::revoke_session`]).
/// Revoking the current session is a logout, so its cookies are cleared too.
async fn revoke_session(
    LiveUser(session): LiveUser,
    State(state): State<AppState>,
    id: std::result::Result<Path<String>, PathRejection>,
    jar: CookieJar,
) -> Result<Response> {
    let id = id.map(|Path(id)| id).unwrap_or_default();
    Ok(
        match service::revoke_session(&state, &session, &id).await? {
            Revoked::ThisSession => {
                (StatusCode::NO_CONTENT, state.cookies.clear_both(jar)).into_response()
            }
            Revoked::Another => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

/// See [`service::change_password`].
async fn change_password(
    auth: AuthUser,
    State(state): State<AppState>,
    AppJson(change): AppJson<ChangePassword>,
) -> Result<StatusCode> {
    service::change_password(&state, auth, change.current_password, &change.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `Clear-Site-Data: "cache"` on logout: the back button must not show the
/// last person's pages from the HTTP cache. Not `"cookies"`, which would
/// delete every cookie of the whole site, the device cookie included.
pub fn clear_cache() -> [(HeaderName, HeaderValue); 1] {
    [(CLEAR_SITE_DATA, HeaderValue::from_static("\"cache\""))]
}

const CLEAR_SITE_DATA: HeaderName = HeaderName::from_static("clear-site-data");

/// `303 See Other` to a local path (already guarded by the caller), never
/// stored by a cache.
pub fn see_other(location: &str) -> Response {
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}
