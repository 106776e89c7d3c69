//! `/auth`: register, login, me, refresh, logout, and the account's
//! sessions and password, as `docs/contract.md` says. Handlers parse, call the
//! session flows and the store, and set cookies; nothing else.

use app::domain::{Email, Password};
use app::model::{ChangePassword, Credentials, SessionInfo, SessionsResponse, UserResponse};
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum_extra::extract::CookieJar;
use chrono::Utc;
use uuid::Uuid;

use crate::auth::cookies::presented_refresh_token;
use crate::auth::extractor::{AuthUser, PeerAddress};
use crate::auth::sessions::Refreshed;
use crate::auth::throttle::ThrottleKey;
use crate::error::{AppJson, Error, Result};
use crate::state::AppState;
use crate::store::PasswordChange;

/// Mounted under `/auth`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout).delete(logout))
        .route("/logout-all", post(logout_all))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}", delete(revoke_session))
        .route("/password", post(change_password))
}

/// Longer user agents are cut; they are only shown in the session list.
const MAX_USER_AGENT_CHARS: usize = 256;

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(StatusCode, CookieJar, AppJson<UserResponse>)> {
    let email = Email::parse(&credentials.email)?;
    let password = Password::parse(&credentials.password)?;
    let password_hash = state.passwords.hash(password).await?;
    let now = Utc::now();
    let user = app::model::User {
        id: Uuid::new_v4(),
        email: email.into_inner(),
        created_at: now,
    };
    let (session, tokens) = state.sessions.prepare(user.id, user_agent(&headers), now)?;
    state
        .store
        .create_user_with_session(&user, &password_hash, &session)
        .await?;
    let jar = state
        .cookies
        .set_both(jar, tokens.access_token, &tokens.refresh_token);
    Ok((StatusCode::CREATED, jar, AppJson(UserResponse { user })))
}

async fn login(
    State(state): State<AppState>,
    PeerAddress(peer): PeerAddress,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(CookieJar, AppJson<UserResponse>)> {
    let email = Email::parse(&credentials.email).ok();
    let mut keys = vec![ThrottleKey::account(&credentials.email)];
    keys.extend(peer.map(ThrottleKey::address));
    let attempt = state
        .throttle
        .begin(keys)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;

    // An implausible email cannot have an account, but it is checked against
    // the dummy hash all the same so that every failure takes as long. A
    // password longer than any that can be set is wrong for every account,
    // so it is not hashed at all.
    let stored = match &email {
        Some(email) => {
            state
                .store
                .find_credentials_by_email(email.as_ref())
                .await?
        }
        None => None,
    };
    let (user, hash) = stored.map_or((None, None), |s| (Some(s.user), Some(s.password_hash)));
    let verified = settable_length(&credentials.password)
        && state.passwords.verify(credentials.password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(Error::InvalidCredentials);
    };
    attempt.succeeded();

    let tokens = state
        .sessions
        .start(user.id, user_agent(&headers), Utc::now())
        .await?;
    let jar = state
        .cookies
        .set_both(jar, tokens.access_token, &tokens.refresh_token);
    Ok((jar, AppJson(UserResponse { user })))
}

/// Token check plus one primary-key read.
async fn me(auth: AuthUser, State(state): State<AppState>) -> Result<AppJson<UserResponse>> {
    let user = state
        .store
        .find_user_by_id(auth.user_id)
        .await?
        .ok_or(Error::InvalidToken)?;
    Ok(AppJson(UserResponse { user }))
}

async fn refresh(State(state): State<AppState>, jar: CookieJar) -> Response {
    let presented = presented_refresh_token(&jar);
    match state.sessions.refresh(presented, Utc::now).await {
        Ok(Refreshed::Rotated { user, tokens }) => {
            let jar = state
                .cookies
                .set_both(jar, tokens.access_token, &tokens.refresh_token);
            (jar, AppJson(UserResponse { user })).into_response()
        }
        // Only a new access cookie: clearing or replacing the refresh cookie
        // here would undo the rotation that the winning request just did.
        Ok(Refreshed::WithinGrace { user, access_token }) => {
            let jar = state.cookies.set_access(jar, access_token);
            (jar, AppJson(UserResponse { user })).into_response()
        }
        Err(error @ (Error::InvalidRefreshToken | Error::RefreshTokenReused)) => {
            (state.cookies.clear_both(jar), error).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Idempotent: with no or unknown cookies it still clears them and says 204.
async fn logout(State(state): State<AppState>, jar: CookieJar) -> Result<impl IntoResponse> {
    state
        .sessions
        .end(presented_refresh_token(&jar), Utc::now())
        .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(CLEAR_SITE_DATA, HeaderValue::from_static("\"cookies\""))],
        state.cookies.clear_both(jar),
    ))
}

/// Revokes every session of the user, this one included, and clears the
/// cookies as logout does.
async fn logout_all(
    auth: AuthUser,
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<impl IntoResponse> {
    let now = Utc::now();
    require_live_session(&state, auth, now).await?;
    let revoked = state
        .store
        .revoke_all_sessions_of_user(auth.user_id, now)
        .await?;
    tracing::info!(user_id = %auth.user_id, revoked, "signed out everywhere");
    Ok((
        StatusCode::NO_CONTENT,
        [(CLEAR_SITE_DATA, HeaderValue::from_static("\"cookies\""))],
        state.cookies.clear_both(jar),
    ))
}

/// The user's live sessions, newest first, marking the one asking.
async fn list_sessions(
    auth: AuthUser,
    State(state): State<AppState>,
) -> Result<AppJson<SessionsResponse>> {
    let now = Utc::now();
    require_live_session(&state, auth, now).await?;
    let sessions = state
        .store
        .list_live_sessions_of_user(auth.user_id, now)
        .await?
        .into_iter()
        .map(|session| SessionInfo {
            current: session.id == auth.session_id,
            id: session.id,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            user_agent: session.user_agent,
        })
        .collect();
    Ok(AppJson(SessionsResponse { sessions }))
}

/// Revokes one of the user's sessions. Idempotent: a session of the user's
/// that is already revoked or over (and not yet swept) is `204` again. An id
/// that is not a UUID names no session: `404`. Revoking the current session
/// is a logout, so its cookies are cleared too.
async fn revoke_session(
    auth: AuthUser,
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    jar: CookieJar,
) -> Result<Response> {
    let now = Utc::now();
    require_live_session(&state, auth, now).await?;
    let id = id
        .ok()
        .and_then(|Path(id)| Uuid::parse_str(&id).ok())
        .ok_or(Error::NotFound)?;
    if !state
        .store
        .revoke_session_of_user(auth.user_id, id, now)
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(if id == auth.session_id {
        (StatusCode::NO_CONTENT, state.cookies.clear_both(jar)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// Changes the password and, in the same transaction, revokes every other
/// session of the user. Wrong current passwords count towards the login
/// throttle of the account and the address, like failed logins: a stolen
/// access token must not become a way to guess the password.
async fn change_password(
    auth: AuthUser,
    State(state): State<AppState>,
    PeerAddress(peer): PeerAddress,
    AppJson(change): AppJson<ChangePassword>,
) -> Result<StatusCode> {
    let now = Utc::now();
    let stored = state
        .store
        .find_credentials_of_live_session(auth.user_id, auth.session_id, now)
        .await?
        .ok_or(Error::InvalidToken)?;
    // Worded as the account page's own check words it, so the person reads
    // the same sentence whichever side refuses (the browser leaves the list
    // of common passwords to the server).
    let new_password = Password::parse(&change.new_password)
        .map_err(|e| Error::WeakPassword(format!("New password: {e}")))?;

    let mut keys = vec![ThrottleKey::account(&stored.user.email)];
    keys.extend(peer.map(ThrottleKey::address));
    let attempt = state
        .throttle
        .begin(keys)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let verified = settable_length(&change.current_password)
        && state
            .passwords
            .verify(change.current_password, Some(stored.password_hash.clone()))
            .await?;
    if !verified {
        return Err(Error::InvalidCredentials);
    }
    attempt.succeeded();

    let new_hash = state.passwords.hash(new_password).await?;
    match state
        .store
        .change_password(
            auth.user_id,
            auth.session_id,
            &stored.password_hash,
            &new_hash,
            now,
        )
        .await?
    {
        PasswordChange::Changed => {
            tracing::info!(user_id = %auth.user_id, "password changed; other sessions revoked");
            Ok(StatusCode::NO_CONTENT)
        }
        PasswordChange::SessionGone => Err(Error::InvalidToken),
        // Another request changed it after we checked: the password given as
        // current is not current any more.
        PasswordChange::ChangedConcurrently => Err(Error::InvalidCredentials),
    }
}

/// Account management needs more than a well-signed token: the token's
/// session must still be live, so that a token kept after its session was
/// revoked cannot list, revoke or sign out the user's other sessions.
async fn require_live_session(
    state: &AppState,
    auth: AuthUser,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    state
        .store
        .find_user_of_live_session(auth.user_id, auth.session_id, now)
        .await?
        .map(|_| ())
        .ok_or(Error::InvalidToken)
}

/// Whether a password could be one that register or a change accepted;
/// anything longer is wrong for every account without hashing it.
fn settable_length(password: &str) -> bool {
    password.chars().count() <= Password::MAX_CHARS
}

const CLEAR_SITE_DATA: HeaderName = HeaderName::from_static("clear-site-data");

/// The `User-Agent` as text to show in the session list: bytes that are not
/// UTF-8 become U+FFFD and control characters are dropped, then it is cut.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::USER_AGENT)?;
    let value: String = String::from_utf8_lossy(value.as_bytes())
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    (!value.is_empty()).then_some(value)
}
