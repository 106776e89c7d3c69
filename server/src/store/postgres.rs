//! The PostgreSQL backend: its connections, the SQL of every statement
//! (`super::statements`), and what only PostgreSQL keeps (the signing key
//! ring, the shared throttle). Each query is checked at compile time
//! against `migrations/postgres` (offline data in `.sqlx/` at the
//! workspace root, beside SQLite's).
//!
//! Several instances of the server may share the database, so nothing here
//! relies on this process being the only writer (as the SQLite backend's
//! one write connection does): every read that a write depends on is made
//! under a row lock (`select ... for update`) inside the transaction that
//! writes, and each write is conditional on what it expects to change.
//! Transactions run at PostgreSQL's default, read committed, in which a
//! statement that waited for a row lock sees the row as its holder left it.
//!
//! Lock order, to keep transactions from waiting on each other in a cycle:
//! a user row before any of its sessions, a refresh token with its session,
//! the throttle's rows of one attempt in key order (and nothing else in
//! their transactions).
//!
//! The text of every query here differs from every query of the SQLite
//! backend (`$1` rather than `?1`): sqlx names its offline data by a hash of
//! the text alone, and one text can only be checked against one database.
//!
//! No statement here announces the sessions it revokes: a trigger does,
//! for every statement (migration `20261201040000_notify_revocations`),
//! and the other instances' revocation feeds (`crate::revocation_feed`)
//! add them to their revoked sets.
//!
//! Ids are `uuid`, times `timestamptz` (to the microsecond: sqlx drops
//! chrono's nanoseconds), token hashes `bytea`.

use std::str::FromStr;

use app::model::{Post, User};
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::rows::{CredentialsRow, LockedTokenRow, SessionOwnerRow, SessionRow};
use super::statements::{NewRefreshToken, Statements, common_statements};
use super::{
    DeadSessions, NewSession, RevokedSession, StoredRefreshToken, StoredSigningKey, ThrottleCount,
    ThrottleRule,
};
use crate::auth::tokens::RefreshTokenHash;
use crate::error::{Error, Result, ResultExt};

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and migrates. The database itself must exist (creating one
    /// is the operator's call, with their own owner and settings). sqlx's
    /// migrator holds a PostgreSQL advisory lock while it works, so of
    /// several instances starting at once one migrates and the others wait
    /// for it, then find nothing left to do.
    pub async fn connect(database_url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(database_url)?;
        let pool = PgPoolOptions::new().connect_with(options).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// A connection of the pool. PostgreSQL needs no separate readers, and
    /// no single writer: writes that race are kept apart by the rows they
    /// lock.
    pub(super) async fn reader(&self) -> Result<PoolConnection<Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection of the pool, for one statement.
    pub(super) async fn writer(&self) -> Result<PoolConnection<Postgres>> {
        self.reader().await
    }

    /// A transaction at read committed: what keeps concurrent writers
    /// apart is the rows each statement locks (see the module's lock
    /// order).
    pub(super) async fn write_transaction(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// One statement on the pool: the number of rows it changed.
    async fn write<'q>(&self, statement: Query<'q, Postgres, PgArguments>) -> Result<u64> {
        Ok(statement.execute(&self.pool).await?.rows_affected())
    }

    pub(super) async fn ping(&self) -> Result<()> {
        sqlx::query!("select 1::int4 as one")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }
}

/// What only PostgreSQL keeps in the database, because several instances
/// share it (see `Store::postgres`): the signing key ring
/// (`auth::keys`) and the shared throttle (`auth::throttle::shared`).
impl PostgresStore {
    /// Every key of the signing key ring, oldest first.
    #[tracing::instrument(name = "List the signing keys", skip_all)]
    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
        Ok(sqlx::query_as!(
            StoredSigningKey,
            "select generation, alg, secret, created_at from signing_keys order by generation"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds a signing key unless its generation exists: `false` if another
    /// instance added that generation first (its key is kept).
    #[tracing::instrument(name = "Add a signing key", skip_all, fields(generation = key.generation))]
    pub async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool> {
        // A concurrent insert of the same generation makes this one wait
        // for it to commit, then do nothing: one key per generation.
        let inserted = self
            .write(sqlx::query!(
                "insert into signing_keys (generation, alg, secret, created_at)
                 values ($1, $2, $3, $4)
                 on conflict (generation) do nothing",
                key.generation,
                key.alg,
                key.secret,
                key.created_at,
            ))
            .await?;
        Ok(inserted == 1)
    }

    /// Deletes the signing keys of these generations.
    #[tracing::instrument(name = "Delete signing keys", skip_all)]
    pub async fn delete_signing_keys(&self, generations: &[i64]) -> Result<()> {
        self.write(sqlx::query!(
            "delete from signing_keys where generation = any($1)",
            generations
        ))
        .await?;
        Ok(())
    }

    /// The server secret `name`, stored as `candidate` if there was none:
    /// of instances starting at once, the first one's candidate wins and
    /// all of them get it.
    #[tracing::instrument(name = "Read a server secret", skip(self, candidate))]
    pub async fn server_secret_or_insert(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        self.write(sqlx::query!(
            "insert into server_secrets (name, secret) values ($1, $2)
             on conflict (name) do nothing",
            name,
            candidate,
        ))
        .await?;
        // A statement of its own, so it sees the row of whichever insert won.
        Ok(
            sqlx::query_scalar!("select secret from server_secrets where name = $1", name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Counts an attempt starting at `now` against `keys` (stored form,
    /// sorted, distinct) of the rule's limiter, unless one of them already
    /// has `max` attempts in the `window` before `now`; then it counts
    /// nothing. Concurrent calls on one key, from any instance, each see
    /// the ones before: a burst gets exactly `max`.
    ///
    /// One transaction: the upsert appends `now` to the row of every key
    /// under its limit (creating rows for new keys) and locks every key's
    /// row, in key order, whether it appended or not. If a key was at its
    /// limit, the rows are read under that lock for the wait, and the
    /// transaction is rolled back, so nothing is counted. Otherwise up to
    /// two rows whose attempts have all left the window are deleted (rows
    /// another transaction holds are skipped, never waited for), and it
    /// commits.
    #[tracing::instrument(name = "Count a throttled attempt", skip_all)]
    pub async fn count_throttled_attempt(
        &self,
        rule: ThrottleRule,
        keys: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<ThrottleCount> {
        let ThrottleRule {
            limiter,
            window,
            max,
        } = rule;
        let (since, expires_at) = (now - window, now + window);
        let mut tx = self.pool.begin().await?;
        let counted = sqlx::query_scalar!(
            "insert into throttle (limiter, key, times, expires_at)
             select $1, key, array[$3::timestamptz], $5
             from unnest($2::bytea[]) as key
             order by key
             on conflict (limiter, key) do update
             set times = array(
                     select t from unnest(throttle.times || $3::timestamptz) as t
                     where t > $4 order by t
                 ),
                 expires_at = greatest(throttle.expires_at, $5)
             where (select count(*) from unnest(throttle.times) as t where t > $4) < $6
             returning key",
            limiter,
            keys,
            now,
            since,
            expires_at,
            i64::from(max),
        )
        .fetch_all(&mut *tx)
        .await?;
        if counted.len() < keys.len() {
            // Read under the upsert's locks, so it is what refused it.
            let oldest = oldest_that_matters(&mut tx, limiter, keys, since, max).await?;
            // Undoes what the upsert counted on the other keys.
            tx.rollback().await?;
            return Ok(ThrottleCount::Refused {
                oldest_that_matters: oldest.unwrap_or(now),
            });
        }
        delete_expired_throttle_keys(&mut tx, now, 2).await?;
        tx.commit().await?;
        Ok(ThrottleCount::Counted)
    }

    /// Whether one of `keys` has `max` attempts in the `window` before
    /// `now`: then the `max`-th newest of them (the latest such), as in
    /// [`ThrottleCount::Refused`]. Counts nothing.
    ///
    /// One read, no lock: the `max`-th newest attempt within the window
    /// before `now` of each key that has `max`, the latest of those.
    #[tracing::instrument(name = "Check a throttle", skip_all)]
    pub async fn throttle_wait(
        &self,
        rule: ThrottleRule,
        keys: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let conn = &mut *self.pool.acquire().await?;
        oldest_that_matters(conn, rule.limiter, keys, now - rule.window, rule.max).await
    }

    /// Takes one attempt that started at `started` back from each of
    /// `keys`, and forgets every attempt of those of them in `forget`; a
    /// key left with none is deleted.
    ///
    /// One statement: locks the rows in key order, deletes those left with
    /// no attempt (or to be forgotten), and takes one `started` out of the
    /// others.
    #[tracing::instrument(name = "Take back a throttled attempt", skip_all)]
    pub async fn take_back_throttled_attempt(
        &self,
        limiter: i16,
        keys: &[Vec<u8>],
        started: DateTime<Utc>,
        forget: &[Vec<u8>],
    ) -> Result<()> {
        sqlx::query!(
            "with locked as (
                 select key, times from throttle
                 where limiter = $1 and key = any($2)
                 order by key
                 for update
             ), emptied as (
                 delete from throttle as d using locked as l
                 where d.limiter = $1 and d.key = l.key
                   and (l.key = any($4) or l.times = array[$3::timestamptz])
             )
             update throttle as u
             set times = l.times[:array_position(l.times, $3) - 1]
                         || l.times[array_position(l.times, $3) + 1:]
             from locked as l
             where u.limiter = $1 and u.key = l.key
               and not (l.key = any($4) or l.times = array[$3::timestamptz])
               and $3 = any(l.times)",
            limiter,
            keys,
            started,
            forget,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes up to `batch` keys whose attempts have all left the window;
    /// returns how many.
    #[tracing::instrument(name = "Delete a batch of expired throttle keys", skip(self, now))]
    pub async fn delete_expired_throttle_keys(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64> {
        delete_expired_throttle_keys(&mut *self.pool.acquire().await?, now, batch).await
    }
}

/// Deletes up to `batch` throttle rows whose attempts have all left the
/// window, skipping rows that another transaction holds (never waiting,
/// so never in a lock cycle with an attempt being counted).
async fn delete_expired_throttle_keys(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    batch: u32,
) -> Result<u64> {
    Ok(sqlx::query!(
        "delete from throttle where (limiter, key) in (
             select limiter, key from throttle where expires_at <= $1
             limit $2
             for update skip locked
         )",
        now,
        i64::from(batch),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The `max`-th newest attempt after `since` of each of `keys` that has
/// that many, the latest of those: the last to leave the window.
async fn oldest_that_matters(
    conn: &mut PgConnection,
    limiter: i16,
    keys: &[Vec<u8>],
    since: DateTime<Utc>,
    max: u32,
) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar!(
        "select max((array(
             select t from unnest(times) as t where t > $3 order by t desc
         ))[$4])
         from throttle where limiter = $1 and key = any($2)",
        limiter,
        keys,
        since,
        i32::try_from(max).unwrap_or(i32::MAX),
    )
    .fetch_one(&mut *conn)
    .await?)
}

impl Statements for PgConnection {
    common_statements! {
        find_credentials_by_email: "
            select id, email, password_hash, created_at from users where email = $1",
        find_user_by_id: "select id, email, created_at from users where id = $1",
        session_of_user: "
            select s.revoked_at as session_revoked_at,
                   s.expires_at as session_expires_at,
                   u.id as user_id,
                   u.email,
                   u.password_hash,
                   u.created_at as user_created_at
            from sessions s join users u on u.id = s.user_id
            where s.user_id = $1 and s.id = $2",
        find_refresh_token: "
            select t.token_hash,
                   t.session_id,
                   s.user_id,
                   t.expires_at,
                   t.rotated_at,
                   s.revoked_at as session_revoked_at,
                   s.expires_at as session_expires_at
            from refresh_tokens t join sessions s on s.id = t.session_id
            where t.token_hash = $1",
        sessions_of_user: "
            select id, created_at, last_used_at, expires_at, revoked_at, user_agent
            from sessions
            where user_id = $1
            order by created_at desc, seq desc",
        sessions_revoked_since: r#"
            select id, revoked_at as "revoked_at!" from sessions where revoked_at > $1"#,
        posts_of_user: "
            select id, title, body, created_at
            from posts where user_id = $1 order by created_at desc, seq desc",
        insert_user: "
            insert into users (id, email, created_at, password_hash) values ($1, $2, $3, $4)",
        insert_session: "
            insert into sessions (id, user_id, created_at, last_used_at, expires_at, user_agent)
            values ($1, $2, $3, $3, $4, $5)",
        insert_refresh_token: "
            insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
            values ($1, $2, $3, $4)",
        insert_post: "
            insert into posts (user_id, id, title, body, created_at) values ($1, $2, $3, $4, $5)",
        touch_session: "update sessions set last_used_at = $2 where id = $1",
        // Locks the token's row and its session's (not the user's).
        lock_refresh_token: "
            select t.token_hash,
                   t.session_id,
                   t.expires_at,
                   t.rotated_at,
                   s.revoked_at as session_revoked_at,
                   s.expires_at as session_expires_at,
                   u.id as user_id,
                   u.email,
                   u.created_at as user_created_at
            from refresh_tokens t
            join sessions s on s.id = t.session_id
            join users u on u.id = s.user_id
            where t.token_hash = $1
            for update of t, s",
        mark_rotated: "
            update refresh_tokens set rotated_at = $2 where token_hash = $1 and rotated_at is null",
        replace_password_hash: "
            update users set password_hash = $3 where id = $1 and password_hash = $2",
        revoke_session_of_user: "
            update sessions set revoked_at = coalesce(revoked_at, $3)
            where id = $2 and user_id = $1",
        revoke_sessions_of_user_except: "
            update sessions set revoked_at = $3
            where user_id = $1 and revoked_at is null and id is distinct from $2
            returning id",
        // Only session rows are locked, so the lock order holds.
        revoke_sessions_beyond: "
            update sessions set revoked_at = $3
            where id in (
                select id from sessions
                where user_id = $1 and revoked_at is null and expires_at > $3
                order by last_used_at desc, created_at desc, id desc
                offset $2
            )
            returning id",
        delete_expired_tokens: "
            delete from refresh_tokens where token_hash in (
                select token_hash from refresh_tokens where expires_at <= $1 limit $2
            )",
    }

    async fn lock_user(&mut self, user_id: Uuid) -> Result<()> {
        let query = sqlx::query!("select id from users where id = $1 for update", user_id);
        query.fetch_optional(&mut *self).await?;
        Ok(())
    }

    /// The tokens of the batch are deleted before the sessions, in one
    /// transaction: a rotation locks a token before its session, and the
    /// cascade of deleting a session first would lock them the other way
    /// round, so the two could deadlock (and PostgreSQL would fail one of
    /// them, perhaps the refresh). Two indexed lookups rather than one
    /// `or` over the whole table.
    async fn delete_dead_sessions(&mut self, dead: DeadSessions, batch: i64) -> Result<u64> {
        let DeadSessions { now, revoked_by } = dead;
        let mut tx = sqlx::Connection::begin(&mut *self).await?;
        let dead: Vec<Uuid> = sqlx::query_scalar!(
            r#"select id as "id!" from sessions where revoked_at <= $1
               union
               select id as "id!" from sessions where expires_at <= $2
               limit $3"#,
            revoked_by,
            now,
            batch,
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query!(
            "delete from refresh_tokens where session_id = any($1)",
            &dead[..],
        )
        .execute(&mut *tx)
        .await?;
        // A dead session stays dead, so the batch read above still holds.
        let deleted = sqlx::query!("delete from sessions where id = any($1)", &dead[..])
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}
