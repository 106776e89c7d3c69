//! How revocations made by other instances reach this one's in-memory
//! revoked set, so that `/api` refuses their access tokens within moments
//! without reading the database per request (contract v2: within 2 s).
//!
//! On PostgreSQL a trigger on `sessions` sends one notification per
//! revoked session on [`CHANNEL`], whatever statement revoked it (migration
//! `20261201040000_notify_revocations`), and it goes out if and only if the
//! revocation commits. Every instance keeps one connection of its own
//! that `LISTEN`s on the channel, and adds each session id it hears of to
//! its [`RevokedSessions`].
//!
//! Notifications sent while that connection is down are lost to it
//! (PostgreSQL does not queue them for a listener that is gone). So after
//! every (re)connection, once it is listening again, the instance reads
//! back the sessions revoked within one access token lifetime, exactly as
//! at start: whatever was revoked during the gap is caught up, and what is
//! revoked after it arrives as a notification. Until the connection is
//! back, other instances' revocations reach `/api` here only through that
//! read; `/auth/me`, pages and the account endpoints read the session
//! themselves and are not affected.
//!
//! On SQLite there is one process, which adds what it revokes itself: the
//! set is only read back at start.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::auth::revoked::RevokedSessions;
use crate::config::DatabaseUrl;
use crate::store::Store;

/// The notification channel of revocations; each payload is one session
/// id. The trigger that notifies names it too (migration
/// `20261201040000_notify_revocations`).
pub const CHANNEL: &str = "session_revoked";

/// The `application_name` of the listening connection, so that an operator
/// (or a test) can tell it apart in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "auth-demo revocation feed";

/// The feed's task, if this backend needs one. Dropping it stops the task.
pub struct RevocationFeed(Option<JoinHandle<()>>);

impl RevocationFeed {
    /// Fills `revoked` with the sessions revoked within one access token
    /// lifetime (also by an earlier run, or by other instances), and on
    /// PostgreSQL starts listening for those revoked from now on. Listening
    /// starts before the read, so that a revocation committed in between
    /// is not missed (it may arrive twice, which changes nothing).
    pub async fn start(
        database_url: &DatabaseUrl,
        store: &Store,
        revoked: Arc<RevokedSessions>,
    ) -> anyhow::Result<Self> {
        let DatabaseUrl::Postgres(url) = database_url else {
            catch_up(store, &revoked).await?;
            return Ok(Self(None));
        };
        let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
        // One connection, held for as long as it lives: a listener's
        // connection is not shared with queries.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let listener = listen(&pool).await?;
        catch_up(store, &revoked).await?;
        let store = store.clone();
        Ok(Self(Some(tokio::spawn(run(
            listener, pool, store, revoked,
        )))))
    }

    /// Stops listening (at the server's shutdown).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for RevocationFeed {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// A listener on [`CHANNEL`] over a new connection from `pool`. It does not
/// reconnect by itself: a lost connection ends [`run`]'s inner loop, which
/// reconnects and then catches up.
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Reads back the sessions revoked within one access token lifetime;
/// returns how many.
async fn catch_up(store: &Store, revoked: &RevokedSessions) -> crate::error::Result<usize> {
    let recent = store
        .sessions_revoked_since(revoked.window_start(Utc::now()))
        .await?;
    let count = recent.len();
    revoked.insert_each(
        recent
            .into_iter()
            .map(|session| (session.id, session.revoked_at)),
    );
    Ok(count)
}

/// Applies notifications until the connection is lost, then reconnects,
/// catches up and goes on, for as long as the server runs.
async fn run(mut listener: PgListener, pool: PgPool, store: Store, revoked: Arc<RevokedSessions>) {
    loop {
        let lost = loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match session_id(notification.payload()) {
                    // Heard when it was sent, give or take a few
                    // milliseconds: remembered at least as long as needed.
                    Some(session_id) => revoked.insert([session_id], Utc::now()),
                    None => tracing::warn!(
                        channel = CHANNEL,
                        "ignored a notification that is not a session id"
                    ),
                },
                Ok(None) => break "the connection was closed".to_owned(),
                Err(error) => break error.to_string(),
            }
        };
        tracing::warn!(
            error = %lost,
            "revocation feed: lost its connection to PostgreSQL; reconnecting, then reading back recent revocations"
        );
        drop(listener);
        listener = reconnect(&pool, &store, &revoked).await;
    }
}

/// Listens again and catches up, retrying with a growing pause until both
/// succeed.
async fn reconnect(pool: &PgPool, store: &Store, revoked: &RevokedSessions) -> PgListener {
    let mut backoff = Backoff::default();
    loop {
        let attempt = async {
            let listener = listen(pool).await?;
            let caught_up = catch_up(store, revoked).await?;
            anyhow::Ok((listener, caught_up))
        };
        match attempt.await {
            Ok((listener, caught_up)) => {
                tracing::warn!(
                    attempts = backoff.failures + 1,
                    read_back = caught_up,
                    "revocation feed: reconnected and read back recent revocations"
                );
                return listener;
            }
            Err(error) => {
                // One line at warn per outage; the retries after it at debug.
                if backoff.failures == 0 {
                    tracing::warn!(%error, "revocation feed: cannot reconnect yet; retrying");
                } else {
                    tracing::debug!(%error, failures = backoff.failures, "revocation feed: still cannot reconnect");
                }
                tokio::time::sleep(backoff.next_pause()).await;
            }
        }
    }
}

/// The session id a notification carries, if it is one.
fn session_id(payload: &str) -> Option<Uuid> {
    Uuid::parse_str(payload).ok()
}

/// Pauses between reconnection attempts: short at first (a connection
/// closed by the server usually reopens at once), doubling to a ceiling
/// low enough that, once the database is back, an instance catches up well
/// within the contract's 2 seconds, and high enough that a long outage
/// costs the database two attempts a second per instance.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const CEILING: Duration = Duration::from_millis(500);

    fn next_pause(&mut self) -> Duration {
        let pause = Self::FIRST.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        pause.min(Self::CEILING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_carries_a_session_id_and_anything_else_is_ignored() {
        let id = Uuid::new_v4();
        assert_eq!(session_id(&id.to_string()), Some(id));
        assert_eq!(session_id(""), None);
        assert_eq!(session_id("not a session"), None);
    }

    #[test]
    fn reconnection_pauses_double_from_50_ms_up_to_half_a_second_and_stay_there() {
        let mut backoff = Backoff::default();
        let pauses: Vec<_> = (0..40).map(|_| backoff.next_pause().as_millis()).collect();
        assert_eq!(pauses[..5], [50, 100, 200, 400, 500]);
        assert!(pauses[5..].iter().all(|&pause| pause == 500));
        assert_eq!(backoff.failures, 40);
    }
}
