//! The account and posts flows, each once: the JSON handlers (`routes::auth`,
//! `routes::posts`) and the plain-HTML forms (`routes::forms`) parse their
//! own input, call these, and shape the answer for their client. So a form
//! and the JSON API validate, throttle and refuse identically.

use std::net::IpAddr;

use app::domain::{Email, Password, PostBody, PostTitle};
use app::model::{Post, SessionInfo, User};
use chrono::Utc;
use uuid::Uuid;

use crate::auth::device::Device;
use crate::auth::extractor::AuthUser;
use crate::auth::sessions::IssuedTokens;
use crate::auth::throttle::{ThrottleKey, login_keys};
use crate::auth::tokens::RefreshToken;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::{PasswordChange, PasswordReplacement};

/// Someone just signed in (register or login): who, and their new tokens.
pub struct SignedIn {
    pub user: User,
    pub tokens: IssuedTokens,
}

/// A well-signed, unexpired access token whose session is still live.
#[derive(Clone, Debug)]
pub struct LiveSession {
    pub user: User,
    pub session_id: Uuid,
}

/// Which session a revoke ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// The caller's own: a logout, whose cookies must go.
    ThisSession,
    Another,
}

/// Checks that the token's session is live, in one read. A revoked or
/// ended session is `401 invalid_token`, like a forged token: its owner
/// must sign in again.
pub async fn live_session(state: &AppState, auth: AuthUser) -> Result<LiveSession> {
    let user = state
        .store
        .find_user_of_live_session(auth.user_id, auth.session_id, Utc::now())
        .await?
        .ok_or(Error::InvalidToken)?;
    Ok(LiveSession {
        user,
        session_id: auth.session_id,
    })
}

/// Who is registering or signing in: the address the throttle counts
/// them by, the browser the session list will name, and the device cookie
/// they carry (only if its signature checked out).
#[derive(Clone, Debug)]
pub struct Visitor {
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub device: Option<Device>,
}

/// A new account and its first session, stored together. Registrations
/// are limited per client address (`REGISTER_MAX_PER_WINDOW`): each costs
/// a hash.
#[tracing::instrument(name = "Register", skip_all)]
pub async fn register(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    password: &str,
) -> Result<SignedIn> {
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    let address: Vec<_> = visitor
        .address
        .map(ThrottleKey::address)
        .into_iter()
        .collect();
    let attempt = state.throttle.registrations.begin(&address).await?;
    let password_hash = match state.passwords.hash(password).await {
        // Refused before any hashing: not counted.
        Err(busy @ Error::ServerBusy { .. }) => {
            attempt.take_back().await;
            return Err(busy);
        }
        hashed => hashed?,
    };
    drop(attempt);
    let now = Utc::now();
    let user = User {
        id: Uuid::new_v4(),
        email: email.into_inner(),
        created_at: now,
    };
    let (session, tokens) = state
        .sessions
        .prepare(user.id, visitor.user_agent.clone(), now)?;
    state
        .store
        .create_user_with_session(&user, &password_hash, &session)
        .await?;
    Ok(SignedIn { user, tokens })
}

/// Checks the password and starts a session. Failures are limited per
/// client address, and per account, except for a `device` that has signed
/// in to this account before: it is limited on its own failures, so an
/// attacker cannot lock the owner out (see `auth::device`). Past
/// `MAX_SESSIONS_PER_USER`, the user's least recently used session goes.
#[tracing::instrument(name = "Log in", skip_all)]
pub async fn login(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    password: String,
) -> Result<SignedIn> {
    let parsed = Email::parse(email).ok();
    let remembered = (visitor.device).and_then(|device| state.devices.remembers(device, email));
    let keys = login_keys(visitor.address, email, remembered);
    let attempt = state.throttle.logins.begin(&keys).await?;
    if !settable_length(&password) {
        // Wrong for every account, so not a guess, and never hashed: not
        // counted.
        attempt.take_back().await;
        return Err(Error::InvalidCredentials);
    }

    // An implausible email cannot have an account, but it is checked against
    // the dummy hash all the same so that every failure takes as long.
    let stored = match &parsed {
        Some(email) => {
            state
                .store
                .find_credentials_by_email(email.as_ref())
                .await?
        }
        None => None,
    };
    let (user, hash) = stored.map_or((None, None), |s| (Some(s.user), Some(s.password_hash)));
    let verified = match state.passwords.verify(password, hash).await {
        // Refused before any hashing: not a guess, so not counted.
        Err(busy @ Error::ServerBusy { .. }) => {
            attempt.take_back().await;
            return Err(busy);
        }
        verified => verified?,
    };
    let Some(user) = user.filter(|_| verified) else {
        return Err(Error::InvalidCredentials);
    };
    attempt.succeeded().await;

    let now = Utc::now();
    let tokens = state
        .sessions
        .start(user.id, visitor.user_agent.clone(), now)
        .await?;
    let beyond_the_cap = state
        .store
        .revoke_sessions_beyond(user.id, state.max_sessions_per_user, now)
        .await?;
    state.revoked.insert(beyond_the_cap, now);
    Ok(SignedIn { user, tokens })
}

/// Ends the session of the presented refresh token, if there is one.
pub async fn logout(state: &AppState, presented: Option<RefreshToken>) -> Result<()> {
    state.sessions.end(presented, Utc::now()).await
}

/// Ends the session an access token names (a form's logout, which does
/// not see the refresh cookie). Only the user's own session can be named.
pub async fn end_session(state: &AppState, auth: AuthUser) -> Result<()> {
    let now = Utc::now();
    if state
        .store
        .revoke_session_of_user(auth.user_id, auth.session_id, now)
        .await?
    {
        state.revoked.insert([auth.session_id], now);
    }
    Ok(())
}

/// Revokes every session of the user, the caller's included.
pub async fn logout_all(state: &AppState, session: &LiveSession) -> Result<()> {
    let now = Utc::now();
    let revoked = state
        .store
        .revoke_all_sessions_of_user(session.user.id, now)
        .await?;
    tracing::info!(user_id = %session.user.id, revoked = revoked.len(), "signed out everywhere");
    state.revoked.insert(revoked, now);
    Ok(())
}

/// The user's live sessions, newest first, marking the caller's.
pub async fn list_sessions(state: &AppState, session: &LiveSession) -> Result<Vec<SessionInfo>> {
    Ok(state
        .store
        .list_live_sessions_of_user(session.user.id, Utc::now())
        .await?
        .into_iter()
        .map(|stored| SessionInfo {
            current: stored.id == session.session_id,
            id: stored.id,
            created_at: stored.created_at,
            last_used_at: stored.last_used_at,
            expires_at: stored.expires_at,
            user_agent: stored.user_agent,
        })
        .collect())
}

/// Revokes one of the user's sessions. Idempotent: a session of the user's
/// that is already revoked or over (and not yet swept) is revoked again
/// without complaint. An id that is not a UUID, unknown, or someone else's
/// is `404`.
pub async fn revoke_session(state: &AppState, session: &LiveSession, id: &str) -> Result<Revoked> {
    let id = Uuid::parse_str(id).map_err(|_| Error::NotFound)?;
    let now = Utc::now();
    if !state
        .store
        .revoke_session_of_user(session.user.id, id, now)
        .await?
    {
        return Err(Error::NotFound);
    }
    state.revoked.insert([id], now);
    Ok(if id == session.session_id {
        Revoked::ThisSession
    } else {
        Revoked::Another
    })
}

/// Changes the password and, in the same transaction, revokes every other
/// session of the user. Wrong current passwords are limited per session
/// (`LOGIN_MAX_FAILURES` in the window), so a stolen access token does not
/// become a way to guess the password, and other people's failed logins
/// never refuse the owner's change. The session's liveness is part of the
/// first read.
#[tracing::instrument(name = "Change password", skip_all)]
pub async fn change_password(
    state: &AppState,
    auth: AuthUser,
    current_password: String,
    new_password: &str,
) -> Result<()> {
    let now = Utc::now();
    let stored = state
        .store
        .find_credentials_of_live_session(auth.user_id, auth.session_id, now)
        .await?
        .ok_or(Error::InvalidToken)?;
    // Worded as the account page's own check words it, so the person reads
    // the same sentence whichever side refuses (the browser leaves the list
    // of common passwords to the server).
    let new_password = Password::parse(new_password)
        .map_err(|e| Error::WeakPassword(format!("New password: {e}")))?;

    let attempt = state
        .throttle
        .logins
        .begin(&[ThrottleKey::Session(auth.session_id)])
        .await?;
    let verified = settable_length(&current_password)
        && match state
            .passwords
            .verify(current_password, Some(stored.password_hash.clone()))
            .await
        {
            Err(busy @ Error::ServerBusy { .. }) => {
                attempt.take_back().await;
                return Err(busy);
            }
            verified => verified?,
        };
    if !verified {
        return Err(Error::InvalidCredentials);
    }
    attempt.succeeded().await;

    let new_hash = state.passwords.hash(new_password).await?;
    match state
        .store
        .change_password(
            PasswordReplacement {
                user_id: auth.user_id,
                session_id: auth.session_id,
                checked_hash: &stored.password_hash,
                new_hash: &new_hash,
            },
            now,
        )
        .await?
    {
        PasswordChange::Changed { revoked } => {
            tracing::info!(user_id = %auth.user_id, "password changed; other sessions revoked");
            state.revoked.insert(revoked, now);
            Ok(())
        }
        PasswordChange::SessionGone => Err(Error::InvalidToken),
        // Another request changed it after we checked: the password given as
        // current is not current any more.
        PasswordChange::ChangedConcurrently => Err(Error::InvalidCredentials),
    }
}

/// Stores a new post of the user.
pub async fn publish(state: &AppState, user_id: Uuid, title: &str, body: &str) -> Result<Post> {
    let title = PostTitle::parse(title)?;
    let body = PostBody::parse(body)?;
    let post = Post {
        id: Uuid::new_v4(),
        title: title.as_ref().to_owned(),
        body: body.as_ref().to_owned(),
        created_at: Utc::now(),
    };
    state.store.insert_post(user_id, &post).await?;
    Ok(post)
}

/// The user's own posts, newest first.
pub async fn list_posts(state: &AppState, user_id: Uuid) -> Result<Vec<Post>> {
    state.store.list_posts_of_user(user_id).await
}

/// Whether a password could be one that register or a change accepted;
/// anything longer is wrong for every account without hashing it.
fn settable_length(password: &str) -> bool {
    password.chars().count() <= Password::MAX_CHARS
}
