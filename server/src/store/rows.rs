//! The rows both backends read, and what they become. Each backend's
//! queries name their columns (and, on SQLite, their Rust types) so that
//! they fill these same structs; the conversions are written once here.

use app::model::User;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoredCredentials, StoredRefreshToken, StoredSession, is_live};

/// The flat row of a user's credentials.
pub(super) struct CredentialsRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

impl From<CredentialsRow> for StoredCredentials {
    fn from(row: CredentialsRow) -> Self {
        Self {
            user: User {
                id: row.id,
                email: row.email,
                created_at: row.created_at,
            },
            password_hash: row.password_hash,
        }
    }
}

/// A session with its user's credentials and what decides whether it is
/// live.
pub(super) struct SessionOwnerRow {
    pub session_revoked_at: Option<DateTime<Utc>>,
    pub session_expires_at: DateTime<Utc>,
    pub user_id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub user_created_at: DateTime<Utc>,
}

impl SessionOwnerRow {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        is_live(self.session_revoked_at, self.session_expires_at, now)
    }
}

impl From<SessionOwnerRow> for StoredCredentials {
    fn from(row: SessionOwnerRow) -> Self {
        Self {
            user: User {
                id: row.user_id,
                email: row.email,
                created_at: row.user_created_at,
            },
            password_hash: row.password_hash,
        }
    }
}

/// A session as stored, live or not.
pub(super) struct SessionRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
}

/// The live ones of `rows`, as the session list shows them.
pub(super) fn live_sessions(rows: Vec<SessionRow>, now: DateTime<Utc>) -> Vec<StoredSession> {
    rows.into_iter()
        .filter(|row| is_live(row.revoked_at, row.expires_at, now))
        .map(|row| StoredSession {
            id: row.id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            user_agent: row.user_agent,
        })
        .collect()
}

/// A refresh token locked for rotation, with its session and user.
pub(super) struct LockedTokenRow {
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub session_revoked_at: Option<DateTime<Utc>>,
    pub session_expires_at: DateTime<Utc>,
    pub user_id: Uuid,
    pub email: String,
    pub user_created_at: DateTime<Utc>,
}

impl LockedTokenRow {
    /// Whether it is the current token of a live session: not rotated,
    /// not expired, and its session live.
    pub fn can_rotate(&self, now: DateTime<Utc>) -> bool {
        self.rotated_at.is_none()
            && self.expires_at > now
            && is_live(self.session_revoked_at, self.session_expires_at, now)
    }

    pub fn into_user(self) -> User {
        User {
            id: self.user_id,
            email: self.email,
            created_at: self.user_created_at,
        }
    }
}

impl From<LockedTokenRow> for StoredRefreshToken {
    fn from(row: LockedTokenRow) -> Self {
        Self {
            token_hash: row.token_hash,
            session_id: row.session_id,
            user_id: row.user_id,
            expires_at: row.expires_at,
            rotated_at: row.rotated_at,
            session_revoked_at: row.session_revoked_at,
            session_expires_at: row.session_expires_at,
        }
    }
}
