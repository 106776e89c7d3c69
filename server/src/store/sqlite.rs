//! The SQLite backend: its connections, and the SQL of every statement
//! (`super::statements`), each checked at compile time against
//! `migrations/sqlite` (offline data in `.sqlx/` at the workspace root).
//!
//! SQLite has one writer at a time. Writes therefore go through one
//! connection of their own, so concurrent writers queue in this process,
//! in order, instead of each taking a pooled connection and sleeping in
//! `busy_timeout`'s retry loop until the lock comes free; reads have a pool
//! of read-only connections, which WAL lets run beside the writer.
//!
//! Ids are UUIDs stored as blobs, so every query names the Rust type of
//! each column it reads (`as "id: Uuid"`); times are `DateTime<Utc>`
//! stored as RFC 3339 text with a `+00:00` offset, which compares correctly
//! as text. Placeholders are `?1`, `?2`, ... (see `super::statements`).

use std::str::FromStr;
use std::time::Duration;

use app::model::{Post, User};
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use uuid::Uuid;

use super::rows::{CredentialsRow, LockedTokenRow, SessionOwnerRow, SessionRow};
use super::statements::{NewRefreshToken, Statements, common_statements};
use super::{DeadSessions, NewSession, RevokedSession, StoredRefreshToken};
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

    /// A read-only connection of the pool.
    pub(super) async fn reader(&self) -> Result<PoolConnection<Sqlite>> {
        Ok(self.reader.acquire().await?)
    }

    /// The write connection, for one statement.
    pub(super) async fn writer(&self) -> Result<PoolConnection<Sqlite>> {
        Ok(self.writer.acquire().await?)
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

impl Statements for SqliteConnection {
    common_statements! {
        find_credentials_by_email: r#"
            select id as "id: Uuid", email, password_hash,
                   created_at as "created_at: DateTime<Utc>"
            from users where email = ?1"#,
        find_user_by_id: r#"
            select id as "id: Uuid", email, created_at as "created_at: DateTime<Utc>"
            from users where id = ?1"#,
        session_of_user: r#"
            select s.revoked_at as "session_revoked_at?: DateTime<Utc>",
                   s.expires_at as "session_expires_at: DateTime<Utc>",
                   u.id as "user_id: Uuid",
                   u.email,
                   u.password_hash,
                   u.created_at as "user_created_at: DateTime<Utc>"
            from sessions s join users u on u.id = s.user_id
            where s.user_id = ?1 and s.id = ?2"#,
        find_refresh_token: r#"
            select t.token_hash,
                   t.session_id as "session_id: Uuid",
                   s.user_id as "user_id!: Uuid",
                   t.expires_at as "expires_at: DateTime<Utc>",
                   t.rotated_at as "rotated_at?: DateTime<Utc>",
                   s.revoked_at as "session_revoked_at?: DateTime<Utc>",
                   s.expires_at as "session_expires_at!: DateTime<Utc>"
            from refresh_tokens t join sessions s on s.id = t.session_id
            where t.token_hash = ?1"#,
        sessions_of_user: r#"
            select id as "id: Uuid",
                   created_at as "created_at: DateTime<Utc>",
                   last_used_at as "last_used_at: DateTime<Utc>",
                   expires_at as "expires_at: DateTime<Utc>",
                   revoked_at as "revoked_at?: DateTime<Utc>",
                   user_agent
            from sessions
            where user_id = ?1
            order by created_at desc, rowid desc"#,
        sessions_revoked_since: r#"
            select id as "id: Uuid", revoked_at as "revoked_at!: DateTime<Utc>"
            from sessions where revoked_at > ?1"#,
        posts_of_user: r#"
            select id as "id: Uuid", title, body, created_at as "created_at: DateTime<Utc>"
            from posts where user_id = ?1 order by created_at desc, rowid desc"#,
        insert_user: "
            insert into users (id, email, created_at, password_hash) values (?1, ?2, ?3, ?4)",
        insert_session: "
            insert into sessions (id, user_id, created_at, last_used_at, expires_at, user_agent)
            values (?1, ?2, ?3, ?3, ?4, ?5)",
        insert_refresh_token: "
            insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
            values (?1, ?2, ?3, ?4)",
        insert_post: "
            insert into posts (user_id, id, title, body, created_at) values (?1, ?2, ?3, ?4, ?5)",
        touch_session: "update sessions set last_used_at = ?2 where id = ?1",
        // The write transaction holds the file, so reading is locking.
        lock_refresh_token: r#"
            select t.token_hash,
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
            where t.token_hash = ?1"#,
        mark_rotated: "
            update refresh_tokens set rotated_at = ?2 where token_hash = ?1 and rotated_at is null",
        replace_password_hash: "
            update users set password_hash = ?3 where id = ?1 and password_hash = ?2",
        revoke_session_of_user: "
            update sessions set revoked_at = coalesce(revoked_at, ?3)
            where id = ?2 and user_id = ?1",
        revoke_sessions_of_user_except: r#"
            update sessions set revoked_at = ?3
            where user_id = ?1 and revoked_at is null and id is not ?2
            returning id as "id: Uuid""#,
        revoke_sessions_beyond: r#"
            update sessions set revoked_at = ?3
            where id in (
                select id from sessions
                where user_id = ?1 and revoked_at is null and expires_at > ?3
                order by last_used_at desc, created_at desc, rowid desc
                limit -1 offset ?2
            )
            returning id as "id: Uuid""#,
        delete_expired_tokens: "
            delete from refresh_tokens where rowid in (
                select rowid from refresh_tokens where expires_at <= ?1 limit ?2
            )",
    }

    /// Nothing to do: the write transaction holds the whole file.
    async fn lock_user(&mut self, _user_id: Uuid) -> Result<()> {
        Ok(())
    }

    /// One statement; the sessions' tokens go with them (`on delete
    /// cascade`). Two indexed lookups rather than one `or` over the whole
    /// table.
    async fn delete_dead_sessions(&mut self, dead: DeadSessions, batch: i64) -> Result<u64> {
        let DeadSessions { now, revoked_by } = dead;
        let query = sqlx::query!(
            "delete from sessions where rowid in (
                 select rowid from sessions where revoked_at <= ?1
                 union
                 select rowid from sessions where expires_at <= ?2
                 limit ?3
             )",
            revoked_by,
            now,
            batch,
        );
        Ok(query.execute(&mut *self).await?.rows_affected())
    }
}
