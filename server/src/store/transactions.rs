//! The writes that take more than one statement, written once for both
//! backends from the statements of `super::statements`, each in a
//! transaction that holds the backend's write lock: what is read, checked
//! and written, and in which order, is decided here. Each function commits
//! its transaction when, and only when, everything in it is to stand:
//! returning early drops the transaction, which rolls it back.

use app::model::User;
use chrono::{DateTime, Utc};
use sqlx::{Database, Transaction};

use super::rows::LockedTokenRow;
use super::statements::{NewRefreshToken, Statements};
use super::{NewSession, PasswordChange, PasswordReplacement, Rotation, RotationOutcome};
use crate::auth::tokens::RefreshTokenHash;
use crate::error::Result;

pub(super) async fn create_user_with_session<DB>(
    mut tx: Transaction<'static, DB>,
    user: &User,
    password_hash: &str,
    session: &NewSession,
) -> Result<()>
where
    DB: Database,
    DB::Connection: Statements,
{
    tx.insert_user(user, password_hash).await?;
    insert_session_with_its_token(&mut *tx, session).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn create_session<DB>(
    mut tx: Transaction<'static, DB>,
    session: &NewSession,
) -> Result<()>
where
    DB: Database,
    DB::Connection: Statements,
{
    insert_session_with_its_token(&mut *tx, session).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_session_with_its_token(
    conn: &mut impl Statements,
    session: &NewSession,
) -> Result<()> {
    conn.insert_session(session).await?;
    conn.insert_refresh_token(&NewRefreshToken {
        hash: &session.refresh_token_hash,
        session_id: session.id,
        created_at: session.created_at,
        expires_at: session.refresh_expires_at,
    })
    .await
}

/// The token's row and its session's are locked first, so of many
/// concurrent calls with one token each waits for the one before it and
/// then reads what it left; only then is the clock read. The rotation
/// itself is a conditional update, which under the lock can only fail to
/// match if another writer broke the locking rule; it then rotates
/// nothing.
pub(super) async fn rotate_refresh_token<DB>(
    mut tx: Transaction<'static, DB>,
    old: &RefreshTokenHash,
    new: &RefreshTokenHash,
    refresh_ttl: chrono::Duration,
    clock: impl FnOnce() -> DateTime<Utc> + Send,
) -> Result<Rotation>
where
    DB: Database,
    DB::Connection: Statements,
{
    let locked = tx
        .lock_refresh_token(old)
        .await?
        .filter(|row| old.matches(&row.token_hash));
    let now = clock();
    let not_rotated = |locked: Option<LockedTokenRow>| Rotation {
        now,
        outcome: RotationOutcome::NotRotated(locked.map(Into::into)),
    };
    let Some(locked) = locked else {
        return Ok(not_rotated(None));
    };
    if !locked.can_rotate(now) || !tx.mark_rotated(old, now).await? {
        return Ok(not_rotated(Some(locked)));
    }
    tx.insert_refresh_token(&NewRefreshToken {
        hash: new,
        session_id: locked.session_id,
        created_at: now,
        expires_at: (now + refresh_ttl).min(locked.session_expires_at),
    })
    .await?;
    tx.touch_session(locked.session_id, now).await?;
    tx.commit().await?;
    Ok(Rotation {
        now,
        outcome: RotationOutcome::Rotated {
            session_id: locked.session_id,
            session_expires_at: locked.session_expires_at,
            user: locked.into_user(),
        },
    })
}

/// The user's row is locked first, so that two changes of one user's
/// password queue one behind the other (and never each hold a session the
/// other wants to revoke); the second then finds the hash it checked gone.
pub(super) async fn change_password<DB>(
    mut tx: Transaction<'static, DB>,
    change: PasswordReplacement<'_>,
    now: DateTime<Utc>,
) -> Result<PasswordChange>
where
    DB: Database,
    DB::Connection: Statements,
{
    let PasswordReplacement {
        user_id,
        session_id,
        checked_hash,
        new_hash,
    } = change;
    tx.lock_user(user_id).await?;
    // Read, not locked: a logout of this session that commits meanwhile is
    // as if it came just after the change, and the session stays revoked.
    let live = tx
        .session_of_user(user_id, session_id)
        .await?
        .is_some_and(|session| session.is_live(now));
    if !live {
        return Ok(PasswordChange::SessionGone);
    }
    if !tx
        .replace_password_hash(user_id, checked_hash, new_hash)
        .await?
    {
        return Ok(PasswordChange::ChangedConcurrently);
    }
    let revoked = tx
        .revoke_sessions_of_user_except(user_id, Some(session_id), now)
        .await?;
    tx.commit().await?;
    Ok(PasswordChange::Changed { revoked })
}
