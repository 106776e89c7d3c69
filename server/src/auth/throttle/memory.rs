//! The in-memory limiter: one process's own count, used on SQLite (where
//! the server is one process). See the parent module for what is counted.
//!
//! **Bounded.** A limiter tracks at most `capacity` keys, and each key at
//! most `max` times, so its memory is bounded whatever the traffic. When a
//! new key finds it full, one entry is evicted, in this order:
//! 1. an entry whose events have all left the window (nothing is lost);
//! 2. an entry that is not at its limit, the one with the fewest events
//!    first, then the one whose newest event is oldest;
//! 3. an entry at its limit whose lockout is over.
//!
//! An entry still locked out is never evicted: to wipe out someone's
//! failures, an attacker has to fill the whole table with entries holding
//! more failures than that one (about `capacity × max` failures in one
//! window, each of which costs an argon2 hash), and even then a locked key
//! stays locked. If every entry is locked, the attempt on the new key is
//! refused until the first lockout ends, rather than let in uncounted.
//!
//! **Time per attempt** is a few hash-map and B-tree operations under one
//! lock, O(log capacity); nothing scans the table. The time is passed in
//! (`now`), so tests move it instead of sleeping.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::ThrottleKey;

/// Events per key in a sliding window, for at most `capacity` keys.
pub struct MemoryLimiter {
    max: usize,
    window: Duration,
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: HashMap<ThrottleKey, Entry>,
    /// Eviction order: the first is evicted first.
    by_rank: BTreeSet<(Rank, ThrottleKey)>,
    /// When each entry's newest event leaves the window.
    by_expiry: BTreeSet<(Instant, ThrottleKey)>,
}

struct Entry {
    /// Counted events, oldest first, at most `max` of them (older ones can
    /// no longer decide anything).
    times: VecDeque<Instant>,
    /// The entry's place in `by_rank` and `by_expiry`, as last indexed.
    rank: Rank,
    expires: Instant,
}

/// Open entries come before locked ones; among open ones, fewer events
/// first, then the older newest event; among locked ones, the lockout that
/// ends first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Open { events: usize, newest: Instant },
    Locked { until: Instant },
}

/// An attempt counted against its keys until [`Attempt::succeeded`] or
/// [`Attempt::take_back`] says otherwise; dropping it leaves it counted.
#[must_use = "an attempt stays counted unless it is taken back"]
pub struct MemoryAttempt<'a> {
    limiter: &'a MemoryLimiter,
    keys: Vec<ThrottleKey>,
    started: Instant,
}

impl MemoryAttempt<'_> {
    /// The attempt did not count (no password was checked): it is taken back.
    pub fn take_back(self) {
        self.limiter.take_back(&self.keys, self.started, false);
    }

    /// The password was right: the attempt is taken back, and the earlier
    /// failures of its device or session are forgotten.
    pub fn succeeded(self) {
        self.limiter.take_back(&self.keys, self.started, true);
    }
}

impl MemoryLimiter {
    pub fn new(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            window,
            capacity: capacity.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    /// Starts an attempt against `keys`, counted from `now` on, or
    /// `Err(retry_after)`, uncounted, when a key is at its limit (or the
    /// table is full of lockouts that have not ended).
    pub fn begin(&self, keys: &[ThrottleKey], now: Instant) -> Result<MemoryAttempt<'_>, Duration> {
        let mut table = self.lock();
        table.forget_expired(now, 2);

        let mut retry_after = None::<Duration>;
        let mut missing = 0;
        for key in keys {
            match table.entries.get_mut(key) {
                Some(entry) => {
                    forget_old(&mut entry.times, self.window, now);
                    if let Some(wait) = self.lockout(&entry.times, now) {
                        retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
                    }
                }
                None => missing += 1,
            }
        }
        if let Some(wait) = retry_after {
            return Err(wait);
        }
        for _ in 0..missing {
            if table.entries.len() >= self.capacity {
                table.evict_one(now, keys)?;
            }
        }

        for key in keys {
            let mut times = table.unindex(key).unwrap_or_default();
            times.push_back(now);
            if times.len() > self.max {
                times.pop_front();
            }
            let rank = rank_of(&times, self.max, self.window);
            table.index(*key, times, rank, self.window);
        }
        drop(table);
        Ok(MemoryAttempt {
            limiter: self,
            keys: keys.to_vec(),
            started: now,
        })
    }

    /// `Err(retry_after)` if any key is at its limit, counting nothing.
    pub fn check(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let mut table = self.lock();
        let mut retry_after = None::<Duration>;
        for key in keys {
            if let Some(entry) = table.entries.get_mut(key) {
                forget_old(&mut entry.times, self.window, now);
                if let Some(wait) = self.lockout(&entry.times, now) {
                    retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
                }
            }
        }
        retry_after.map_or(Ok(()), Err)
    }

    fn take_back(&self, keys: &[ThrottleKey], started: Instant, success: bool) {
        let mut table = self.lock();
        for key in keys {
            let Some(mut times) = table.unindex(key) else {
                continue;
            };
            if success && key.cleared_by_success() {
                continue;
            }
            if let Some(at) = times.iter().rposition(|t| *t == started) {
                times.remove(at);
            }
            if !times.is_empty() {
                let rank = rank_of(&times, self.max, self.window);
                table.index(*key, times, rank, self.window);
            }
        }
    }

    /// How long until `times` is under the limit again, if it is at it.
    fn lockout(&self, times: &VecDeque<Instant>, now: Instant) -> Option<Duration> {
        if times.len() < self.max {
            return None;
        }
        // Allowed again once all but `max - 1` have left the window.
        let oldest_that_matters = times[times.len() - self.max];
        Some(
            self.window
                .saturating_sub(now.saturating_duration_since(oldest_that_matters)),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Every method leaves the table consistent before it can panic.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many keys are tracked.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

fn rank_of(times: &VecDeque<Instant>, max: usize, window: Duration) -> Rank {
    let newest = *times.back().expect("an indexed entry has an event");
    if times.len() >= max {
        Rank::Locked {
            until: times[times.len() - max] + window,
        }
    } else {
        Rank::Open {
            events: times.len(),
            newest,
        }
    }
}

fn forget_old(times: &mut VecDeque<Instant>, window: Duration, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

impl Table {
    /// Puts an entry (with at least one event) in the map and both indexes.
    fn index(&mut self, key: ThrottleKey, times: VecDeque<Instant>, rank: Rank, window: Duration) {
        let expires = *times.back().expect("an indexed entry has an event") + window;
        self.by_rank.insert((rank, key));
        self.by_expiry.insert((expires, key));
        self.entries.insert(
            key,
            Entry {
                times,
                rank,
                expires,
            },
        );
    }

    /// Takes an entry out of the map and both indexes, returning its events.
    fn unindex(&mut self, key: &ThrottleKey) -> Option<VecDeque<Instant>> {
        let entry = self.entries.remove(key)?;
        self.by_rank.remove(&(entry.rank, *key));
        self.by_expiry.remove(&(entry.expires, *key));
        Some(entry.times)
    }

    /// Drops up to `limit` entries whose events have all left the window.
    fn forget_expired(&mut self, now: Instant, limit: usize) {
        for _ in 0..limit {
            match self.by_expiry.first() {
                Some(&(expires, key)) if expires <= now => {
                    self.unindex(&key);
                }
                _ => break,
            }
        }
    }

    /// Makes room for one entry, never evicting one of `keep` (the keys of
    /// the attempt being counted), or says how long until there is room.
    fn evict_one(&mut self, now: Instant, keep: &[ThrottleKey]) -> Result<(), Duration> {
        if let Some(&(expires, key)) = self.by_expiry.first()
            && expires <= now
            && !keep.contains(&key)
        {
            self.unindex(&key);
            return Ok(());
        }
        let candidate = self
            .by_rank
            .iter()
            .find(|(_, key)| !keep.contains(key))
            .copied();
        match candidate {
            Some((Rank::Locked { until }, _)) if until > now => {
                tracing::warn!("throttle table full of lockouts; refusing a new key");
                Err(until - now)
            }
            Some((_, key)) => {
                self.unindex(&key);
                Ok(())
            }
            // Only the attempt's own keys are tracked: the capacity is
            // smaller than one attempt's keys; let it grow by those.
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn address(last: u8) -> ThrottleKey {
        ThrottleKey::address([10, 0, 0, last].into())
    }

    fn keys() -> Vec<ThrottleKey> {
        vec![address(1), ThrottleKey::account("ada@example.com")]
    }

    fn fail(limiter: &MemoryLimiter, keys: &[ThrottleKey], now: Instant) {
        drop(limiter.begin(keys, now).unwrap());
    }

    #[test]
    fn failures_up_to_the_limit_are_allowed_and_the_next_is_not() {
        // Arrange
        let limiter = MemoryLimiter::new(3, MINUTE, 100);
        let t0 = Instant::now();

        // Act
        for i in 0..3 {
            fail(&limiter, &keys(), t0 + Duration::from_secs(i));
        }
        let at_limit = limiter.begin(&keys(), t0 + Duration::from_secs(10));

        // Assert: allowed again when the first failure leaves the window.
        assert_eq!(at_limit.err(), Some(Duration::from_secs(50)));
    }

    #[test]
    fn failures_expire_with_the_window_and_refused_attempts_do_not_extend_it() {
        let limiter = MemoryLimiter::new(1, MINUTE, 100);
        let t0 = Instant::now();
        fail(&limiter, &keys(), t0);
        for second in [1, 20, 40, 59] {
            let refused = limiter.begin(&keys(), t0 + Duration::from_secs(second));
            assert_eq!(refused.err(), Some(Duration::from_secs(60 - second)));
        }

        assert!(limiter.begin(&keys(), t0 + MINUTE).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_so_a_burst_cannot_outrun_the_limit() {
        let limiter = MemoryLimiter::new(3, MINUTE, 100);
        let now = Instant::now();

        let in_flight: Vec<_> = (0..10).map(|_| limiter.begin(&keys(), now)).collect();

        assert_eq!(in_flight.iter().filter(|a| a.is_ok()).count(), 3);
    }

    #[test]
    fn a_success_is_taken_back_and_clears_the_device_but_not_the_address_or_account() {
        // Arrange
        let limiter = MemoryLimiter::new(2, MINUTE, 100);
        let now = Instant::now();
        let device = ThrottleKey::Device([7; 16]);
        fail(&limiter, &[address(1), device], now);
        fail(
            &limiter,
            &[address(2), ThrottleKey::account("ada@example.com")],
            now,
        );

        // Act
        limiter
            .begin(&[address(3), device], now)
            .unwrap()
            .succeeded();
        limiter.begin(&keys(), now).unwrap().succeeded();

        // Assert: the device starts over; address 1 and the account keep
        // their one failure each, so one more is allowed and then no more.
        fail(&limiter, &[device], now);
        assert!(limiter.check(&[device], now).is_ok());
        fail(&limiter, &[address(1)], now);
        assert!(limiter.check(&[address(1)], now).is_err());
        fail(&limiter, &[ThrottleKey::account("ada@example.com")], now);
        assert!(limiter.check(&keys(), now).is_err());
        assert!(limiter.check(&[address(3)], now).is_ok(), "taken back");
    }

    #[test]
    fn a_taken_back_attempt_leaves_nothing_behind() {
        let limiter = MemoryLimiter::new(1, MINUTE, 100);
        let now = Instant::now();

        limiter.begin(&keys(), now).unwrap().take_back();

        assert_eq!(limiter.len(), 0);
        assert!(limiter.begin(&keys(), now).is_ok());
    }

    #[test]
    fn one_account_is_throttled_from_any_address() {
        let limiter = MemoryLimiter::new(1, MINUTE, 100);
        let now = Instant::now();
        fail(&limiter, &keys(), now);

        let from_elsewhere = [address(9), ThrottleKey::account("Ada@Example.com ")];

        assert!(limiter.begin(&from_elsewhere, now).is_err());
        assert!(limiter.begin(&from_elsewhere[..1], now).is_ok());
    }

    #[test]
    fn the_table_never_holds_more_than_its_capacity() {
        let limiter = MemoryLimiter::new(5, MINUTE, 50);
        let now = Instant::now();

        for i in 0..1_000u32 {
            let key = ThrottleKey::address(std::net::Ipv4Addr::from(i).into());
            fail(&limiter, &[key], now);
        }

        assert_eq!(limiter.len(), 50);
    }

    #[test]
    fn a_spray_of_new_keys_evicts_one_failure_entries_before_an_entry_with_more() {
        // Arrange: the attacker's own address has 4 of 5 failures.
        let limiter = MemoryLimiter::new(5, MINUTE, 10);
        let now = Instant::now();
        for _ in 0..4 {
            fail(&limiter, &[address(1)], now);
        }

        // Act: a spray of made-up keys, one failure each.
        for i in 0..1_000u32 {
            let key = ThrottleKey::Session(Uuid::from_u128(u128::from(i)));
            fail(&limiter, &[key], now);
        }

        // Assert: the four failures are still there: one more is allowed, then none.
        fail(&limiter, &[address(1)], now);
        assert!(limiter.check(&[address(1)], now).is_err());
    }

    #[test]
    fn a_locked_out_key_is_never_evicted_before_its_lockout_ends() {
        // Arrange: a table of two, both locked.
        let limiter = MemoryLimiter::new(2, MINUTE, 2);
        let t0 = Instant::now();
        for (key, start) in [(address(1), 0), (address(2), 5)] {
            fail(&limiter, &[key], t0 + Duration::from_secs(start));
            fail(&limiter, &[key], t0 + Duration::from_secs(start + 10));
        }

        // Act
        let newcomer = limiter.begin(&[address(3)], t0 + Duration::from_secs(20));
        let later = limiter.begin(&[address(3)], t0 + MINUTE);

        // Assert: refused until the first lockout ends, then let in.
        assert_eq!(newcomer.err(), Some(Duration::from_secs(40)));
        assert!(later.is_ok());
        assert!(
            limiter
                .check(&[address(2)], t0 + MINUTE)
                .is_err_and(|wait| wait == Duration::from_secs(5)),
            "the other lockout is untouched"
        );
    }

    #[test]
    fn entries_whose_failures_have_left_the_window_go_first() {
        let limiter = MemoryLimiter::new(5, MINUTE, 2);
        let t0 = Instant::now();
        for _ in 0..4 {
            fail(&limiter, &[address(1)], t0);
        }
        fail(&limiter, &[address(2)], t0 + Duration::from_secs(30));

        fail(&limiter, &[address(3)], t0 + MINUTE);

        assert_eq!(limiter.len(), 2);
        assert!(limiter.check(&[address(2)], t0 + MINUTE).is_ok());
        for _ in 0..4 {
            fail(&limiter, &[address(2)], t0 + MINUTE);
        }
        assert!(
            limiter.check(&[address(2)], t0 + MINUTE).is_err(),
            "address 2 kept its failure"
        );
    }
}
