//! Every statement the store runs, by name: [`Statements`] says what each
//! one does, and is implemented by each backend's connection type in that
//! backend's module, from its own SQL.
//!
//! Most statements are the same Rust on every backend (bind these values,
//! run, return this), so that Rust is written once, in
//! [`common_statements!`], and a backend gives it only the SQL texts, one
//! per statement: sqlx checks each text at compile time against the
//! backend's own schema, and no text is shared between backends (sqlx names
//! its offline data by the text alone). The statements whose Rust differs
//! (what PostgreSQL must lock, the sweep) are written by hand in the
//! backend's module.
//!
//! The placeholders of a text number the method's parameters in order,
//! with a struct's fields in the order the struct declares them (`?1` on
//! SQLite, `$1` on PostgreSQL): `touch_session(session_id, now)` is
//! `update sessions set last_used_at = $2 where id = $1`.

use app::model::{Post, User};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rows::{CredentialsRow, LockedTokenRow, SessionOwnerRow, SessionRow};
use super::{DeadSessions, NewSession, RevokedSession, StoredRefreshToken};
use crate::auth::tokens::RefreshTokenHash;
use crate::error::Result;

/// A refresh token about to be stored.
pub(super) struct NewRefreshToken<'a> {
    pub hash: &'a RefreshTokenHash,
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The statements of the store, each in one backend's SQL. A token hash is
/// bound as its bytes; the caller compares a hash read back in constant
/// time. Those named `lock_…` read rows that the transaction goes on to
/// write, and keep other writers off them until it ends: PostgreSQL with
/// `for update`, in the lock order its module states; SQLite's write
/// transaction holds the whole file from its first statement.
pub(super) trait Statements {
    async fn find_credentials_by_email(&mut self, email: &str) -> Result<Option<CredentialsRow>>;

    async fn find_user_by_id(&mut self, user_id: Uuid) -> Result<Option<User>>;

    /// The user's session, with the user's credentials, whatever its state.
    async fn session_of_user(
        &mut self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<SessionOwnerRow>>;

    /// The token with its session's state, whatever it is.
    async fn find_refresh_token(
        &mut self,
        hash: &RefreshTokenHash,
    ) -> Result<Option<StoredRefreshToken>>;

    /// Every session of the user, live or not, newest first.
    async fn sessions_of_user(&mut self, user_id: Uuid) -> Result<Vec<SessionRow>>;

    async fn sessions_revoked_since(&mut self, since: DateTime<Utc>)
    -> Result<Vec<RevokedSession>>;

    /// Newest first.
    async fn posts_of_user(&mut self, user_id: Uuid) -> Result<Vec<Post>>;

    /// `EmailTaken` when the email has an account already.
    async fn insert_user(&mut self, user: &User, password_hash: &str) -> Result<()>;

    /// The session's row alone (`last_used_at` is its `created_at`): its
    /// first refresh token is inserted apart.
    async fn insert_session(&mut self, session: &NewSession) -> Result<()>;

    async fn insert_refresh_token(&mut self, token: &NewRefreshToken<'_>) -> Result<()>;

    async fn insert_post(&mut self, user_id: Uuid, post: &Post) -> Result<()>;

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> Result<()>;

    /// The token, with its session and user, whatever their state.
    async fn lock_refresh_token(
        &mut self,
        hash: &RefreshTokenHash,
    ) -> Result<Option<LockedTokenRow>>;

    /// Marks the token rotated at `now` unless it is already: whether this
    /// call did.
    async fn mark_rotated(&mut self, hash: &RefreshTokenHash, now: DateTime<Utc>) -> Result<bool>;

    /// Locks the user's row, so that writes to the user queue one behind
    /// the other.
    async fn lock_user(&mut self, user_id: Uuid) -> Result<()>;

    /// Replaces the user's password hash if it is still `checked`: whether
    /// it was.
    async fn replace_password_hash(
        &mut self,
        user_id: Uuid,
        checked: &str,
        new: &str,
    ) -> Result<bool>;

    /// Revokes one session of the user, keeping the first revocation time:
    /// whether the user has a session with this id.
    async fn revoke_session_of_user(
        &mut self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    /// Revokes every session of the user not yet revoked, but `keep`;
    /// returns the ids it revoked.
    async fn revoke_sessions_of_user_except(
        &mut self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>>;

    /// Revokes the user's live sessions but the `keep` most recently used
    /// (by `last_used_at`, then `created_at`); returns their ids. The live
    /// condition of `is_live`, in SQL because it picks the rows.
    async fn revoke_sessions_beyond(
        &mut self,
        user_id: Uuid,
        keep: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>>;

    /// Deletes up to `batch` expired refresh tokens; returns how many.
    async fn delete_expired_tokens(&mut self, now: DateTime<Utc>, batch: i64) -> Result<u64>;

    /// Deletes up to `batch` dead sessions with all their tokens; returns
    /// how many sessions.
    async fn delete_dead_sessions(&mut self, dead: DeadSessions, batch: i64) -> Result<u64>;
}

/// The part of `impl Statements` that is the same on every backend, given
/// that backend's SQL text of each statement (see the module's rule for
/// placeholders). The module using it imports the types named here.
macro_rules! common_statements {
    (
        find_credentials_by_email: $find_credentials_by_email:literal,
        find_user_by_id: $find_user_by_id:literal,
        session_of_user: $session_of_user:literal,
        find_refresh_token: $find_refresh_token:literal,
        sessions_of_user: $sessions_of_user:literal,
        sessions_revoked_since: $sessions_revoked_since:literal,
        posts_of_user: $posts_of_user:literal,
        insert_user: $insert_user:literal,
        insert_session: $insert_session:literal,
        insert_refresh_token: $insert_refresh_token:literal,
        insert_post: $insert_post:literal,
        touch_session: $touch_session:literal,
        lock_refresh_token: $lock_refresh_token:literal,
        mark_rotated: $mark_rotated:literal,
        replace_password_hash: $replace_password_hash:literal,
        revoke_session_of_user: $revoke_session_of_user:literal,
        revoke_sessions_of_user_except: $revoke_sessions_of_user_except:literal,
        revoke_sessions_beyond: $revoke_sessions_beyond:literal,
        delete_expired_tokens: $delete_expired_tokens:literal $(,)?
    ) => {
        async fn find_credentials_by_email(
            &mut self,
            email: &str,
        ) -> Result<Option<CredentialsRow>> {
            let query = sqlx::query_as!(CredentialsRow, $find_credentials_by_email, email);
            Ok(query.fetch_optional(&mut *self).await?)
        }

        async fn find_user_by_id(&mut self, user_id: Uuid) -> Result<Option<User>> {
            let query = sqlx::query_as!(User, $find_user_by_id, user_id);
            Ok(query.fetch_optional(&mut *self).await?)
        }

        async fn session_of_user(
            &mut self,
            user_id: Uuid,
            session_id: Uuid,
        ) -> Result<Option<SessionOwnerRow>> {
            let query = sqlx::query_as!(SessionOwnerRow, $session_of_user, user_id, session_id);
            Ok(query.fetch_optional(&mut *self).await?)
        }

        async fn find_refresh_token(
            &mut self,
            hash: &RefreshTokenHash,
        ) -> Result<Option<StoredRefreshToken>> {
            let hash = &hash.0[..];
            let query = sqlx::query_as!(StoredRefreshToken, $find_refresh_token, hash);
            Ok(query.fetch_optional(&mut *self).await?)
        }

        async fn sessions_of_user(&mut self, user_id: Uuid) -> Result<Vec<SessionRow>> {
            let query = sqlx::query_as!(SessionRow, $sessions_of_user, user_id);
            Ok(query.fetch_all(&mut *self).await?)
        }

        async fn sessions_revoked_since(
            &mut self,
            since: DateTime<Utc>,
        ) -> Result<Vec<RevokedSession>> {
            let query = sqlx::query_as!(RevokedSession, $sessions_revoked_since, since);
            Ok(query.fetch_all(&mut *self).await?)
        }

        async fn posts_of_user(&mut self, user_id: Uuid) -> Result<Vec<Post>> {
            let query = sqlx::query_as!(Post, $posts_of_user, user_id);
            Ok(query.fetch_all(&mut *self).await?)
        }

        async fn insert_user(&mut self, user: &User, password_hash: &str) -> Result<()> {
            let query = sqlx::query!(
                $insert_user,
                user.id,
                user.email,
                user.created_at,
                password_hash,
            );
            query
                .execute(&mut *self)
                .await
                // The id is a fresh v4 UUID, so the email is the one unique
                // column this can collide on.
                .on_unique_violation(Error::EmailTaken)?;
            Ok(())
        }

        async fn insert_session(&mut self, session: &NewSession) -> Result<()> {
            let query = sqlx::query!(
                $insert_session,
                session.id,
                session.user_id,
                session.created_at,
                session.expires_at,
                session.user_agent,
            );
            query.execute(&mut *self).await?;
            Ok(())
        }

        async fn insert_refresh_token(&mut self, token: &NewRefreshToken<'_>) -> Result<()> {
            let hash = &token.hash.0[..];
            let query = sqlx::query!(
                $insert_refresh_token,
                hash,
                token.session_id,
                token.created_at,
                token.expires_at,
            );
            query.execute(&mut *self).await?;
            Ok(())
        }

        async fn insert_post(&mut self, user_id: Uuid, post: &Post) -> Result<()> {
            let query = sqlx::query!(
                $insert_post,
                user_id,
                post.id,
                post.title,
                post.body,
                post.created_at,
            );
            query.execute(&mut *self).await?;
            Ok(())
        }

        async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
            let query = sqlx::query!($touch_session, session_id, now);
            query.execute(&mut *self).await?;
            Ok(())
        }

        async fn lock_refresh_token(
            &mut self,
            hash: &RefreshTokenHash,
        ) -> Result<Option<LockedTokenRow>> {
            let hash = &hash.0[..];
            let query = sqlx::query_as!(LockedTokenRow, $lock_refresh_token, hash);
            Ok(query.fetch_optional(&mut *self).await?)
        }

        async fn mark_rotated(
            &mut self,
            hash: &RefreshTokenHash,
            now: DateTime<Utc>,
        ) -> Result<bool> {
            let hash = &hash.0[..];
            let query = sqlx::query!($mark_rotated, hash, now);
            Ok(query.execute(&mut *self).await?.rows_affected() == 1)
        }

        async fn replace_password_hash(
            &mut self,
            user_id: Uuid,
            checked: &str,
            new: &str,
        ) -> Result<bool> {
            let query = sqlx::query!($replace_password_hash, user_id, checked, new);
            Ok(query.execute(&mut *self).await?.rows_affected() == 1)
        }

        async fn revoke_session_of_user(
            &mut self,
            user_id: Uuid,
            session_id: Uuid,
            now: DateTime<Utc>,
        ) -> Result<bool> {
            let query = sqlx::query!($revoke_session_of_user, user_id, session_id, now);
            Ok(query.execute(&mut *self).await?.rows_affected() > 0)
        }

        async fn revoke_sessions_of_user_except(
            &mut self,
            user_id: Uuid,
            keep: Option<Uuid>,
            now: DateTime<Utc>,
        ) -> Result<Vec<Uuid>> {
            let query = sqlx::query_scalar!($revoke_sessions_of_user_except, user_id, keep, now);
            Ok(query.fetch_all(&mut *self).await?)
        }

        async fn revoke_sessions_beyond(
            &mut self,
            user_id: Uuid,
            keep: i64,
            now: DateTime<Utc>,
        ) -> Result<Vec<Uuid>> {
            let query = sqlx::query_scalar!($revoke_sessions_beyond, user_id, keep, now);
            Ok(query.fetch_all(&mut *self).await?)
        }

        async fn delete_expired_tokens(&mut self, now: DateTime<Utc>, batch: i64) -> Result<u64> {
            let query = sqlx::query!($delete_expired_tokens, now, batch);
            Ok(query.execute(&mut *self).await?.rows_affected())
        }
    };
}

pub(super) use common_statements;
