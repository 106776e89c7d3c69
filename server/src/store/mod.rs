//! The store: what handlers and services ask of the database, in names and
//! types that do not depend on which database it is. Each backend is one
//! module beside this one (`sqlite.rs`, `postgres.rs`) holding all of its SQL;
//! [`Store`] picks the backend from `DATABASE_URL` at start and forwards
//! every call to it, so adding a backend means a module and one arm per
//! [`dispatch!`], not a change to any caller.
//!
//! What several instances must share lives in PostgreSQL and nowhere else
//! (the shared throttle, the signing key ring), so the few parts that keep
//! it ask for the PostgreSQL backend itself ([`Store::postgres`]) and, on
//! SQLite, keep it in memory or in the data folder instead.
//!
//! Every statement is named once, in `statements.rs`, and its Rust is
//! written once there; each backend gives its SQL. Every write that takes
//! more than one statement is one transaction, written once for both
//! backends in `transactions.rs`; reads that a write depends on happen
//! inside its transaction, under its locks.

mod postgres;
mod rows;
mod sqlite;
mod statements;
mod transactions;

pub use postgres::PostgresStore;

/// The black-box suites' PostgreSQL test database, shared with this
/// module's tests and the throttle's.
#[cfg(test)]
#[path = "../../tests/common/pg_test_database.rs"]
#[allow(
    dead_code,
    reason = "the store's tests only create and drop; the suites use the rest"
)]
mod pg_test_database;

use app::model::{Post, User};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use self::statements::Statements;
use crate::auth::tokens::RefreshTokenHash;
use crate::config::DatabaseUrl;
use crate::error::Result;

/// The database behind the server; cheap to clone (it holds pools).
#[derive(Clone)]
pub struct Store(Backend);

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

/// Forwards a call to whichever backend the store runs on.
macro_rules! dispatch {
    ($store:expr, $backend:ident => $call:expr) => {
        match &$store.0 {
            Backend::Sqlite($backend) => $call,
            Backend::Postgres($backend) => $call,
        }
    };
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

impl StoredRefreshToken {
    /// Whether the token's session is still live (see [`is_live`]).
    pub fn session_is_live(&self, now: DateTime<Utc>) -> bool {
        is_live(self.session_revoked_at, self.session_expires_at, now)
    }
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

/// A revoked session and when it was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevokedSession {
    pub id: Uuid,
    pub revoked_at: DateTime<Utc>,
}

/// A signing key as the `signing_keys` table holds it (PostgreSQL only;
/// `auth::keys` checks and uses it). `Debug` would show the secret, so it
/// has none.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub generation: i64,
    /// `HS256` or `EdDSA`.
    pub alg: String,
    /// The HMAC key or the Ed25519 seed.
    pub secret: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Which sessions the cleanup sweep deletes: those past their absolute end
/// at `now`, and those revoked at or before `revoked_by`. A session revoked
/// later may still have an unexpired access token, which a restart must go
/// on refusing, so it is kept until then and read back into the revoked
/// set at start. (The negation of [`is_live`], in SQL because it deletes
/// in bulk.)
#[derive(Clone, Copy, Debug)]
pub struct DeadSessions {
    pub now: DateTime<Utc>,
    pub revoked_by: DateTime<Utc>,
}

/// What an attempt to rotate a refresh token found, and the time it was
/// made at: read after the write lock was held, so a request that queued
/// behind others is judged by when it ran, not by when it arrived.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub now: DateTime<Utc>,
    pub outcome: RotationOutcome,
}

#[derive(Clone, Debug)]
pub enum RotationOutcome {
    /// The token was the current token of a live session and is now
    /// rotated; the new one is stored.
    Rotated {
        session_id: Uuid,
        user: User,
        /// The session's absolute end, which the cookies' `Max-Age` follow.
        session_expires_at: DateTime<Utc>,
    },
    /// Nothing was written. The token's record as it stood (if there is
    /// one), for the caller to tell a reuse from a revoked session.
    NotRotated(Option<StoredRefreshToken>),
}

/// One limiter of the shared throttle and its rule: at most `max`
/// attempts per key within `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleRule {
    pub limiter: i16,
    pub window: chrono::Duration,
    pub max: u32,
}

/// What counting an attempt in the shared throttle found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleCount {
    /// Counted against every key.
    Counted,
    /// A key is at its limit, so nothing was counted. Its `max`-th newest
    /// attempt in the window (the latest such of all full keys): once that
    /// leaves the window, the key is under its limit again.
    Refused { oldest_that_matters: DateTime<Utc> },
}

/// A password change about to be stored, made by the user's session
/// `session_id`, which stays signed in while every other session of the
/// user is revoked.
#[derive(Clone, Copy, Debug)]
pub struct PasswordReplacement<'a> {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The stored hash that the current password was checked against.
    pub checked_hash: &'a str,
    pub new_hash: &'a str,
}

/// Why a password change was or was not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// Stored, and every other session of the user revoked: these.
    Changed { revoked: Vec<Uuid> },
    /// The session making the change was revoked or ended meanwhile.
    SessionGone,
    /// Another request changed the password after the caller checked the
    /// current one: what the caller checked is no longer the password.
    ChangedConcurrently,
}

/// The one definition of a live session: not revoked, and not past its
/// absolute end. Every query that cares reads both columns and asks this,
/// rather than repeating the condition in its SQL.
pub fn is_live(
    revoked_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    revoked_at.is_none() && expires_at > now
}

impl Store {
    /// Opens the database `DATABASE_URL` names, creating it if it is an
    /// SQLite file that does not exist yet, and brings its schema up to
    /// date. (The URL's scheme was checked when the settings were read.)
    pub async fn connect(database_url: &DatabaseUrl) -> anyhow::Result<Self> {
        Ok(Self(match database_url {
            DatabaseUrl::Sqlite(url) => Backend::Sqlite(sqlite::SqliteStore::connect(url).await?),
            DatabaseUrl::Postgres(url) => {
                Backend::Postgres(postgres::PostgresStore::connect(url).await?)
            }
        }))
    }

    /// Answers once the database does.
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, db => db.ping().await)
    }

    /// Register: the user and their first session, both or neither.
    /// `EmailTaken` when the email has an account already.
    #[tracing::instrument(name = "Create a user with a first session", skip_all, fields(user_id = %user.id))]
    pub async fn create_user_with_session(
        &self,
        user: &User,
        password_hash: &str,
        session: &NewSession,
    ) -> Result<()> {
        dispatch!(self, db => {
            let tx = db.write_transaction().await?;
            transactions::create_user_with_session(tx, user, password_hash, session).await
        })
    }

    /// Login: a new session for an existing user.
    #[tracing::instrument(name = "Create a session", skip_all, fields(session_id = %session.id))]
    pub async fn create_session(&self, session: &NewSession) -> Result<()> {
        dispatch!(self, db => {
            transactions::create_session(db.write_transaction().await?, session).await
        })
    }

    /// The user with this (normalised) email and their password hash.
    #[tracing::instrument(name = "Find credentials by email", skip_all)]
    pub async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<StoredCredentials>> {
        let row = dispatch!(self, db => db.reader().await?.find_credentials_by_email(email).await)?;
        Ok(row.map(StoredCredentials::from))
    }

    /// One primary-key read.
    #[tracing::instrument(name = "Find user by id", skip(self))]
    pub async fn find_user_by_id(&self, user_id: Uuid) -> Result<Option<User>> {
        dispatch!(self, db => db.reader().await?.find_user_by_id(user_id).await)
    }

    /// The user, if `session_id` is a live session of theirs: one read, for
    /// everything that must refuse a revoked session at once.
    pub async fn find_user_of_live_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<User>> {
        Ok(self
            .find_credentials_of_live_session(user_id, session_id, now)
            .await?
            .map(|credentials| credentials.user))
    }

    /// The credentials of the user of a live session, for a password
    /// change: `None` when the session is revoked, over, or not this user's.
    #[tracing::instrument(name = "Find credentials of a live session", skip(self, now))]
    pub async fn find_credentials_of_live_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredCredentials>> {
        let session = dispatch!(self, db => {
            db.reader().await?.session_of_user(user_id, session_id).await
        })?;
        Ok(session
            .filter(|session| session.is_live(now))
            .map(StoredCredentials::from))
    }

    /// Rotates a refresh token if, and only if, it is the current token of
    /// a live session: of many concurrent calls with one token exactly one
    /// rotates it. `clock` is read once the write lock is held; the new
    /// token lives `refresh_ttl` from then, and never past its session.
    #[tracing::instrument(name = "Rotate a refresh token", skip_all)]
    pub async fn rotate_refresh_token(
        &self,
        old: &RefreshTokenHash,
        new: &RefreshTokenHash,
        refresh_ttl: chrono::Duration,
        clock: impl FnOnce() -> DateTime<Utc> + Send,
    ) -> Result<Rotation> {
        dispatch!(self, db => {
            let tx = db.write_transaction().await?;
            transactions::rotate_refresh_token(tx, old, new, refresh_ttl, clock).await
        })
    }

    /// A refresh token and its session, whatever their state.
    #[tracing::instrument(name = "Find a refresh token", skip_all)]
    pub async fn find_refresh_token(
        &self,
        hash: &RefreshTokenHash,
    ) -> Result<Option<StoredRefreshToken>> {
        let row = dispatch!(self, db => db.reader().await?.find_refresh_token(hash).await)?;
        Ok(row.filter(|row| hash.matches(&row.token_hash)))
    }

    /// Notes that a session was just used (the grace answer of a refresh).
    #[tracing::instrument(name = "Touch a session", skip(self, now))]
    pub async fn touch_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
        dispatch!(self, db => db.writer().await?.touch_session(session_id, now).await)
    }

    /// A user's live sessions, newest first.
    #[tracing::instrument(name = "List a user's live sessions", skip(self, now))]
    pub async fn list_live_sessions_of_user(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredSession>> {
        let rows = dispatch!(self, db => db.reader().await?.sessions_of_user(user_id).await)?;
        Ok(rows::live_sessions(rows, now))
    }

    /// Revokes one session of one user, and so every refresh token of it.
    /// The first revocation time is kept: revoking again changes nothing.
    /// `false` when the user has no session with this id (someone else's
    /// session counts as none).
    #[tracing::instrument(name = "Revoke a session of a user", skip(self, now))]
    pub async fn revoke_session_of_user(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, db => {
            let mut conn = db.writer().await?;
            conn.revoke_session_of_user(user_id, session_id, now).await
        })
    }

    /// Revokes every session of a user; returns the ids of those that were
    /// not revoked before.
    #[tracing::instrument(name = "Revoke every session of a user", skip(self, now))]
    pub async fn revoke_all_sessions_of_user(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        dispatch!(self, db => {
            let mut conn = db.writer().await?;
            conn.revoke_sessions_of_user_except(user_id, None, now).await
        })
    }

    /// Replaces a user's password hash and revokes every other session of
    /// the user, both or neither, under the write lock: only if the stored
    /// hash is still the one the caller checked the current password
    /// against, and the caller's session is still live.
    #[tracing::instrument(name = "Change a password", skip_all, fields(user_id = %change.user_id))]
    pub async fn change_password(
        &self,
        change: PasswordReplacement<'_>,
        now: DateTime<Utc>,
    ) -> Result<PasswordChange> {
        dispatch!(self, db => {
            transactions::change_password(db.write_transaction().await?, change, now).await
        })
    }

    /// Deletes up to `batch` expired refresh tokens; returns how many.
    /// Rotated tokens stay until they expire, so that their reuse is still
    /// recognised. One short statement, so a writer waits behind one batch
    /// of the sweep at most.
    #[tracing::instrument(name = "Delete a batch of expired tokens", skip(self, now))]
    pub async fn delete_expired_tokens(&self, now: DateTime<Utc>, batch: u32) -> Result<u64> {
        let batch = i64::from(batch);
        dispatch!(self, db => db.writer().await?.delete_expired_tokens(now, batch).await)
    }

    /// Deletes up to `batch` dead sessions, with all their tokens; returns
    /// how many sessions. A short transaction, so a writer waits behind one
    /// batch of the sweep at most.
    #[tracing::instrument(name = "Delete a batch of dead sessions", skip_all)]
    pub async fn delete_dead_sessions(&self, dead: DeadSessions, batch: u32) -> Result<u64> {
        let batch = i64::from(batch);
        dispatch!(self, db => db.writer().await?.delete_dead_sessions(dead, batch).await)
    }

    /// The sessions revoked after `since`, with their revocation times: read
    /// into the in-memory revoked set at start and, on PostgreSQL, after the
    /// revocation feed reconnects (`crate::revocation_feed`).
    #[tracing::instrument(name = "List recently revoked sessions", skip_all)]
    pub async fn sessions_revoked_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<RevokedSession>> {
        dispatch!(self, db => db.reader().await?.sessions_revoked_since(since).await)
    }

    /// The PostgreSQL backend, for what only it keeps in the database
    /// because several instances share it: the shared throttle
    /// (`auth::throttle::shared`) and the signing key ring (`auth::keys`).
    /// `None` on SQLite, where one process keeps them in memory and in the
    /// data folder.
    pub fn postgres(&self) -> Option<&PostgresStore> {
        match &self.0 {
            Backend::Postgres(store) => Some(store),
            Backend::Sqlite(_) => None,
        }
    }

    /// Revokes the user's least recently used live sessions beyond the
    /// newest `keep` (`MAX_SESSIONS_PER_USER`, by `last_used_at`); returns
    /// their ids. Run after a login has stored its session, which is then
    /// the most recently used.
    #[tracing::instrument(name = "Revoke sessions beyond the cap", skip(self, now))]
    pub async fn revoke_sessions_beyond(
        &self,
        user_id: Uuid,
        keep: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        let keep = i64::from(keep);
        dispatch!(self, db => {
            let mut conn = db.writer().await?;
            conn.revoke_sessions_beyond(user_id, keep, now).await
        })
    }

    /// Stores a new post of a user.
    #[tracing::instrument(name = "Insert a post", skip(self, post), fields(post_id = %post.id))]
    pub async fn insert_post(&self, user_id: Uuid, post: &Post) -> Result<()> {
        dispatch!(self, db => db.writer().await?.insert_post(user_id, post).await)
    }

    /// A user's own posts, newest first.
    #[tracing::instrument(name = "List a user's posts", skip(self))]
    pub async fn list_posts_of_user(&self, user_id: Uuid) -> Result<Vec<Post>> {
        dispatch!(self, db => db.reader().await?.posts_of_user(user_id).await)
    }
}

/// Through the interface only, so that every backend can be run through
/// the same tests.
#[cfg(test)]
pub(crate) mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::tokens::RefreshToken;
    use crate::error::Error;
    use crate::store::pg_test_database::PgTestDatabase;

    /// A fresh, migrated database, dropped when the returned guard is: an
    /// SQLite file in a temporary folder, or, when `TEST_POSTGRES_URL`
    /// names a PostgreSQL server (`scripts/test` starts one), a database of
    /// its own on that server.
    pub(crate) async fn test_store() -> (Store, TestDatabase) {
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) => {
                let help = "scripts/test starts one.";
                let database = PgTestDatabase::create(&admin_url, "store_test", help).await;
                let store = Store::connect(&DatabaseUrl::Postgres(database.url()))
                    .await
                    .unwrap();
                (store, TestDatabase::Postgres(database))
            }
            Err(_) => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let store = Store::connect(&DatabaseUrl::Sqlite(url)).await.unwrap();
                (store, TestDatabase::Sqlite { _folder: dir })
            }
        }
    }

    pub(crate) enum TestDatabase {
        Sqlite { _folder: tempfile::TempDir },
        Postgres(PgTestDatabase),
    }

    impl TestDatabase {
        pub(crate) fn url(&self) -> String {
            let Self::Postgres(database) = self else {
                unreachable!("only a PostgreSQL database has a URL here")
            };
            database.url()
        }
    }

    /// Now, to the microsecond: what PostgreSQL keeps of a time.
    fn now() -> DateTime<Utc> {
        chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
    }

    fn new_session(user_id: Uuid, lifetime: Duration) -> NewSession {
        let now = now();
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

    async fn user_with_session(store: &Store, lifetime: Duration) -> (User, NewSession) {
        let user = User {
            id: Uuid::new_v4(),
            email: format!("{}@example.com", Uuid::new_v4()),
            created_at: now(),
        };
        let session = new_session(user.id, lifetime);
        store
            .create_user_with_session(&user, "hash", &session)
            .await
            .unwrap();
        (user, session)
    }

    async fn rotate(store: &Store, old: &RefreshTokenHash, at: DateTime<Utc>) -> Rotation {
        let new = RefreshToken::generate().unwrap().hash();
        store
            .rotate_refresh_token(old, &new, Duration::days(30), || at)
            .await
            .unwrap()
    }

    fn rotated_user(rotation: &Rotation) -> Option<&User> {
        match &rotation.outcome {
            RotationOutcome::Rotated { user, .. } => Some(user),
            RotationOutcome::NotRotated(_) => None,
        }
    }

    #[tokio::test]
    async fn of_fifty_concurrent_rotations_of_one_token_exactly_one_succeeds() {
        // Arrange
        let (store, _dir) = test_store().await;
        let (user, session) = user_with_session(&store, Duration::days(1)).await;

        // Act
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let store = store.clone();
            let old = session.refresh_token_hash;
            tasks.spawn(async move { rotate(&store, &old, now()).await });
        }
        let results = tasks.join_all().await;

        // Assert
        let winners: Vec<_> = results.iter().filter_map(rotated_user).collect();
        assert_eq!(winners, [&user]);
        let losers_saw_it_rotated = results.iter().all(|rotation| match &rotation.outcome {
            RotationOutcome::Rotated { .. } => true,
            RotationOutcome::NotRotated(stored) => {
                stored.as_ref().is_some_and(|s| s.rotated_at.is_some())
            }
        });
        assert!(losers_saw_it_rotated);
    }

    #[tokio::test]
    async fn the_rotation_time_is_the_one_the_clock_gives_under_the_lock() {
        let (store, _dir) = test_store().await;
        let (_, session) = user_with_session(&store, Duration::days(1)).await;
        let later = now() + Duration::seconds(42);

        let rotation = rotate(&store, &session.refresh_token_hash, later).await;

        assert_eq!(rotation.now, later);
        let old = store
            .find_refresh_token(&session.refresh_token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.rotated_at, Some(later));
    }

    #[tokio::test]
    async fn a_rotated_token_never_outlives_its_session() {
        let (store, _dir) = test_store().await;
        let (_, session) = user_with_session(&store, Duration::hours(1)).await;
        let new = RefreshToken::generate().unwrap().hash();

        store
            .rotate_refresh_token(&session.refresh_token_hash, &new, Duration::days(30), now)
            .await
            .unwrap();

        let stored = store.find_refresh_token(&new).await.unwrap().unwrap();
        assert_eq!(stored.expires_at, session.expires_at);
        assert_eq!(stored.session_expires_at, session.expires_at);
    }

    #[tokio::test]
    async fn revoking_a_session_leaves_rotation_times_alone_and_stops_its_current_token() {
        // Arrange
        let (store, _dir) = test_store().await;
        let (_, session) = user_with_session(&store, Duration::days(1)).await;
        let rotated_at = now();
        let new = RefreshToken::generate().unwrap().hash();
        store
            .rotate_refresh_token(&session.refresh_token_hash, &new, Duration::days(1), || {
                rotated_at
            })
            .await
            .unwrap();

        // Act
        let first = rotated_at + Duration::seconds(5);
        store
            .revoke_session_of_user(session.user_id, session.id, first)
            .await
            .unwrap();
        store
            .revoke_session_of_user(
                session.user_id,
                session.id,
                rotated_at + Duration::seconds(9),
            )
            .await
            .unwrap();

        // Assert
        let old = store
            .find_refresh_token(&session.refresh_token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.rotated_at, Some(rotated_at));
        assert_eq!(old.session_revoked_at, Some(first));
        let again = rotate(&store, &new, now()).await;
        assert!(
            rotated_user(&again).is_none(),
            "a revoked session's current token no longer rotates"
        );
        let current = store.find_refresh_token(&new).await.unwrap().unwrap();
        assert_eq!(
            current.rotated_at, None,
            "and the refused rotation wrote nothing"
        );
    }

    #[tokio::test]
    async fn a_second_account_with_the_same_email_is_email_taken_and_writes_nothing() {
        let (store, _dir) = test_store().await;
        let (user, _) = user_with_session(&store, Duration::days(1)).await;
        let twin = User {
            id: Uuid::new_v4(),
            ..user.clone()
        };
        let session = new_session(twin.id, Duration::days(1));

        let result = store
            .create_user_with_session(&twin, "hash", &session)
            .await;

        assert!(matches!(result, Err(Error::EmailTaken)));
        assert!(store.find_user_by_id(twin.id).await.unwrap().is_none());
        let token = store
            .find_refresh_token(&session.refresh_token_hash)
            .await
            .unwrap();
        assert!(token.is_none());
    }

    #[tokio::test]
    async fn a_password_change_revokes_the_other_sessions_only_if_nothing_changed_meanwhile() {
        // Arrange: one user, two sessions.
        let (store, _dir) = test_store().await;
        let (user, this) = user_with_session(&store, Duration::days(1)).await;
        let other = new_session(user.id, Duration::days(1));
        store.create_session(&other).await.unwrap();
        let now = now();

        // Act
        let change = |checked_hash: &'static str, new_hash: &'static str| {
            let change = PasswordReplacement {
                user_id: user.id,
                session_id: this.id,
                checked_hash,
                new_hash,
            };
            store.change_password(change, now)
        };
        let stale = change("not the hash", "new").await.unwrap();
        let changed = change("hash", "new").await.unwrap();
        let again = change("hash", "newer").await.unwrap();

        // Assert
        assert_eq!(stale, PasswordChange::ChangedConcurrently);
        assert!(matches!(changed, PasswordChange::Changed { .. }));
        assert_eq!(
            again,
            PasswordChange::ChangedConcurrently,
            "the hash it checked is gone"
        );
        let live = |session: Uuid| store.find_user_of_live_session(user.id, session, now);
        assert_eq!(live(this.id).await.unwrap(), Some(user.clone()));
        assert_eq!(live(other.id).await.unwrap(), None);
        let stored = store
            .find_credentials_by_email(&user.email)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.password_hash, "new");
    }

    #[tokio::test]
    async fn a_revoked_session_cannot_change_the_password() {
        let (store, _dir) = test_store().await;
        let (user, session) = user_with_session(&store, Duration::days(1)).await;
        store
            .revoke_all_sessions_of_user(user.id, now())
            .await
            .unwrap();

        let result = store
            .change_password(
                PasswordReplacement {
                    user_id: user.id,
                    session_id: session.id,
                    checked_hash: "hash",
                    new_hash: "new",
                },
                now(),
            )
            .await
            .unwrap();

        assert_eq!(result, PasswordChange::SessionGone);
        let stored = store
            .find_credentials_by_email(&user.email)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.password_hash, "hash");
    }

    #[tokio::test]
    async fn a_live_session_is_found_only_for_its_own_user_and_until_it_ends() {
        let (store, _dir) = test_store().await;
        let (ada, session) = user_with_session(&store, Duration::hours(1)).await;
        let (grace, _) = user_with_session(&store, Duration::hours(1)).await;
        let now = now();
        let find = |user: Uuid, at| store.find_user_of_live_session(user, session.id, at);

        assert_eq!(find(ada.id, now).await.unwrap(), Some(ada.clone()));
        assert_eq!(find(grace.id, now).await.unwrap(), None);
        assert_eq!(find(ada.id, session.expires_at).await.unwrap(), None);
    }

    #[tokio::test]
    async fn only_the_owner_can_revoke_a_session_and_only_live_ones_are_listed() {
        let (store, _dir) = test_store().await;
        let (ada, ada_session) = user_with_session(&store, Duration::days(1)).await;
        let (grace, _) = user_with_session(&store, Duration::days(1)).await;
        let now = now();

        let by_grace = store
            .revoke_session_of_user(grace.id, ada_session.id, now)
            .await
            .unwrap();
        let listed_before = store.list_live_sessions_of_user(ada.id, now).await.unwrap();
        let by_ada = store
            .revoke_session_of_user(ada.id, ada_session.id, now)
            .await
            .unwrap();
        let listed_after = store.list_live_sessions_of_user(ada.id, now).await.unwrap();

        assert!(!by_grace);
        assert_eq!(listed_before.len(), 1);
        assert!(by_ada);
        assert!(listed_after.is_empty());
    }

    #[tokio::test]
    async fn the_sweep_deletes_dead_sessions_with_their_tokens_and_keeps_the_rest() {
        // Arrange: one live, one expired, one revoked long ago, one revoked
        // just now (its access tokens may still be unexpired).
        let (store, _dir) = test_store().await;
        let (user, live) = user_with_session(&store, Duration::days(1)).await;
        let now = now();
        let expired = new_session(user.id, Duration::days(1));
        let expired = NewSession {
            expires_at: now - Duration::seconds(1),
            ..expired
        };
        let revoked_early = new_session(user.id, Duration::days(1));
        let revoked_late = new_session(user.id, Duration::days(1));
        for session in [&expired, &revoked_early, &revoked_late] {
            store.create_session(session).await.unwrap();
        }
        store
            .revoke_session_of_user(
                revoked_early.user_id,
                revoked_early.id,
                now - Duration::hours(1),
            )
            .await
            .unwrap();
        store
            .revoke_session_of_user(revoked_late.user_id, revoked_late.id, now)
            .await
            .unwrap();

        // Act
        let deleted = store
            .delete_dead_sessions(
                DeadSessions {
                    now,
                    revoked_by: now - Duration::minutes(30),
                },
                100,
            )
            .await
            .unwrap();

        // Assert
        assert_eq!(deleted, 2);
        let mut kept = Vec::new();
        for session in [&expired, &revoked_early, &revoked_late, &live] {
            let token = store.find_refresh_token(&session.refresh_token_hash);
            kept.push(token.await.unwrap().is_some());
        }
        assert_eq!(kept, [false, false, true, true]);
    }

    #[tokio::test]
    async fn posts_are_listed_newest_first_and_only_for_their_owner() {
        let (store, _dir) = test_store().await;
        let (ada, _) = user_with_session(&store, Duration::days(1)).await;
        let (grace, _) = user_with_session(&store, Duration::days(1)).await;
        let base = chrono::Timelike::with_nanosecond(&now(), 0).unwrap();
        for (i, title) in ["one", "two", "three"].into_iter().enumerate() {
            let post = Post {
                id: Uuid::new_v4(),
                title: title.into(),
                body: String::new(),
                // :00, :00.500, :01 — with and without fractions, which must
                // still sort correctly as text.
                created_at: base + Duration::milliseconds(500 * i64::try_from(i).unwrap()),
            };
            store.insert_post(ada.id, &post).await.unwrap();
        }

        let titles: Vec<_> = store
            .list_posts_of_user(ada.id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.title)
            .collect();

        assert_eq!(titles, ["three", "two", "one"]);
        assert!(store.list_posts_of_user(grace.id).await.unwrap().is_empty());
    }
}
