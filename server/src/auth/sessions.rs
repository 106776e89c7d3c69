//! The life of a session: started by login or register, kept alive by
//! rotating refresh tokens, ended by logout, by its absolute lifetime, or by
//! the reuse of a rotated token.

use std::sync::Arc;
use std::time::Duration;

use app::model::User;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::revoked::RevokedSessions;
use super::tokens::{RefreshToken, TokenService};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::store::{NewSession, RotationOutcome, Store, StoredRefreshToken};

/// The tokens a client gets when a session starts or rotates.
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: RefreshToken,
    /// The session's absolute end: the cookies live no longer.
    pub session_expires_at: DateTime<Utc>,
    /// When these were issued, from which the cookies' lifetimes count.
    pub issued_at: DateTime<Utc>,
}

/// How a refresh succeeded, and what it gives. (Named apart from the
/// client's own refresh result, which also covers failure.)
pub enum Refreshed {
    /// The presented token was current: both tokens are new.
    Rotated { user: User, tokens: IssuedTokens },
    /// The presented token was rotated moments ago (another tab won the
    /// race): a new access token only, and the browser keeps its newer
    /// refresh cookie.
    WithinGrace {
        user: User,
        access_token: String,
        session_expires_at: DateTime<Utc>,
    },
}

/// Starts, refreshes and ends sessions; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    tokens: Arc<TokenService>,
    revoked: Arc<RevokedSessions>,
    refresh_ttl: Duration,
    max_age: Duration,
    reuse_grace: Duration,
}

impl Sessions {
    /// The lifetimes come from the settings: refresh token, session, and
    /// the grace window of a just-rotated token.
    pub fn new(
        store: Store,
        tokens: Arc<TokenService>,
        revoked: Arc<RevokedSessions>,
        settings: &Settings,
    ) -> Self {
        Self {
            store,
            tokens,
            revoked,
            refresh_ttl: settings.refresh_token_ttl,
            max_age: settings.session_max_age,
            reuse_grace: settings.refresh_reuse_grace,
        }
    }

    /// A new session for `user_id` and its first tokens, not yet stored:
    /// register stores it in the same transaction as the user.
    pub fn prepare(
        &self,
        user_id: Uuid,
        user_agent: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(NewSession, IssuedTokens)> {
        let id = Uuid::new_v4();
        let refresh_token = RefreshToken::generate()?;
        let expires_at = now + chrono_duration(self.max_age);
        let session = NewSession {
            id,
            user_id,
            created_at: now,
            expires_at,
            user_agent,
            refresh_token_hash: refresh_token.hash(),
            refresh_expires_at: (now + chrono_duration(self.refresh_ttl)).min(expires_at),
        };
        let access_token = self.tokens.issue_access_token(user_id, id, now)?;
        Ok((
            session,
            IssuedTokens {
                access_token,
                refresh_token,
                session_expires_at: expires_at,
                issued_at: now,
            },
        ))
    }

    /// Login: starts and stores a session for an existing user.
    pub async fn start(
        &self,
        user_id: Uuid,
        user_agent: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens> {
        let (session, tokens) = self.prepare(user_id, user_agent, now)?;
        self.store.create_session(&session).await?;
        Ok(tokens)
    }

    /// Exchanges a refresh token as `docs/contract.md` says: rotate it if
    /// it is current; otherwise, in this order, refuse it if its session is
    /// revoked or over, let it through without rotation inside the grace
    /// window after its own rotation, and after that treat it as stolen and
    /// revoke its session. `clock` is read once the store holds the write
    /// lock, so waiting for it never counts against the grace window.
    #[tracing::instrument(name = "Refresh a session", skip_all)]
    pub async fn refresh(
        &self,
        presented: Option<RefreshToken>,
        clock: impl FnOnce() -> DateTime<Utc> + Send,
    ) -> Result<Refreshed> {
        let presented = presented.ok_or(Error::InvalidRefreshToken)?;
        let old_hash = presented.hash();
        let new_token = RefreshToken::generate()?;

        let rotation = self
            .store
            .rotate_refresh_token(
                &old_hash,
                &new_token.hash(),
                chrono_duration(self.refresh_ttl),
                clock,
            )
            .await?;
        let now = rotation.now;
        let stored = match rotation.outcome {
            RotationOutcome::Rotated {
                session_id,
                user,
                session_expires_at,
            } => {
                let access_token = self.tokens.issue_access_token(user.id, session_id, now)?;
                return Ok(Refreshed::Rotated {
                    user,
                    tokens: IssuedTokens {
                        access_token,
                        refresh_token: new_token,
                        session_expires_at,
                        issued_at: now,
                    },
                });
            }
            // Not rotated: find out why, from the token's own record.
            RotationOutcome::NotRotated(stored) => stored.ok_or(Error::InvalidRefreshToken)?,
        };
        if !stored.session_is_live(now) {
            return Err(Error::InvalidRefreshToken);
        }
        let Some(rotated_at) = stored.rotated_at else {
            // Current but not rotatable: the token itself has expired.
            return Err(Error::InvalidRefreshToken);
        };
        if now - rotated_at <= chrono_duration(self.reuse_grace) {
            let user = self
                .store
                .find_user_by_id(stored.user_id)
                .await?
                .ok_or(Error::InvalidRefreshToken)?;
            self.store.touch_session(stored.session_id, now).await?;
            let access_token = self
                .tokens
                .issue_access_token(user.id, stored.session_id, now)?;
            return Ok(Refreshed::WithinGrace {
                user,
                access_token,
                session_expires_at: stored.session_expires_at,
            });
        }
        tracing::warn!(session_id = %stored.session_id, "rotated refresh token reused after the grace window; revoking its session");
        self.revoke(&stored, now).await?;
        Err(Error::RefreshTokenReused)
    }

    /// Logout: revokes the session of the presented token, if there is one.
    #[tracing::instrument(name = "End a session", skip_all)]
    pub async fn end(&self, presented: Option<RefreshToken>, now: DateTime<Utc>) -> Result<()> {
        let Some(presented) = presented else {
            return Ok(());
        };
        if let Some(stored) = self.store.find_refresh_token(&presented.hash()).await? {
            self.revoke(&stored, now).await?;
        }
        Ok(())
    }

    /// Revokes the token's session in the store, and for `/api` at once.
    async fn revoke(&self, token: &StoredRefreshToken, now: DateTime<Utc>) -> Result<()> {
        self.store
            .revoke_session_of_user(token.user_id, token.session_id, now)
            .await?;
        self.revoked.insert([token.session_id], now);
        Ok(())
    }
}

/// Settings are capped far below chrono's limits (see `config`), so this
/// cannot saturate in practice.
fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
