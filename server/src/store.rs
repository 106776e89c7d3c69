//! Every SQL statement of the server, each behind a function named for what
//! it does. The queries are checked at compile time against the migrations
//! (offline data in `.sqlx/` at the workspace root).
//!
//! Ids are UUIDs stored as blobs; times are `DateTime<Utc>` stored as
//! RFC 3339 text with a `+00:00` offset, which compares correctly as text.

use std::str::FromStr;
use std::time::Duration;

use app::model::{Post, User};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::auth::tokens::RefreshTokenHash;
use crate::error::{Error, Result};

/// Opens the database, creating the file (and its folder) if missing.
/// WAL lets readers and the one writer work side by side; `busy_timeout`
/// makes a writer wait for another instead of failing at once.
pub async fn connect(database_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if let Some(folder) = options.get_filename().parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder)?;
    }
    Ok(SqlitePoolOptions::new().connect_with(options).await?)
}

/// Brings the schema up to date; run at every start.
pub async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}

/// A login about to be stored, with the hash of its first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The absolute end of the session; rotation never moves it.
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub refresh_token_hash: RefreshTokenHash,
    pub refresh_expires_at: DateTime<Utc>,
}

/// What login needs to check a password.
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: String,
}

/// The flat row both credential queries select.
struct CredentialsRow {
    id: Uuid,
    email: String,
    password_hash: String,
    created_at: DateTime<Utc>,
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

/// A refresh token as stored, with the state of its session.
#[derive(Clone, Debug)]
pub struct StoredRefreshToken {
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub session_revoked_at: Option<DateTime<Utc>>,
    pub session_expires_at: DateTime<Utc>,
}

/// The session whose token was just rotated, and its user.
#[derive(Clone, Debug)]
pub struct RotatedSession {
    pub session_id: Uuid,
    pub user: User,
    /// The session's absolute end, which the cookies' `Max-Age` follow.
    pub session_expires_at: DateTime<Utc>,
}

/// Answers once the database does.
#[tracing::instrument(name = "Ping the database", skip_all)]
pub async fn ping(pool: &SqlitePool) -> Result<()> {
    sqlx::query!("select 1 as one").fetch_one(pool).await?;
    Ok(())
}

/// Register: the user and their first session, both or neither.
#[tracing::instrument(name = "Create a user with a first session", skip_all, fields(user_id = %user.id))]
pub async fn create_user_with_session(
    pool: &SqlitePool,
    user: &User,
    password_hash: &str,
    session: &NewSession,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into users (id, email, password_hash, created_at) values (?, ?, ?, ?)",
        user.id,
        user.email,
        password_hash,
        user.created_at,
    )
    .execute(&mut *tx)
    .await
    .map_err(|error| match error {
        // The id is a fresh v4 UUID, so the email is the constraint that fails.
        sqlx::Error::Database(ref db) if db.is_unique_violation() => Error::EmailTaken,
        other => Error::Database(other),
    })?;
    insert_session(&mut tx, session).await?;
    tx.commit().await?;
    Ok(())
}

/// Login: a new session for an existing user.
#[tracing::instrument(name = "Create a session", skip_all, fields(session_id = %session.id))]
pub async fn create_session(pool: &SqlitePool, session: &NewSession) -> Result<()> {
    let mut tx = pool.begin().await?;
    insert_session(&mut tx, session).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_session(conn: &mut SqliteConnection, session: &NewSession) -> Result<()> {
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
    .execute(&mut *conn)
    .await?;
    let hash = &session.refresh_token_hash.0[..];
    sqlx::query!(
        "insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
         values (?, ?, ?, ?)",
        hash,
        session.id,
        session.created_at,
        session.refresh_expires_at,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The user with this (normalised) email and their password hash.
#[tracing::instrument(name = "Find credentials by email", skip_all)]
pub async fn find_credentials_by_email(
    pool: &SqlitePool,
    email: &str,
) -> Result<Option<StoredCredentials>> {
    let row = sqlx::query_as!(
        CredentialsRow,
        r#"select id as "id: Uuid", email, password_hash, created_at as "created_at: DateTime<Utc>"
           from users where email = ?"#,
        email,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(StoredCredentials::from))
}

/// One primary-key read.
#[tracing::instrument(name = "Find user by id", skip(pool))]
pub async fn find_user_by_id(pool: &SqlitePool, user_id: Uuid) -> Result<Option<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select id as "id: Uuid", email, created_at as "created_at: DateTime<Utc>"
           from users where id = ?"#,
        user_id,
    )
    .fetch_optional(pool)
    .await?)
}

/// Rotates a refresh token if, and only if, it is the current token of a
/// live session: one conditional `update ... returning` marks it rotated,
/// so of many concurrent calls with one token exactly one gets a row back.
/// The new token is stored in the same transaction and never outlives the
/// session. `None` means "not rotated", and the caller finds out why.
#[tracing::instrument(name = "Rotate a refresh token", skip_all)]
pub async fn rotate_refresh_token(
    pool: &SqlitePool,
    old: &RefreshTokenHash,
    new: &RefreshTokenHash,
    new_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<RotatedSession>> {
    let old_hash = &old.0[..];
    let new_hash = &new.0[..];
    // `begin immediate` takes SQLite's write lock before anything is read,
    // so concurrent rotations queue on `busy_timeout`, one at a time, and
    // each sees the one before it.
    let mut tx = pool.begin_with("begin immediate").await?;
    let rotated = sqlx::query!(
        r#"update refresh_tokens set rotated_at = ?
           where token_hash = ?
             and rotated_at is null
             and expires_at > ?
             and exists (
                 select 1 from sessions
                 where sessions.id = refresh_tokens.session_id
                   and sessions.revoked_at is null
                   and sessions.expires_at > ?
             )
           returning token_hash, session_id as "session_id: Uuid""#,
        now,
        old_hash,
        now,
        now,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(rotated) = rotated.filter(|row| old.matches(&row.token_hash)) else {
        return Ok(None);
    };
    sqlx::query!(
        "insert into refresh_tokens (token_hash, session_id, created_at, expires_at)
         select ?, id, ?, min(?, expires_at) from sessions where id = ?",
        new_hash,
        now,
        new_expires_at,
        rotated.session_id,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update sessions set last_used_at = ? where id = ?",
        now,
        rotated.session_id,
    )
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query!(
        r#"select users.id as "id: Uuid", users.email, users.created_at as "created_at: DateTime<Utc>",
                  sessions.expires_at as "session_expires_at: DateTime<Utc>"
           from users join sessions on sessions.user_id = users.id
           where sessions.id = ?"#,
        rotated.session_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(RotatedSession {
        session_id: rotated.session_id,
        user: User {
            id: row.id,
            email: row.email,
            created_at: row.created_at,
        },
        session_expires_at: row.session_expires_at,
    }))
}

/// A refresh token and its session, whatever their state.
#[tracing::instrument(name = "Find a refresh token", skip_all)]
pub async fn find_refresh_token(
    pool: &SqlitePool,
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
    .fetch_optional(pool)
    .await?;
    Ok(row.filter(|row| hash.matches(&row.token_hash)))
}

/// Notes that a session was just used (the grace answer of a refresh).
#[tracing::instrument(name = "Touch a session", skip(pool, now))]
pub async fn touch_session(pool: &SqlitePool, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    sqlx::query!(
        "update sessions set last_used_at = ? where id = ?",
        now,
        session_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Revokes a session, and so every refresh token of it. The first
/// revocation time is kept: revoking again changes nothing.
#[tracing::instrument(name = "Revoke a session", skip(pool, now))]
pub async fn revoke_session(pool: &SqlitePool, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    sqlx::query!(
        "update sessions set revoked_at = ? where id = ? and revoked_at is null",
        now,
        session_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A session as the session list shows it.
#[derive(Clone, Debug)]
pub struct StoredSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

/// Whether this session of this user is live: not revoked, not past its
/// absolute end.
#[tracing::instrument(name = "Check a session is live", skip(pool, now))]
pub async fn session_is_live(
    pool: &SqlitePool,
    user_id: Uuid,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool> {
    let row = sqlx::query!(
        r#"select count(*) as "count!: i64" from sessions
           where id = ? and user_id = ? and revoked_at is null and expires_at > ?"#,
        session_id,
        user_id,
        now,
    )
    .fetch_one(pool)
    .await?;
    Ok(row.count > 0)
}

/// A user's live sessions, newest first.
#[tracing::instrument(name = "List a user's live sessions", skip(pool, now))]
pub async fn list_live_sessions_of_user(
    pool: &SqlitePool,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<StoredSession>> {
    Ok(sqlx::query_as!(
        StoredSession,
        r#"select id as "id: Uuid",
                  created_at as "created_at: DateTime<Utc>",
                  last_used_at as "last_used_at: DateTime<Utc>",
                  expires_at as "expires_at: DateTime<Utc>",
                  user_agent
           from sessions
           where user_id = ? and revoked_at is null and expires_at > ?
           order by created_at desc, rowid desc"#,
        user_id,
        now,
    )
    .fetch_all(pool)
    .await?)
}

/// Revokes one session of one user, keeping the first revocation time.
/// `false` when the user has no session with this id (someone else's
/// session counts as none).
#[tracing::instrument(name = "Revoke a session of a user", skip(pool, now))]
pub async fn revoke_session_of_user(
    pool: &SqlitePool,
    user_id: Uuid,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool> {
    let affected = sqlx::query!(
        "update sessions set revoked_at = coalesce(revoked_at, ?) where id = ? and user_id = ?",
        now,
        session_id,
        user_id,
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(affected > 0)
}

/// Revokes every session of a user; returns how many were live.
#[tracing::instrument(name = "Revoke every session of a user", skip(pool, now))]
pub async fn revoke_all_sessions_of_user(
    pool: &SqlitePool,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query!(
        "update sessions set revoked_at = ? where user_id = ? and revoked_at is null",
        now,
        user_id,
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// The credentials of the user of a live session, for a password change:
/// `None` when the session is revoked, over, or not this user's.
#[tracing::instrument(name = "Find credentials of a live session", skip(pool, now))]
pub async fn find_credentials_of_live_session(
    pool: &SqlitePool,
    user_id: Uuid,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<StoredCredentials>> {
    let row = sqlx::query_as!(
        CredentialsRow,
        r#"select u.id as "id: Uuid", u.email, u.password_hash,
                  u.created_at as "created_at: DateTime<Utc>"
           from users u join sessions s on s.user_id = u.id
           where u.id = ? and s.id = ? and s.revoked_at is null and s.expires_at > ?"#,
        user_id,
        session_id,
        now,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(StoredCredentials::from))
}

/// Why a password change was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// Stored, and every other session of the user revoked.
    Changed,
    /// The session making the change was revoked or ended meanwhile.
    SessionGone,
    /// The password was changed by another request since it was checked.
    PasswordMoved,
}

/// Replaces a user's password hash and revokes every other session of the
/// user, both or neither. The write lock is taken first, and the new hash is
/// stored only if the hash is still the one the caller checked the current
/// password against and the caller's session is still live.
#[tracing::instrument(name = "Change a password", skip_all, fields(user_id = %user_id))]
pub async fn change_password(
    pool: &SqlitePool,
    user_id: Uuid,
    keep_session: Uuid,
    checked_hash: &str,
    new_hash: &str,
    now: DateTime<Utc>,
) -> Result<PasswordChange> {
    let mut tx = pool.begin_with("begin immediate").await?;
    let live = sqlx::query!(
        r#"select count(*) as "count!: i64" from sessions
           where id = ? and user_id = ? and revoked_at is null and expires_at > ?"#,
        keep_session,
        user_id,
        now,
    )
    .fetch_one(&mut *tx)
    .await?;
    if live.count == 0 {
        return Ok(PasswordChange::SessionGone);
    }
    let changed = sqlx::query!(
        "update users set password_hash = ? where id = ? and password_hash = ?",
        new_hash,
        user_id,
        checked_hash,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(PasswordChange::PasswordMoved);
    }
    sqlx::query!(
        "update sessions set revoked_at = ? where user_id = ? and id <> ? and revoked_at is null",
        now,
        user_id,
        keep_session,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PasswordChange::Changed)
}

/// Deletes what can no longer be used: expired refresh tokens, and revoked
/// or expired sessions with all their tokens. Rotated tokens stay until they
/// expire, so that their reuse is still recognised. Returns the numbers of
/// tokens and sessions deleted.
#[tracing::instrument(name = "Delete expired sessions and tokens", skip_all)]
pub async fn delete_expired_sessions_and_tokens(
    pool: &SqlitePool,
    now: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let mut tx = pool.begin().await?;
    let tokens = sqlx::query!("delete from refresh_tokens where expires_at <= ?", now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let sessions = sqlx::query!(
        "delete from sessions where revoked_at is not null or expires_at <= ?",
        now
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((tokens, sessions))
}

/// Counts a session's refresh tokens that can still be rotated; for tests
/// and diagnostics.
#[tracing::instrument(name = "Count live refresh tokens", skip(pool, now))]
pub async fn count_live_refresh_tokens(
    pool: &SqlitePool,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<i64> {
    let row = sqlx::query!(
        r#"select count(*) as "count!: i64" from refresh_tokens t join sessions s on s.id = t.session_id
           where t.session_id = ? and t.rotated_at is null and t.expires_at > ?
             and s.revoked_at is null and s.expires_at > ?"#,
        session_id,
        now,
        now,
    )
    .fetch_one(pool)
    .await?;
    Ok(row.count)
}

/// Stores a new post of a user.
#[tracing::instrument(name = "Insert a post", skip(pool, post), fields(post_id = %post.id))]
pub async fn insert_post(pool: &SqlitePool, user_id: Uuid, post: &Post) -> Result<()> {
    sqlx::query!(
        "insert into posts (id, user_id, title, body, created_at) values (?, ?, ?, ?, ?)",
        post.id,
        user_id,
        post.title,
        post.body,
        post.created_at,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A user's own posts, newest first.
#[tracing::instrument(name = "List a user's posts", skip(pool))]
pub async fn list_posts_of_user(pool: &SqlitePool, user_id: Uuid) -> Result<Vec<Post>> {
    Ok(sqlx::query_as!(
        Post,
        r#"select id as "id: Uuid", title, body, created_at as "created_at: DateTime<Utc>"
           from posts where user_id = ? order by created_at desc, rowid desc"#,
        user_id,
    )
    .fetch_all(pool)
    .await?)
}

// --- added by pages ---

/// The user of a live session (not revoked, not past its absolute end),
/// in one read: what `/auth/me`, the pages and the account endpoints ask
/// before trusting an access token. `None` when the session is over or is
/// not this user's.
#[tracing::instrument(name = "Find the user of a live session", skip(pool, now))]
pub async fn find_user_of_live_session(
    pool: &SqlitePool,
    user_id: Uuid,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select u.id as "id: Uuid", u.email, u.created_at as "created_at: DateTime<Utc>"
           from users u join sessions s on s.user_id = u.id
           where u.id = ? and s.id = ? and s.revoked_at is null and s.expires_at > ?"#,
        user_id,
        session_id,
        now,
    )
    .fetch_optional(pool)
    .await?)
}

// --- end of added by pages ---

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::tokens::RefreshToken;

    /// A fresh, migrated database file; the folder lives as long as the pool.
    async fn test_pool() -> (SqlitePool, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let pool = connect(&url).await.unwrap();
        migrate(&pool).await.unwrap();
        (pool, dir)
    }

    fn new_session(user_id: Uuid, lifetime: Duration) -> NewSession {
        let now = Utc::now();
        NewSession {
            id: Uuid::new_v4(),
            user_id,
            created_at: now,
            expires_at: now + lifetime,
            user_agent: Some("test".into()),
            refresh_token_hash: RefreshToken::generate().unwrap().hash(),
            refresh_expires_at: now + lifetime,
        }
    }

    async fn user_with_session(pool: &SqlitePool, lifetime: Duration) -> (User, NewSession) {
        let now = Utc::now();
        let user = User {
            id: Uuid::new_v4(),
            email: format!("{}@example.com", Uuid::new_v4()),
            created_at: now,
        };
        let session = new_session(user.id, lifetime);
        create_user_with_session(pool, &user, "hash", &session)
            .await
            .unwrap();
        (user, session)
    }

    #[tokio::test]
    async fn of_fifty_concurrent_rotations_of_one_token_exactly_one_succeeds() {
        // Arrange
        let (pool, _dir) = test_pool().await;
        let (_, session) = user_with_session(&pool, Duration::days(1)).await;

        // Act
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let pool = pool.clone();
            let old = session.refresh_token_hash;
            tasks.spawn(async move {
                let new = RefreshToken::generate().unwrap().hash();
                let now = Utc::now();
                rotate_refresh_token(&pool, &old, &new, now + Duration::days(1), now)
                    .await
                    .unwrap()
            });
        }
        let results = tasks.join_all().await;

        // Assert
        assert_eq!(results.iter().filter(|r| r.is_some()).count(), 1);
        let live = count_live_refresh_tokens(&pool, session.id, Utc::now())
            .await
            .unwrap();
        assert_eq!(live, 1);
    }

    #[tokio::test]
    async fn a_rotated_token_never_outlives_its_session() {
        let (pool, _dir) = test_pool().await;
        let (_, session) = user_with_session(&pool, Duration::hours(1)).await;
        let new = RefreshToken::generate().unwrap().hash();
        let now = Utc::now();

        rotate_refresh_token(
            &pool,
            &session.refresh_token_hash,
            &new,
            now + Duration::days(30),
            now,
        )
        .await
        .unwrap()
        .unwrap();

        let stored = find_refresh_token(&pool, &new).await.unwrap().unwrap();
        assert_eq!(stored.expires_at, session.expires_at);
        assert_eq!(stored.session_expires_at, session.expires_at);
    }

    #[tokio::test]
    async fn revoking_a_session_leaves_rotation_times_alone() {
        // Arrange
        let (pool, _dir) = test_pool().await;
        let (_, session) = user_with_session(&pool, Duration::days(1)).await;
        let rotated_at = Utc::now();
        let new = RefreshToken::generate().unwrap().hash();
        rotate_refresh_token(
            &pool,
            &session.refresh_token_hash,
            &new,
            rotated_at + Duration::days(1),
            rotated_at,
        )
        .await
        .unwrap();

        // Act
        revoke_session(&pool, session.id, rotated_at + Duration::seconds(5))
            .await
            .unwrap();
        revoke_session(&pool, session.id, rotated_at + Duration::seconds(9))
            .await
            .unwrap();

        // Assert
        let old = find_refresh_token(&pool, &session.refresh_token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.rotated_at, Some(rotated_at));
        assert_eq!(
            old.session_revoked_at,
            Some(rotated_at + Duration::seconds(5))
        );
        let rotate_again = rotate_refresh_token(
            &pool,
            &new,
            &RefreshToken::generate().unwrap().hash(),
            Utc::now() + Duration::days(1),
            Utc::now(),
        )
        .await
        .unwrap();
        assert!(
            rotate_again.is_none(),
            "a revoked session's current token no longer rotates"
        );
    }

    #[tokio::test]
    async fn a_second_account_with_the_same_email_is_email_taken_and_writes_nothing() {
        let (pool, _dir) = test_pool().await;
        let (user, _) = user_with_session(&pool, Duration::days(1)).await;
        let twin = User {
            id: Uuid::new_v4(),
            ..user.clone()
        };
        let session = NewSession {
            id: Uuid::new_v4(),
            user_id: twin.id,
            created_at: Utc::now(),
            expires_at: Utc::now() + Duration::days(1),
            user_agent: None,
            refresh_token_hash: RefreshToken::generate().unwrap().hash(),
            refresh_expires_at: Utc::now() + Duration::days(1),
        };

        let result = create_user_with_session(&pool, &twin, "hash", &session).await;

        assert!(matches!(result, Err(Error::EmailTaken)));
        assert!(find_user_by_id(&pool, twin.id).await.unwrap().is_none());
        assert!(
            find_refresh_token(&pool, &session.refresh_token_hash)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_password_change_revokes_the_other_sessions_only_if_nothing_moved_meanwhile() {
        // Arrange: one user, two sessions.
        let (pool, _dir) = test_pool().await;
        let (user, this) = user_with_session(&pool, Duration::days(1)).await;
        let other = new_session(user.id, Duration::days(1));
        create_session(&pool, &other).await.unwrap();
        let now = Utc::now();

        // Act
        let stale = change_password(&pool, user.id, this.id, "not the hash", "new", now)
            .await
            .unwrap();
        let changed = change_password(&pool, user.id, this.id, "hash", "new", now)
            .await
            .unwrap();
        let again = change_password(&pool, user.id, this.id, "hash", "newer", now)
            .await
            .unwrap();

        // Assert
        assert_eq!(stale, PasswordChange::PasswordMoved);
        assert_eq!(changed, PasswordChange::Changed);
        assert_eq!(
            again,
            PasswordChange::PasswordMoved,
            "the hash it checked is gone"
        );
        assert!(session_is_live(&pool, user.id, this.id, now).await.unwrap());
        assert!(
            !session_is_live(&pool, user.id, other.id, now)
                .await
                .unwrap()
        );
        let stored = find_credentials_by_email(&pool, &user.email)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.password_hash, "new");
    }

    #[tokio::test]
    async fn a_revoked_session_cannot_change_the_password() {
        let (pool, _dir) = test_pool().await;
        let (user, session) = user_with_session(&pool, Duration::days(1)).await;
        revoke_all_sessions_of_user(&pool, user.id, Utc::now())
            .await
            .unwrap();

        let result = change_password(&pool, user.id, session.id, "hash", "new", Utc::now())
            .await
            .unwrap();

        assert_eq!(result, PasswordChange::SessionGone);
        let stored = find_credentials_by_email(&pool, &user.email)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.password_hash, "hash");
    }

    #[tokio::test]
    async fn only_the_owner_can_revoke_a_session_and_only_live_ones_are_listed() {
        let (pool, _dir) = test_pool().await;
        let (ada, ada_session) = user_with_session(&pool, Duration::days(1)).await;
        let (grace, _) = user_with_session(&pool, Duration::days(1)).await;
        let now = Utc::now();

        let by_grace = revoke_session_of_user(&pool, grace.id, ada_session.id, now)
            .await
            .unwrap();
        let listed_before = list_live_sessions_of_user(&pool, ada.id, now)
            .await
            .unwrap();
        let by_ada = revoke_session_of_user(&pool, ada.id, ada_session.id, now)
            .await
            .unwrap();
        let listed_after = list_live_sessions_of_user(&pool, ada.id, now)
            .await
            .unwrap();

        assert!(!by_grace);
        assert_eq!(listed_before.len(), 1);
        assert!(by_ada);
        assert!(listed_after.is_empty());
    }

    #[tokio::test]
    async fn posts_are_listed_newest_first_and_only_for_their_owner() {
        let (pool, _dir) = test_pool().await;
        let (ada, _) = user_with_session(&pool, Duration::days(1)).await;
        let (grace, _) = user_with_session(&pool, Duration::days(1)).await;
        let base = chrono::Timelike::with_nanosecond(&Utc::now(), 0).unwrap();
        for (i, title) in ["one", "two", "three"].into_iter().enumerate() {
            let post = Post {
                id: Uuid::new_v4(),
                title: title.into(),
                body: String::new(),
                // :00, :00.500, :01 — with and without fractions, which must
                // still sort correctly as text.
                created_at: base + Duration::milliseconds(500 * i64::try_from(i).unwrap()),
            };
            insert_post(&pool, ada.id, &post).await.unwrap();
        }

        let titles: Vec<_> = list_posts_of_user(&pool, ada.id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.title)
            .collect();

        assert_eq!(titles, ["three", "two", "one"]);
        assert!(
            list_posts_of_user(&pool, grace.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
