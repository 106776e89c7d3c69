//! The shared limiter: counts in the database, so that every instance on
//! one PostgreSQL database draws on one allowance. See the parent module
//! for what is counted; the semantics are the in-memory limiter's.
//!
//! **Concurrency.** Counting an attempt is one transaction: one upsert
//! appends the attempt's time to every key's row that is under its limit
//! (a row is created for a new key), and locks every key's row, whether it
//! appended or not, until the transaction ends. If any key was at its
//! limit, the transaction is rolled back, so nothing is counted; otherwise
//! it commits. Concurrent attempts on one key, from any instance, wait for
//! that lock and then see what the one before them left, so a burst of
//! guesses across instances gets exactly the limit. Keys are locked in
//! their stored order, by every statement that locks more than one, so
//! two attempts never wait on each other in a cycle. (SQL in
//! `store/postgres.rs`.) Events that count only once they are over and are
//! common otherwise (refreshes) may instead [`SharedLimiter::check`] with
//! one read and [`SharedLimiter::record`] afterwards (see
//! `Limiter::guard`).
//!
//! **Bounded.** A row holds at most `max` times: only counted attempts are
//! stored, and only while the key is under its limit. A taken-back attempt
//! is removed, and a row left without attempts is deleted. Each counted
//! attempt also deletes up to two rows whose attempts have all left the
//! window, and the cleanup sweep (`src/cleanup.rs`) deletes the rest in
//! batches, so the table holds the keys counted within one window and
//! little more: every login or password-change key costs an argon2 hash,
//! and every unknown-refresh key an address of its own.
//!
//! **Failing closed.** If the database cannot count an attempt, the
//! attempt is refused (`500 internal`, the cause logged, not shown), never
//! let through uncounted. If it cannot take an attempt back, the attempt
//! stays counted (logged as a warning): at worst its owner is throttled a
//! little early.
//!
//! **Time.** Each instance counts by its own clock (`now` is passed in, so
//! tests move it): instances must keep their clocks in step (NTP), as
//! sessions and tokens already need. Times are kept to the microsecond,
//! as PostgreSQL stores them, so an attempt is found again by its start.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use super::ThrottleKey;
use crate::error::{Error, Result};
use crate::store::{PostgresStore, ThrottleCount, ThrottleRule};

/// Which limiter a row belongs to, as stored (`throttle.limiter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i16)]
pub enum LimiterId {
    Logins = 1,
    Registrations = 2,
    UnknownRefreshes = 3,
}

/// Events per key in a sliding window, counted in the database.
pub struct SharedLimiter {
    store: PostgresStore,
    window: Duration,
    /// The rule as the database reckons it: the window capped at a century,
    /// which is as good as forever and keeps `now + window` a time
    /// PostgreSQL has.
    rule: ThrottleRule,
}

/// An attempt counted in the database until taken back.
#[must_use = "an attempt stays counted unless it is taken back"]
pub struct SharedAttempt<'a> {
    limiter: &'a SharedLimiter,
    /// Stored keys, sorted, without duplicates.
    keys: Vec<Vec<u8>>,
    /// Those of `keys` whose failures a right password clears.
    cleared_by_success: Vec<Vec<u8>>,
    started: DateTime<Utc>,
}

impl SharedAttempt<'_> {
    /// The attempt did not count (no password was checked): it is taken back.
    pub async fn take_back(self) {
        self.give_back(&[]).await;
    }

    /// The password was right: the attempt is taken back, and the earlier
    /// failures of its device or session are forgotten.
    pub async fn succeeded(self) {
        self.give_back(&self.cleared_by_success).await;
    }

    async fn give_back(&self, forget: &[Vec<u8>]) {
        if self.keys.is_empty() {
            return;
        }
        let limiter = self.limiter;
        if let Err(error) = limiter
            .store
            .take_back_throttled_attempt(limiter.rule.limiter, &self.keys, self.started, forget)
            .await
        {
            tracing::warn!(
                ?error,
                "could not take back a throttled attempt; it stays counted"
            );
        }
    }
}

impl SharedLimiter {
    pub fn new(store: PostgresStore, id: LimiterId, max: u32, window: Duration) -> Self {
        const CENTURY: chrono::Duration = chrono::Duration::days(36_525);
        Self {
            store,
            window,
            rule: ThrottleRule {
                limiter: id as i16,
                window: chrono::Duration::from_std(window)
                    .unwrap_or(CENTURY)
                    .min(CENTURY),
                max: max.max(1),
            },
        }
    }

    /// The store it counts in.
    pub fn store(&self) -> &PostgresStore {
        &self.store
    }

    /// Starts an attempt against `keys`, counted from `now` on, or `429
    /// rate_limited`, uncounted, when a key is at its limit; `500 internal`
    /// when the database cannot count it.
    pub async fn begin(
        &self,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
    ) -> Result<SharedAttempt<'_>> {
        let now = now.trunc_subsecs(6);
        let stored = stored(keys.iter());
        if !stored.is_empty() {
            let count = self
                .store
                .count_throttled_attempt(self.rule, &stored, now)
                .await?;
            if let ThrottleCount::Refused {
                oldest_that_matters,
            } = count
            {
                return Err(self.refusal(oldest_that_matters, now));
            }
        }
        Ok(SharedAttempt {
            limiter: self,
            keys: stored,
            cleared_by_success: self::stored(keys.iter().filter(|key| key.cleared_by_success())),
            started: now,
        })
    }

    /// `429 rate_limited` if a key is at its limit at `now`; counts
    /// nothing (one read).
    pub async fn check(&self, keys: &[ThrottleKey], now: DateTime<Utc>) -> Result<()> {
        let now = now.trunc_subsecs(6);
        let stored = stored(keys.iter());
        if stored.is_empty() {
            return Ok(());
        }
        let wait = self.store.throttle_wait(self.rule, &stored, now).await?;
        wait.map_or(Ok(()), |oldest| Err(self.refusal(oldest, now)))
    }

    /// Counts an event that has happened at `now` against `keys`; one that
    /// finds a key at its limit (others counted meanwhile) is not stored.
    pub async fn record(&self, keys: &[ThrottleKey], now: DateTime<Utc>) -> Result<()> {
        match self.begin(keys, now).await {
            Ok(_) | Err(Error::RateLimited { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Allowed again once `oldest_that_matters` leaves the window; a time
    /// that makes no sense (another instance's clock far ahead) waits a
    /// whole window rather than none.
    fn refusal(&self, oldest_that_matters: DateTime<Utc>, now: DateTime<Utc>) -> Error {
        let retry_after = (oldest_that_matters + self.rule.window - now)
            .to_std()
            .ok()
            .filter(|wait| !wait.is_zero())
            .map_or(self.window, |wait| wait.min(self.window));
        Error::RateLimited { retry_after }
    }
}

/// Keys as stored, sorted and without duplicates: the order in which every
/// statement locks them.
fn stored<'k>(keys: impl Iterator<Item = &'k ThrottleKey>) -> Vec<Vec<u8>> {
    let mut stored: Vec<Vec<u8>> = keys.map(ThrottleKey::stored).collect();
    stored.sort();
    stored.dedup();
    stored
}
