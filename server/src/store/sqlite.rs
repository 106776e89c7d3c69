//! The SQLite backend: every SQL statement the server runs on SQLite, each
//! checked at compile time against the migrations (offline data in `.sqlx/`
//! at the workspace root).
//!
//! SQLite has one writer at a time. Writes therefore go through one
//! connection of their own, so concurrent writers queue in this process,
//! in order, instead of each taking a pooled connection and sleeping in
//! `busy_timeout`'s retry loop until the lock comes free; reads have a pool
//! of read-only connections, which WAL lets run beside the writer.
//!
//! Ids are UUIDs stored as blobs; times are `DateTime<Utc>` stored as
//! RFC 3339 text with a `+00:00` offset, which compares correctly as text.

use std::str::FromStr;
use std::time::Duration;

use app::model::{Post, User};
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use uuid::Uuid;

use super::rows::{CredentialsRow, LockedTokenRow, SessionOwnerRow, SessionRow, live_sessions};
use super::transactions::{NewRefreshToken, Statements};
use super::{NewSession, RevokedSession, StoredCredentials, StoredRefreshToken, StoredSession};
use crate::auth::tokens::RefreshTokenHash;
use crate::error::{Error, Result, ResultExt};

/// The write connection and the read pool of one database file.
#[derive(Clone)]
pub struct SqliteStore {
    /// One connection: holding it is holding the write lock.
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens the database, creating the file (and its folder) if missing,
    /// and migrates it. WAL lets readers and the writer work side by side;
    /// `busy_timeout` makes the writer wait for another process's writer
    /// instead of failing at once.
    ///
    /// Two processes opening one new file at the same moment (instances
    /// started together) can meet while one of them switches the file to
    /// WAL, which SQLite answers at once with "database is locked" instead
    /// of waiting in `busy_timeout`; opening is then tried again, a few
    /// times, a little later each time.
    pub(super) async fn connect(database_url: &str) -> anyhow::Result<Self> {
        let mut retries = 0;
        loop {
            match Self::open(database_url).await {
                Err(error) if retries < 5 && is_locked(&error) => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(50 * retries)).await;
                }
                opened => return opened,
            }
        }
    }

    async fn open(database_url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(folder) = options.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal),
            )
            .await?;
        migrate(&writer).await?;
        // Opened after the writer has created the file and set WAL mode,
        // which is a property of the file and so holds for these too.
        let reader = SqlitePoolOptions::new()
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    async fn reader(&self) -> Result<PoolConnection<Sqlite>> {
        Ok(self.reader.acquire().await?)
    }

    /// The write connection, for one statement.
    pub(super) async fn writer(&self) -> Result<PoolConnection<Sqlite>> {
        Ok(self.writer.acquire().await?)
    }

    /// One statement on the write connection: the number of rows it changed.
    async fn write<'q>(&self, statement: Query<'q, Sqlite, SqliteArguments<'q>>) -> Result<u64> {
        Ok(statement
            .execute(&mut *self.writer().await?)
            .await?
            .rows_affected())
    }

    /// The write connection inside a transaction that holds SQLite's write
    /// lock from its first statement (`begin immediate`), so that another
    /// process sharing the file cannot slip a write in between what it
    /// reads and what it writes.
    pub(super) async fn write_transaction(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("begin immediate").await?)
    }

    /// A query only SQLite understands: sqlx names its offline data by the
    /// text alone, and PostgreSQL's check of its own queries would
    /// otherwise claim a text both databases accept.
    pub(super) async fn ping(&self) -> Result<()> {
        sqlx::query!("select sqlite_version() as version")
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(())
    }

    pub(super) async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<StoredCredentials>> {
        let row = sqlx::query_as!(
            CredentialsRow,
            r#"select id as "id: Uuid", email, password_hash, created_at as "created_at: DateTime<Utc>"
               from users where email = ?"#,
            email,
        )
        .fetch_optional(&mut *self.reader().await?)
        .await?;
        Ok(row.map(StoredCredentials::from))
    }

    pub(super) async fn find_user_by_id(&self, user_id: Uuid) -> Result<Option<User>> {
        Ok(sqlx::query_as!(
            User,
            r#"select id as "id: Uuid", email, created_at as "created_at: DateTime<Utc>"
               from users where id = ?"#,
            user_id,
        )
        .fetch_optional(&mut *self.reader().await?)
        .await?)
    }

    pub(super) async fn session_of_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<SessionOwnerRow>> {
        session_of_user(&mut *self.reader().await?, user_id, session_id).await
    }

    pub(super) async fn find_refresh_token(
        &self,
        hash: &RefreshTokenHash,
    ) -> Result<Option<StoredRefreshToken>> {
        let hash_bytes = &hash.0[..];
        let row = sqlx::query_as!(
            StoredRefreshToken,
            r#"select t.token_hash,
                      t.session_id as "session_id: Uuid",
                      s.user_id as "user_id!: Uuid",
                      t.expires_at as "expires_at: DateTime<Utc>",
                      t.rotated_at as "rotated_at?: DateTime<Utc>",
                      s.revoked_at as "session_revoked_at?: DateTime<Utc>",
                      s.expires_at as "session_expires_at!: DateTime<Utc>"
               from refresh_tokens t join sessions s on s.id = t.session_id
               where t.token_hash = ?"#,
            hash_bytes,
        )
        .fetch_optional(&mut *self.reader().await?)
        .await?;
        Ok(row.filter(|row| hash.matches(&row.token_hash)))
    }

    pub(super) async fn list_live_sessions_of_user(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredSession>> {
        let rows = sqlx::query_as!(
            SessionRow,
            r#"select id as "id: Uuid",
                      created_at as "created_at: DateTime<Utc>",
                      last_used_at as "last_used_at: DateTime<Utc>",
                      expires_at as "expires_at: DateTime<Utc>",
                      revoked_at as "revoked_at?: DateTime<Utc>",
                      user_agent
               from sessions
               where user_id = ?
               order by created_at desc, rowid desc"#,
            user_id,
        )
        .fetch_all(&mut *self.reader().await?)
        .await?;
        Ok(live_sessions(rows, now))
    }

    pub(super) async fn revoke_session_of_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let affected = self
            .write(sqlx::query!(
                "update sessions set revoked_at = coalesce(revoked_at, ?) where id = ? and user_id = ?",
                now,
                session_id,
                user_id,
            ))
            .await?;
        Ok(affected > 0)
    }

    pub(super) async fn sessions_revoked_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<RevokedSession>> {
        Ok(sqlx::query_as!(
            RevokedSession,
            r#"select id as "id: Uuid", revoked_at as "revoked_at!: DateTime<Utc>"
               from sessions where revoked_at > ?"#,
            since
        )
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }

    pub(super) async fn delete_expired_tokens(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64> {
        let batch = i64::from(batch);
        self.write(sqlx::query!(
            "delete from refresh_tokens where rowid in (
                 select rowid from refresh_tokens where expires_at <= ? limit ?
             )",
            now,
            batch,
        ))
        .await
    }

    pub(super) async fn delete_dead_sessions(
        &self,
        now: DateTime<Utc>,
        revoked_before: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64> {
        let batch = i64::from(batch);
        // The negation of `is_live`, in SQL because it deletes in bulk; two
        // indexed lookups rather than one `or` over the whole table. A
        // revoked session stays while a token of it may be unexpired, so
        // that a restart can read it back into the revoked set.
        self.write(sqlx::query!(
            "delete from sessions where rowid in (
                 select rowid from sessions where revoked_at <= ?
                 union
                 select rowid from sessions where expires_at <= ?
                 limit ?
             )",
            revoked_before,
            now,
            batch,
        ))
        .await
    }

    pub(super) async fn revoke_sessions_beyond(
        &self,
        user_id: Uuid,
        keep: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        let keep = i64::from(keep);
        // The live condition of `is_live`, in SQL because it picks the rows.
        Ok(sqlx::query_scalar!(
            r#"update sessions set revoked_at = ?
               where id in (
                   select id from sessions
                   where user_id = ? and revoked_at is null and expires_at > ?
                   order by last_used_at desc, created_at desc, rowid desc
                   limit -1 offset ?
               )
               returning id as "id: Uuid""#,
            now,
            user_id,
            now,
            keep,
        )
        .fetch_all(&mut *self.writer().await?)
        .await?)
    }

    pub(super) async fn insert_post(&self, user_id: Uuid, post: &Post) -> Result<()> {
        sqlx::query!(
            "insert into posts (id, user_id, title, body, created_at) values (?, ?, ?, ?, ?)",
            post.id,
            user_id,
            post.title,
            post.body,
            post.created_at,
        )
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    pub(super) async fn list_posts_of_user(&self, user_id: Uuid) -> Result<Vec<Post>> {
        Ok(sqlx::query_as!(
            Post,
            r#"select id as "id: Uuid", title, body, created_at as "created_at: DateTime<Utc>"
               from posts where user_id = ? order by created_at desc, rowid desc"#,
            user_id,
        )
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }
}

/// Whether opening failed on SQLite's lock (`SQLITE_BUSY`, code 5).
fn is_locked(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .and_then(sqlx::Error::as_database_error)
            .and_then(|error| error.code())
            .is_some_and(|code| code == "5")
    })
}

/// Brings the schema up to date while holding SQLite's write lock from
/// the first statement (`begin immediate`) to the last. sqlx's SQLite
/// migrator takes no lock of its own: two processes starting together on
/// an empty file would both find no migration applied and both run the
/// first, and the second would fail ("table users already exists"). Under
/// the lock the second waits (`busy_timeout`), then finds the work done.
/// Each migration runs in a savepoint inside this one transaction.
async fn migrate(writer: &SqlitePool) -> anyhow::Result<()> {
    let mut conn = writer.acquire().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "begin immediate").await?;
    sqlx::migrate!("./migrations/sqlite").run(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// A session of a user, with the user's credentials, whatever the
/// session's state.
async fn session_of_user(
    conn: &mut SqliteConnection,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<SessionOwnerRow>> {
    Ok(sqlx::query_as!(
        SessionOwnerRow,
        r#"select s.revoked_at as "session_revoked_at?: DateTime<Utc>",
                  s.expires_at as "session_expires_at: DateTime<Utc>",
                  u.id as "user_id: Uuid",
                  u.email,
                  u.password_hash,
                  u.created_at as "user_created_at: DateTime<Utc>"
           from sessions s join users u on u.id = s.user_id
           where s.id = ? and s.user_id = ?"#,
        session_id,
        user_id,
    )
    .fetch_optional(&mut *conn)
    .await?)
}

impl Statements for SqliteConnection {
    async fn insert_user(&mut self, user: &User, password_hash: &str) -> Result<()> {
        sqlx::query!(
            "insert into users (id, email, password_hash, created_at) values (?, ?, ?, ?)",
            user.id,
            user.email,
            password_hash,
            user.created_at,
        )
        .execute(&mut *self)
        .await
        // The id is a fresh v4 UUID, so the email is the one unique column
        // this can collide on (SQLite names no constraint to match).
        .on_unique_violation(Error::EmailTaken)?;
        Ok(())
    }

    async fn insert_session(&mut self, session: &NewSession) -> Result<()> {
        sqlx::query!(
            "insert into sessions (id, user_id, created_at, last_used_at, expires_at, user_agent)
             values (?, ?, ?, ?, ?, ?)",
            session.id,
            session.user_id,
            session.created_at,
            session.created_at,
            session.expires_at,
            session.user_agent,
        )
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn insert_refresh_token(&mut self, token: &NewRefreshToken<'_>) -> Result<()> {
        let hash = &token.hash.0[..];
        sqlx::query!(
            "insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
             values (?, ?, ?, ?)",
            hash,
            token.session_id,
            token.created_at,
            token.expires_at,
        )
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn touch_session(&mut self, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
        sqlx::query!(
            "update sessions set last_used_at = ? where id = ?",
            now,
            session_id
        )
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    /// The write transaction holds the file, so reading is locking.
    async fn lock_refresh_token(
        &mut self,
        hash: &RefreshTokenHash,
    ) -> Result<Option<LockedTokenRow>> {
        let hash = &hash.0[..];
        Ok(sqlx::query_as!(
            LockedTokenRow,
            r#"select t.token_hash,
                      t.session_id as "session_id: Uuid",
                      t.expires_at as "expires_at: DateTime<Utc>",
                      t.rotated_at as "rotated_at?: DateTime<Utc>",
                      s.revoked_at as "session_revoked_at?: DateTime<Utc>",
                      s.expires_at as "session_expires_at!: DateTime<Utc>",
                      u.id as "user_id!: Uuid",
                      u.email as "email!",
                      u.created_at as "user_created_at!: DateTime<Utc>"
               from refresh_tokens t
               join sessions s on s.id = t.session_id
               join users u on u.id = s.user_id
               where t.token_hash = ?"#,
            hash,
        )
        .fetch_optional(&mut *self)
        .await?)
    }

    async fn mark_rotated(&mut self, hash: &RefreshTokenHash, now: DateTime<Utc>) -> Result<bool> {
        let hash = &hash.0[..];
        let marked = sqlx::query!(
            "update refresh_tokens set rotated_at = ? where token_hash = ? and rotated_at is null",
            now,
            hash,
        )
        .execute(&mut *self)
        .await?
        .rows_affected();
        Ok(marked == 1)
    }

    /// The write transaction holds the file, so reading is locking.
    async fn lock_session_of_user(
        &mut self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<SessionOwnerRow>> {
        session_of_user(self, user_id, session_id).await
    }

    async fn replace_password_hash(
        &mut self,
        user_id: Uuid,
        checked: &str,
        new: &str,
    ) -> Result<bool> {
        let replaced = sqlx::query!(
            "update users set password_hash = ? where id = ? and password_hash = ?",
            new,
            user_id,
            checked,
        )
        .execute(&mut *self)
        .await?
        .rows_affected();
        Ok(replaced == 1)
    }

    async fn revoke_sessions_of_user_except(
        &mut self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        Ok(sqlx::query_scalar!(
            r#"update sessions set revoked_at = ?
               where user_id = ? and revoked_at is null and id is not ?
               returning id as "id: Uuid""#,
            now,
            user_id,
            keep,
        )
        .fetch_all(&mut *self)
        .await?)
    }
}
