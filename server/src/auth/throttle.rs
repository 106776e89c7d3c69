//! Counting failures in a sliding window, bounded, and on PostgreSQL
//! shared by every instance.
//!
//! A [`Limiter`] allows `max` counted events per key within `window`; past
//! that, attempts against the key get `429 rate_limited` with the time
//! until the oldest event that matters leaves the window. Refused attempts
//! are not counted, so the window always ends: an attacker can keep a key
//! throttled only by failing at the allowed rate, never lock it for good.
//!
//! Every attempt is counted the moment it starts, and taken back if it
//! turns out not to count (a right password, a hash that never ran).
//! Counting only after the password check would let a burst of concurrent
//! guesses all pass the check before any of them is counted.
//!
//! Two implementations of these semantics, picked at start by the store's
//! backend:
//! - on SQLite the server is one process, and [`MemoryLimiter`] counts in
//!   its memory (`throttle/memory.rs`: a bounded table, O(log capacity) per
//!   attempt);
//! - on PostgreSQL several instances may serve one database, and each
//!   would allow the whole allowance again, so [`SharedLimiter`] counts in
//!   the database (`throttle/shared.rs`: one row per key, locked while an
//!   attempt is counted, so a burst across instances gets no more tries
//!   than the limit either).
//!
//! Why not `governor`: it limits every request with GCRA (a steady refill,
//! not "N failures in a window"), has no way to take back an attempt that
//! turned out fine, and does not bound its keyed state.

mod memory;
mod shared;

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use memory::{MemoryAttempt, MemoryLimiter};
pub use shared::{LimiterId, SharedAttempt, SharedLimiter};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::store::Store;

/// What events are counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThrottleKey {
    /// The client address: an IPv4 address, or the /64 of an IPv6 address
    /// (one subscriber usually has a whole /64 to hop around in).
    Address(IpAddr),
    /// An account by its normalised email as typed, whether or not such an
    /// account exists (so that throttling does not reveal which do), kept
    /// as 16 bytes of its SHA-256 so every key is small.
    Account([u8; 16]),
    /// A device that holds a device cookie (see `auth::device`).
    Device([u8; 16]),
    /// A signed-in session: its own wrong current passwords.
    Session(Uuid),
}

impl ThrottleKey {
    pub fn address(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(Ipv6Addr::from(prefix))
                }
            },
            v4 => v4,
        };
        Self::Address(ip)
    }

    /// Normalised as [`app::domain::Email`] normalises (or, for what is not
    /// an email at all, trimmed and lower-cased), so every spelling of one
    /// address is one key.
    pub fn account(email: &str) -> Self {
        let normalised = app::domain::Email::parse(email)
            .map(app::domain::Email::into_inner)
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let digest = Sha256::digest(normalised.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Self::Account(key)
    }

    /// The key as the shared throttle stores it: a kind byte and 16 bytes
    /// that reveal nothing of what they stand for (a SHA-256 of the address
    /// or session id, the account key, which already is one, or of the
    /// device's random id), so the table never holds an address or an
    /// email. (A SHA-256 of an IPv4 address can be found by trying all
    /// 2^32; what the table keeps is what an access log keeps anyway, and
    /// only for one window.)
    pub fn stored(&self) -> Vec<u8> {
        fn sha256_16(bytes: &[u8]) -> [u8; 16] {
            let digest = Sha256::digest(bytes);
            let mut short = [0u8; 16];
            short.copy_from_slice(&digest[..16]);
            short
        }
        let (kind, key) = match self {
            Self::Address(IpAddr::V4(v4)) => (1, sha256_16(&v4.octets())),
            Self::Address(IpAddr::V6(v6)) => (2, sha256_16(&v6.octets())),
            Self::Account(account) => (3, *account),
            Self::Device(device) => (4, sha256_16(device)),
            Self::Session(session) => (5, sha256_16(session.as_bytes())),
        };
        let mut stored = Vec::with_capacity(17);
        stored.push(kind);
        stored.extend_from_slice(&key);
        stored
    }

    /// A right password from this device or session vouches for its own
    /// earlier failures, so they are cleared; an address or an account is
    /// shared with others and keeps them.
    fn cleared_by_success(&self) -> bool {
        matches!(self, Self::Device(_) | Self::Session(_))
    }
}

/// The keys a login attempt is counted against: the client address, and
/// either the device (when its device cookie remembers this account) or
/// the account. Built once per attempt.
pub fn login_keys(
    address: Option<IpAddr>,
    email: &str,
    remembered_device: Option<[u8; 16]>,
) -> Vec<ThrottleKey> {
    let mut keys = Vec::with_capacity(2);
    keys.extend(address.map(ThrottleKey::address));
    keys.push(match remembered_device {
        Some(device) => ThrottleKey::Device(device),
        None => ThrottleKey::account(email),
    });
    keys
}

/// The limiters of the server, each with its own allowance.
pub struct Throttles {
    /// Failed logins per address, account and device, and wrong current
    /// passwords per session (`LOGIN_MAX_FAILURES`).
    pub logins: Limiter,
    /// Registrations per address (`REGISTER_MAX_PER_WINDOW`).
    pub registrations: Limiter,
    /// Refreshes presenting a token that is not ours, per address.
    pub unknown_refreshes: Limiter,
}

impl Throttles {
    /// Keys each in-memory limiter may track. A full table measured about
    /// 500 bytes a key (`scripts/bench --throttle-spray`), so the login
    /// limiter stays near 25 MB and each per-address one near 10 MB,
    /// whatever the traffic. Filling the login table with lockouts takes
    /// 500 000 counted (so hashed) failures within one window at the
    /// default limit.
    pub const LOGIN_KEYS: usize = 50_000;
    pub const ADDRESS_KEYS: usize = 20_000;

    /// In memory on SQLite; in the database, shared by every instance, on
    /// PostgreSQL.
    pub fn new(settings: &Settings, store: &Store) -> Self {
        let window = settings.login_failure_window;
        let limiter = |id, max, capacity| match store.postgres() {
            Some(shared) => Limiter::Shared(SharedLimiter::new(shared.clone(), id, max, window)),
            None => Limiter::InMemory(MemoryLimiter::new(max, window, capacity)),
        };
        Self {
            logins: limiter(
                LimiterId::Logins,
                settings.login_max_failures,
                Self::LOGIN_KEYS,
            ),
            registrations: limiter(
                LimiterId::Registrations,
                settings.register_max_per_window,
                Self::ADDRESS_KEYS,
            ),
            unknown_refreshes: limiter(
                LimiterId::UnknownRefreshes,
                settings.unknown_refresh_max_per_window,
                Self::ADDRESS_KEYS,
            ),
        }
    }
}

/// Events per key in a sliding window: in this process's memory, or in
/// the database that every instance shares.
pub enum Limiter {
    InMemory(MemoryLimiter),
    Shared(SharedLimiter),
}

impl Limiter {
    /// Starts an attempt against `keys`, counted from now on. Refused,
    /// uncounted, with `429 rate_limited` and the wait, when a key is at its
    /// limit. If the database cannot count it, the attempt is refused as
    /// well (`500 internal`): it fails closed, never letting an attempt
    /// through uncounted.
    pub async fn begin(&self, keys: &[ThrottleKey]) -> Result<Attempt<'_>> {
        self.begin_at(keys, Moment::now()).await
    }

    /// [`Limiter::begin`] at a given moment (tests move time instead of
    /// sleeping).
    pub async fn begin_at(&self, keys: &[ThrottleKey], now: Moment) -> Result<Attempt<'_>> {
        match self {
            Self::InMemory(limiter) => limiter
                .begin(keys, now.instant)
                .map(Attempt::InMemory)
                .map_err(|retry_after| Error::RateLimited { retry_after }),
            Self::Shared(limiter) => limiter.begin(keys, now.utc).await.map(Attempt::Shared),
        }
    }

    /// Runs `operation`, an event that is common and cheap when it does not
    /// count (a refresh) and counts only when `counts` says so of its
    /// outcome (the token was unknown). Refused with `429` before it runs
    /// when a key is at its limit.
    ///
    /// In memory, exactly as [`Limiter::begin`]: counted from the start,
    /// taken back if it did not count. In the database it is checked
    /// before (one read) and counted after, only if it counted, so an
    /// honest refresh writes nothing more than it did: a burst in flight
    /// at once may pass the limit by as many as are in flight. That is
    /// right only where the limit bounds work, not guesses (a refresh
    /// token cannot be guessed); failed logins use `begin`. If the database
    /// cannot count, it fails closed: `500 internal`.
    pub async fn guard<T>(
        &self,
        keys: &[ThrottleKey],
        operation: impl Future<Output = T>,
        counts: impl FnOnce(&T) -> bool,
    ) -> Result<T> {
        match self {
            Self::InMemory(_) => {
                let attempt = self.begin(keys).await?;
                let outcome = operation.await;
                if !counts(&outcome) {
                    attempt.take_back().await;
                }
                Ok(outcome)
            }
            Self::Shared(limiter) => {
                limiter.check(keys, Utc::now()).await?;
                let outcome = operation.await;
                if counts(&outcome) {
                    limiter.record(keys, Utc::now()).await?;
                }
                Ok(outcome)
            }
        }
    }
}

/// A moment by both clocks: the in-memory limiter measures its window on
/// the monotonic clock, the shared one on the wall clock, which is the only
/// one that instances share.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    instant: Instant,
    utc: DateTime<Utc>,
}

impl Moment {
    pub fn now() -> Self {
        Self {
            instant: Instant::now(),
            utc: Utc::now(),
        }
    }
}

impl std::ops::Add<Duration> for Moment {
    type Output = Self;

    fn add(self, later: Duration) -> Self {
        Self {
            instant: self.instant + later,
            utc: self.utc
                + chrono::Duration::from_std(later)
                    .expect("a step of time shorter than 292 million years"),
        }
    }
}

/// An attempt counted against its keys until [`Attempt::succeeded`] or
/// [`Attempt::take_back`] says otherwise; dropping it leaves it counted.
#[must_use = "an attempt stays counted unless it is taken back"]
pub enum Attempt<'a> {
    InMemory(MemoryAttempt<'a>),
    Shared(SharedAttempt<'a>),
}

impl Attempt<'_> {
    /// The attempt did not count (no password was checked): it is taken back.
    pub async fn take_back(self) {
        match self {
            Self::InMemory(attempt) => attempt.take_back(),
            Self::Shared(attempt) => attempt.take_back().await,
        }
    }

    /// The password was right: the attempt is taken back, and the earlier
    /// failures of its device or session are forgotten.
    pub async fn succeeded(self) {
        match self {
            Self::InMemory(attempt) => attempt.succeeded(),
            Self::Shared(attempt) => attempt.succeeded().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> ThrottleKey {
        ThrottleKey::address([10, 0, 0, last].into())
    }

    #[test]
    fn a_remembered_device_is_counted_instead_of_the_account() {
        let device = [3; 16];

        let remembered = login_keys(Some([10, 0, 0, 1].into()), "ada@example.com", Some(device));
        let stranger = login_keys(None, "ada@example.com", None);

        assert_eq!(remembered, [address(1), ThrottleKey::Device(device)]);
        assert_eq!(stranger, [ThrottleKey::account("ada@example.com")]);
    }

    #[test]
    fn ipv6_addresses_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();

        assert_eq!(ThrottleKey::address(a), ThrottleKey::address(b));
        assert_ne!(ThrottleKey::address(a), ThrottleKey::address(c));
        assert_eq!(ThrottleKey::address(mapped), address(1));
    }

    #[test]
    fn account_keys_are_normalised_and_small_whatever_was_typed() {
        assert_eq!(
            ThrottleKey::account("  Ada@Example.COM "),
            ThrottleKey::account("ada@example.com")
        );
        assert_ne!(
            ThrottleKey::account("ada@example.com"),
            ThrottleKey::account("grace@example.com")
        );
        assert_eq!(
            ThrottleKey::account(&"é".repeat(10_000)),
            ThrottleKey::account(&"É".repeat(10_000))
        );
    }

    #[test]
    fn stored_keys_differ_by_kind_and_hold_no_address_or_email() {
        let v4 = ThrottleKey::address([10, 0, 0, 1].into()).stored();
        let account = ThrottleKey::account("ada@example.com").stored();
        let session = ThrottleKey::Session(Uuid::from_u128(1)).stored();

        assert!([&v4, &account, &session].iter().all(|key| key.len() == 17));
        assert_ne!(v4[0], account[0]);
        assert_ne!(ThrottleKey::Device([1; 16]).stored()[1..], [1; 16]);
        assert!(!account.windows(3).any(|w| w == b"ada"));
        assert!(!v4.windows(4).any(|w| w == [10, 0, 0, 1]));
    }

    /// The limiter's semantics, on the backend the tests run on: in memory
    /// on SQLite, in the database when `TEST_POSTGRES_URL` names a
    /// PostgreSQL server (`scripts/test` runs them both ways). Time is
    /// passed in, never slept.
    mod on_either_backend {
        use std::sync::Arc;

        use tokio::task::JoinSet;

        use super::*;
        use crate::config::DatabaseUrl;
        use crate::store::tests::{TestDatabase, test_store};

        const MINUTE: Duration = Duration::from_secs(60);

        /// Two instances' limiters on one store: on PostgreSQL each with a
        /// pool of its own, as two processes would be; on SQLite the one
        /// process is the only instance, so both are the same.
        async fn two_instances(max: u32) -> (Arc<Limiter>, Arc<Limiter>, TestDatabase) {
            let (store, database) = test_store().await;
            let limiter = |store: Store| {
                Arc::new(match store.postgres() {
                    Some(shared) => Limiter::Shared(SharedLimiter::new(
                        shared.clone(),
                        LimiterId::Logins,
                        max,
                        MINUTE,
                    )),
                    None => Limiter::InMemory(MemoryLimiter::new(max, MINUTE, 1_000)),
                })
            };
            if let TestDatabase::Postgres(_) = database {
                let other = Store::connect(&DatabaseUrl::Postgres(database.url()))
                    .await
                    .unwrap();
                (limiter(store), limiter(other), database)
            } else {
                let one = limiter(store);
                (Arc::clone(&one), one, database)
            }
        }

        fn keys() -> Vec<ThrottleKey> {
            vec![address(1), ThrottleKey::account("ada@example.com")]
        }

        /// `Some(wait)` when refused, `None` when counted; anything else
        /// fails the test.
        fn refusal(begun: Result<Attempt<'_>>) -> Option<Duration> {
            match begun {
                Ok(_counted) => None,
                Err(Error::RateLimited { retry_after }) => Some(retry_after),
                Err(other) => panic!("neither counted nor refused: {other:?}"),
            }
        }

        async fn fail(limiter: &Limiter, keys: &[ThrottleKey], at: Moment) {
            let attempt = limiter.begin_at(keys, at).await.unwrap();
            drop(attempt);
        }

        /// How many more failures `keys` may have at `at` before refusal.
        async fn left(limiter: &Limiter, keys: &[ThrottleKey], at: Moment) -> usize {
            let mut left = 0;
            while refusal(limiter.begin_at(keys, at).await).is_none() {
                left += 1;
                assert!(left < 100, "never refused");
            }
            left
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_burst_of_concurrent_attempts_on_two_instances_gets_exactly_the_limit() {
            // Arrange
            let (a, b, _store) = two_instances(3).await;
            let now = Moment::now();

            // Act: twelve attempts at once, half on each instance.
            let mut burst = JoinSet::new();
            for i in 0..12 {
                let limiter = Arc::clone(if i % 2 == 0 { &a } else { &b });
                burst.spawn(async move { refusal(limiter.begin_at(&keys(), now).await) });
            }
            let refusals = burst.join_all().await;

            // Assert
            let counted = refusals.iter().filter(|r| r.is_none()).count();
            assert_eq!(counted, 3, "{refusals:?}");
        }

        #[tokio::test]
        async fn past_the_limit_the_wait_runs_until_the_oldest_failure_that_matters_leaves() {
            // Arrange: three failures, a second apart, on both instances.
            let (a, b, _store) = two_instances(3).await;
            let t0 = Moment::now();
            fail(&a, &keys(), t0).await;
            fail(&b, &keys(), t0 + Duration::from_secs(1)).await;
            fail(&a, &keys(), t0 + Duration::from_secs(2)).await;

            // Act: refused attempts, which must not extend the lockout.
            let mut waits = Vec::new();
            for (limiter, second) in [(&b, 10), (&a, 30), (&b, 59)] {
                let at = t0 + Duration::from_secs(second);
                waits.push(refusal(limiter.begin_at(&keys(), at).await));
            }
            let after_the_first_left = refusal(b.begin_at(&keys(), t0 + MINUTE).await);
            let then_full_again = refusal(a.begin_at(&keys(), t0 + MINUTE).await);

            // Assert
            let secs = |s| Some(Duration::from_secs(s));
            assert_eq!(waits, [secs(50), secs(30), secs(1)]);
            assert_eq!(after_the_first_left, None);
            assert_eq!(then_full_again, secs(1), "until the second leaves");
        }

        #[tokio::test]
        async fn a_taken_back_attempt_does_not_count_and_a_success_clears_only_the_device() {
            // Arrange: one failure each on a device and on an account.
            let (a, b, _store) = two_instances(2).await;
            let now = Moment::now();
            let device = ThrottleKey::Device([7; 16]);
            fail(&a, &[address(1), device], now).await;
            fail(
                &b,
                &[address(2), ThrottleKey::account("ada@example.com")],
                now,
            )
            .await;

            // Act
            let remembered = b.begin_at(&[address(3), device], now).await.unwrap();
            remembered.succeeded().await;
            let owner = a.begin_at(&keys(), now).await.unwrap();
            owner.succeeded().await;
            let never_checked = b.begin_at(&[address(4)], now).await.unwrap();
            never_checked.take_back().await;

            // Assert: the device starts over; the account and address 1
            // keep their one failure; the successes and the taken-back
            // attempt left nothing on addresses 3 and 4.
            let account = ThrottleKey::account("ada@example.com");
            assert_eq!(left(&a, &[device], now).await, 2);
            assert_eq!(left(&b, &[account], now).await, 1);
            assert_eq!(left(&a, &[address(1)], now).await, 1);
            assert_eq!(left(&b, &[address(3)], now).await, 2);
            assert_eq!(left(&a, &[address(4)], now).await, 2);
        }

        #[tokio::test]
        async fn a_guarded_event_counts_only_when_it_says_so_and_past_the_limit_never_runs() {
            // Arrange
            let (a, b, _database) = two_instances(2).await;
            let keys = [address(1)];

            // Act: an event that does not count, two that do (one on each
            // instance), then another.
            let known = a.guard(&keys, async { "known" }, |_| false).await;
            for limiter in [&a, &b] {
                let unknown = limiter.guard(&keys, async { "unknown" }, |_| true);
                assert_eq!(unknown.await.unwrap(), "unknown");
            }
            let mut ran = false;
            let past_the_limit = b.guard(&keys, async { ran = true }, |()| true).await;

            // Assert
            assert_eq!(known.unwrap(), "known");
            assert!(
                matches!(past_the_limit, Err(Error::RateLimited { .. })),
                "{past_the_limit:?}"
            );
            assert!(!ran, "refused before it ran");
        }

        #[tokio::test]
        async fn keys_whose_failures_left_the_window_make_way_for_new_ones() {
            // Arrange: forty keys with a failure each.
            let (a, b, database) = two_instances(3).await;
            let t0 = Moment::now();
            for i in 0..40 {
                fail(&a, &[address(i)], t0).await;
            }

            // Act: a window later, ten new keys.
            for i in 0..10u128 {
                let limiter = if i % 2 == 0 { &a } else { &b };
                fail(
                    limiter,
                    &[ThrottleKey::Session(Uuid::from_u128(i))],
                    t0 + MINUTE,
                )
                .await;
            }

            // Assert: each attempt dropped two keys that no longer matter,
            // so the table never grew past the forty...
            assert_eq!(tracked(&a, &database).await, 40 - 2 * 10 + 10);
            // ...and in the database the cleanup sweep takes the rest (in
            // memory there is no sweep: the table forgets as it goes).
            if let Limiter::Shared(shared) = &*b {
                let swept = shared
                    .store()
                    .delete_expired_throttle_keys((t0 + MINUTE).utc, 500);
                assert_eq!(swept.await.unwrap(), 20);
                assert_eq!(tracked(&a, &database).await, 10);
            }
        }

        /// Keys the limiter holds: its table's in memory, its rows in the
        /// database.
        async fn tracked(limiter: &Limiter, database: &TestDatabase) -> usize {
            match limiter {
                Limiter::InMemory(memory) => memory.len(),
                Limiter::Shared(_) => {
                    let pool = sqlx::PgPool::connect(&database.url()).await.unwrap();
                    let rows: i64 = sqlx::query_scalar("select count(*) from throttle")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    usize::try_from(rows).unwrap()
                }
            }
        }
    }
}
