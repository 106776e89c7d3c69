//! A background task that deletes expired and revoked sessions and tokens,
//! so the tables hold only what can still be used (or recognised as reused).
//! A revoked session is kept while an access token of it may be unexpired,
//! so that a restart reads it back into the revoked set.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use crate::auth::revoked::RevokedSessions;
use crate::store::Store;

/// Runs [`run_once`] every `interval`, first right at start. Errors are
/// logged and the task keeps going.
pub fn spawn(store: Store, revoked: Arc<RevokedSessions>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = run_once(&store, &revoked).await {
                tracing::error!(error = ?error, "cleanup of expired sessions failed");
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
    let (tokens, sessions) = store
        .delete_expired_sessions_and_tokens(now, revoked.window_start(now))
        .await?;
    if tokens + sessions > 0 {
        tracing::info!(tokens, sessions, "deleted expired sessions and tokens");
    }
    Ok((tokens, sessions))
}

#[cfg(test)]
mod tests {
    use app::model::User;
    use chrono::{DateTime, Duration};
    use uuid::Uuid;

    use super::*;
    use crate::auth::tokens::RefreshToken;
    use crate::config::DatabaseUrl;
    use crate::store::NewSession;
    use sqlx::SqlitePool;

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

    async fn count(pool: &SqlitePool, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_sweep_deletes_expired_and_revoked_sessions_and_keeps_live_ones() {
        // Arrange
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
        let live = session(user.id, now, Duration::days(1));
        let expired = session(user.id, now - Duration::days(2), Duration::days(1));
        let revoked = session(user.id, now - Duration::hours(1), Duration::days(1));
        let recently_revoked = session(user.id, now, Duration::days(1));
        store
            .create_user_with_session(&user, "hash", &live)
            .await
            .unwrap();
        store.create_session(&expired).await.unwrap();
        store.create_session(&revoked).await.unwrap();
        store.create_session(&recently_revoked).await.unwrap();
        store
            .revoke_session(revoked.id, now - Duration::hours(1))
            .await
            .unwrap();
        store
            .revoke_session(recently_revoked.id, now)
            .await
            .unwrap();

        // Act
        let (tokens, sessions) = run_once(&store, &revoked_within_15_minutes())
            .await
            .unwrap();

        // Assert
        assert_eq!(
            (tokens, sessions),
            (1, 2),
            "the expired token, then both dead sessions"
        );
        assert_eq!(
            count(&pool, "sessions").await,
            2,
            "the live one, and the one revoked within an access token's lifetime"
        );
        assert_eq!(
            count(&pool, "refresh_tokens").await,
            2,
            "the revoked session's token went with it"
        );
        let remaining = store
            .find_refresh_token(&live.refresh_token_hash)
            .await
            .unwrap();
        assert!(remaining.is_some());
    }

    #[tokio::test]
    async fn the_task_sweeps_at_start_and_then_on_its_interval() {
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
        let old = session(user.id, now - Duration::days(2), Duration::days(1));
        store
            .create_user_with_session(&user, "hash", &old)
            .await
            .unwrap();

        let task = spawn(
            store.clone(),
            Arc::new(revoked_within_15_minutes()),
            std::time::Duration::from_millis(50),
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        task.abort();

        assert_eq!(count(&pool, "sessions").await, 0);
    }
}
