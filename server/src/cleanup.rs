//! A background task that deletes expired and revoked sessions and tokens,
//! so the tables hold only what can still be used (or recognised as reused).
//! A revoked session is kept while an access token of it may be unexpired,
//! so that a restart reads it back into the revoked set. On PostgreSQL it
//! also deletes the shared throttle's rows whose attempts have all left the
//! window (counting attempts deletes a few as it goes, too).
//!
//! It deletes in batches of [`BATCH`] rows, each its own short statement on
//! indexed columns, so a login or refresh waits behind one batch at most,
//! never behind the whole sweep.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::revoked::RevokedSessions;
use crate::store::{DeadSessions, Store};

/// Rows deleted per statement.
pub const BATCH: u32 = 500;

/// What tells the sweeper to sweep again: a timer in the server, a channel
/// in tests (so they need not wait for time to pass).
pub trait Ticks: Send + 'static {
    /// Waits for the next tick; `false` when there will be none.
    fn next(&mut self) -> impl Future<Output = bool> + Send;
}

impl Ticks for tokio::time::Interval {
    async fn next(&mut self) -> bool {
        self.tick().await;
        true
    }
}

impl Ticks for mpsc::Receiver<()> {
    async fn next(&mut self) -> bool {
        self.recv().await.is_some()
    }
}

/// Sweeps at start and then every `interval`.
pub fn spawn(store: Store, revoked: Arc<RevokedSessions>, interval: Duration) -> JoinHandle<()> {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    spawn_on(store, revoked, ticks)
}

/// Sweeps at start and then on every tick, until the ticks end. Errors are
/// logged and the task keeps going.
pub fn spawn_on(
    store: Store,
    revoked: Arc<RevokedSessions>,
    mut ticks: impl Ticks,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = run_once(&store, &revoked).await {
                tracing::error!(error = ?error, "cleanup of expired sessions failed");
            }
            if !ticks.next().await {
                break;
            }
        }
    })
}

/// One sweep; returns the numbers of tokens and sessions deleted.
pub async fn run_once(
    store: &Store,
    revoked: &RevokedSessions,
) -> crate::error::Result<(u64, u64)> {
    let now = Utc::now();
    let dead = DeadSessions {
        now,
        revoked_by: revoked.window_start(now),
    };
    let tokens = in_batches(|| store.delete_expired_tokens(now, BATCH)).await?;
    let sessions = in_batches(|| store.delete_dead_sessions(dead, BATCH)).await?;
    if tokens + sessions > 0 {
        tracing::info!(tokens, sessions, "deleted expired sessions and tokens");
    }
    let throttle = match store.postgres() {
        Some(shared) => in_batches(|| shared.delete_expired_throttle_keys(now, BATCH)).await?,
        None => 0,
    };
    if throttle > 0 {
        tracing::info!(
            keys = throttle,
            "deleted throttle keys whose attempts left the window"
        );
    }
    Ok((tokens, sessions))
}

/// Runs one batch delete until a batch comes back short; returns the total.
/// Yields between batches so other tasks on this thread get a turn.
async fn in_batches<F, Fut>(mut delete_batch: F) -> crate::error::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::error::Result<u64>>,
{
    let mut total = 0;
    loop {
        let deleted = delete_batch().await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use app::model::User;
    use chrono::{DateTime, Duration};
    use uuid::Uuid;

    use sqlx::SqlitePool;

    use super::*;
    use crate::auth::tokens::RefreshToken;
    use crate::config::DatabaseUrl;
    use crate::store::NewSession;

    fn session(user_id: Uuid, created_at: DateTime<Utc>, lifetime: Duration) -> NewSession {
        NewSession {
            id: Uuid::new_v4(),
            user_id,
            created_at,
            expires_at: created_at + lifetime,
            user_agent: None,
            refresh_token_hash: RefreshToken::generate().unwrap().hash(),
            refresh_expires_at: created_at + lifetime,
        }
    }

    fn revoked_within_15_minutes() -> RevokedSessions {
        RevokedSessions::new(
            std::time::Duration::from_secs(900),
            std::time::Duration::from_secs(5),
        )
    }

    /// A fresh SQLite store with one user, and a pool of its own on the same
    /// file to count rows with.
    struct Sweepable {
        store: Store,
        pool: SqlitePool,
        user_id: Uuid,
        now: DateTime<Utc>,
        _dir: tempfile::TempDir,
    }

    /// That, with the user's first session: created `age` ago, for a day.
    async fn store_with_a_user(age: Duration) -> (Sweepable, NewSession) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&DatabaseUrl::Sqlite(url.clone()))
            .await
            .unwrap();
        let pool = SqlitePool::connect(&url).await.unwrap();
        let now = Utc::now();
        let user = User {
            id: Uuid::new_v4(),
            email: "ada@example.com".into(),
            created_at: now,
        };
        let first = session(user.id, now - age, Duration::days(1));
        store
            .create_user_with_session(&user, "hash", &first)
            .await
            .unwrap();
        let sweepable = Sweepable {
            store,
            pool,
            user_id: user.id,
            now,
            _dir: dir,
        };
        (sweepable, first)
    }

    async fn count(pool: &SqlitePool, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_sweep_deletes_expired_and_revoked_sessions_and_keeps_live_ones() {
        // Arrange
        let (db, live) = store_with_a_user(Duration::zero()).await;
        let (store, pool, user_id, now) = (&db.store, &db.pool, db.user_id, db.now);
        let expired = session(user_id, now - Duration::days(2), Duration::days(1));
        let revoked = session(user_id, now - Duration::hours(1), Duration::days(1));
        let recently_revoked = session(user_id, now, Duration::days(1));
        store.create_session(&expired).await.unwrap();
        store.create_session(&revoked).await.unwrap();
        store.create_session(&recently_revoked).await.unwrap();
        store
            .revoke_session_of_user(revoked.user_id, revoked.id, now - Duration::hours(1))
            .await
            .unwrap();
        store
            .revoke_session_of_user(recently_revoked.user_id, recently_revoked.id, now)
            .await
            .unwrap();

        // Act
        let (tokens, sessions) = run_once(store, &revoked_within_15_minutes()).await.unwrap();

        // Assert
        assert_eq!(
            (tokens, sessions),
            (1, 2),
            "the expired token, then both dead sessions"
        );
        assert_eq!(
            count(pool, "sessions").await,
            2,
            "the live one, and the one revoked within an access token's lifetime"
        );
        assert_eq!(
            count(pool, "refresh_tokens").await,
            2,
            "the revoked session's token went with it"
        );
        let remaining = store
            .find_refresh_token(&live.refresh_token_hash)
            .await
            .unwrap();
        assert!(remaining.is_some());
    }

    async fn session_exists(pool: &SqlitePool, id: Uuid) -> bool {
        sqlx::query_scalar::<_, i64>("select count(*) from sessions where id = ?")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
            > 0
    }

    /// Waits (up to 10 s) for a session to be swept.
    async fn swept(pool: &SqlitePool, id: Uuid) -> bool {
        for _ in 0..1_000 {
            if !session_exists(pool, id).await {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn the_task_sweeps_at_start_and_again_on_each_tick() {
        // Arrange: an expired session for the start-up sweep.
        let (db, first) = store_with_a_user(Duration::days(2)).await;
        let (store, pool, user_id, now) = (&db.store, &db.pool, db.user_id, db.now);
        let (tick, ticks) = mpsc::channel(1);
        let task = spawn_on(store.clone(), Arc::new(revoked_within_15_minutes()), ticks);
        assert!(swept(pool, first.id).await, "swept at start");

        // Act: another one, which only a later sweep can find.
        let second = session(user_id, now - Duration::days(2), Duration::days(1));
        store.create_session(&second).await.unwrap();
        let before_tick = session_exists(pool, second.id).await;
        tick.send(()).await.unwrap();

        // Assert
        assert!(before_tick, "nothing sweeps between ticks");
        assert!(swept(pool, second.id).await, "swept on the tick");
        drop(tick);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_sweep_larger_than_a_batch_deletes_everything_in_batches() {
        let (db, _live) = store_with_a_user(Duration::zero()).await;
        let (store, pool, user_id, now) = (&db.store, &db.pool, db.user_id, db.now);
        let dead = u64::from(BATCH) * 2 + 7;
        for _ in 0..dead {
            let old = session(user_id, now - Duration::days(2), Duration::days(1));
            store.create_session(&old).await.unwrap();
        }

        let (_, sessions) = run_once(store, &revoked_within_15_minutes()).await.unwrap();

        assert_eq!(sessions, dead);
        assert_eq!(count(pool, "sessions").await, 1);
    }
}
