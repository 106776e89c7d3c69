//! `/auth`: register, login, me, refresh and logout, as `CONTRACT.md` says.
//! Handlers parse, call the session flows and set cookies; nothing else.

use app::domain::{Email, Password};
use app::model::{Credentials, UserResponse};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use chrono::Utc;
use uuid::Uuid;

use crate::auth::cookies::presented_refresh_token;
use crate::auth::extractor::{AuthUser, PeerAddress};
use crate::auth::sessions::RefreshOutcome;
use crate::auth::throttle::ThrottleKey;
use crate::error::{AppJson, Error, Result};
use crate::state::AppState;
use crate::store;

/// Mounted under `/auth`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout).delete(logout))
}

/// Longer user agents are cut; they are only shown in the session list.
const MAX_USER_AGENT_CHARS: usize = 256;

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<(StatusCode, CookieJar, AppJson<UserResponse>)> {
    let email = Email::parse(&credentials.email).map_err(|e| Error::InvalidEmail(e.to_string()))?;
    let password =
        Password::parse(&credentials.password).map_err(|e| Error::WeakPassword(e.to_string()))?;
    let password_hash = state.passwords.hash(password).await?;
    let now = Utc::now();
    let user = app::model::User {
        id: Uuid::new_v4(),
        email: email.into_inner(),
        created_at: now,
    };
    let (session, tokens) = state.sessions.prepare(user.id, user_agent(&headers), now)?;
    store::create_user_with_session(&state.pool, &user, &password_hash, &session).await?;
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
    let account = ThrottleKey::Account(email.as_ref().map_or_else(
        || credentials.email.trim().to_lowercase(),
        ToString::to_string,
    ));
    let mut keys = vec![account.clone()];
    keys.extend(peer.map(ThrottleKey::Address));
    state
        .throttle
        .check(&keys)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;

    // An implausible email cannot have an account, but it is checked against
    // the dummy hash all the same so that every failure takes as long.
    let stored = match &email {
        Some(email) => store::find_credentials_by_email(&state.pool, email.as_ref()).await?,
        None => None,
    };
    let (user, hash) = stored.map_or((None, None), |s| (Some(s.user), Some(s.password_hash)));
    let verified = state.passwords.verify(credentials.password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        state.throttle.record_failure(&keys);
        return Err(Error::InvalidCredentials);
    };
    state.throttle.forget(&account);

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
    let user = store::find_user_by_id(&state.pool, auth.user_id)
        .await?
        .ok_or(Error::InvalidToken)?;
    Ok(AppJson(UserResponse { user }))
}

async fn refresh(State(state): State<AppState>, jar: CookieJar) -> Response {
    let presented = presented_refresh_token(&jar);
    match state.sessions.refresh(presented, Utc::now()).await {
        Ok(RefreshOutcome::Rotated { user, tokens }) => {
            let jar = state
                .cookies
                .set_both(jar, tokens.access_token, &tokens.refresh_token);
            (jar, AppJson(UserResponse { user })).into_response()
        }
        // Only a new access cookie: clearing or replacing the refresh cookie
        // here would undo the rotation that the winning request just did.
        Ok(RefreshOutcome::WithinGrace { user, access_token }) => {
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

const CLEAR_SITE_DATA: HeaderName = HeaderName::from_static("clear-site-data");

fn user_agent(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let value: String = value.trim().chars().take(MAX_USER_AGENT_CHARS).collect();
    (!value.is_empty()).then_some(value)
}
