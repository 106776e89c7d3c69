//! Password-guessing throttle: after `LOGIN_MAX_FAILURES` failed attempts
//! within `LOGIN_FAILURE_WINDOW_SECS`, from one address or against one
//! account, further attempts get `429` until the oldest failure leaves the
//! window. Refused attempts are not counted, so the window always ends: an
//! attacker can keep an account throttled only by failing at the allowed
//! rate, never lock it out for good.
//!
//! Every attempt is counted as a failure the moment it starts, and taken
//! back if it succeeds. Counting only after the password check would let a
//! burst of concurrent guesses all pass the check before any of them is
//! counted.
//!
//! Kept in memory: it resets on restart and is per process, which is what a
//! one-machine demo needs. The address is the TCP peer; behind a proxy every
//! client would share one, so a deployment there must pass the client
//! address through (not done here).
//!
//! Why not `governor`: it limits every request with GCRA (a steady refill,
//! not "N failures in a window"), has no way to look without consuming and
//! none to take back a success, so it counts the wrong thing here.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed (or still running) attempts per key, oldest first.
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<ThrottleKey, VecDeque<Instant>>>,
}

/// What failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// An IPv4 address, or the /64 of an IPv6 address (one subscriber
    /// usually has a whole /64 to hop around in).
    Address(IpAddr),
    /// The normalised email as typed, whether or not such an account exists,
    /// so that throttling does not reveal which accounts exist. Cut to
    /// [`ThrottleKey::MAX_ACCOUNT_CHARS`], so a key stays small.
    Account(String),
}

impl ThrottleKey {
    /// Longer than any email [`app::domain::Email`] accepts.
    pub const MAX_ACCOUNT_CHARS: usize = 256;

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

    /// Trimmed, lower-cased and cut, like the email it stands for.
    pub fn account(email: &str) -> Self {
        Self::Account(
            email
                .trim()
                .to_lowercase()
                .chars()
                .take(Self::MAX_ACCOUNT_CHARS)
                .collect(),
        )
    }
}

/// An attempt counted as a failure until [`Attempt::succeeded`] says
/// otherwise; dropping it leaves it counted.
#[must_use = "an attempt stays counted as a failure unless it succeeded"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<ThrottleKey>,
    started: Instant,
}

impl Attempt<'_> {
    /// The password was right: the attempt is taken back, and the account's
    /// earlier failures are forgotten (not the address's: one right
    /// password does not vouch for everything else tried from there).
    pub fn succeeded(self) {
        let mut failures = self.throttle.lock();
        for key in &self.keys {
            if matches!(key, ThrottleKey::Account(_)) {
                failures.remove(key);
            } else if let Some(times) = failures.get_mut(key) {
                if let Some(at) = times.iter().position(|t| *t == self.started) {
                    times.remove(at);
                }
                if times.is_empty() {
                    failures.remove(key);
                }
            }
        }
    }
}

impl LoginThrottle {
    /// Above this many keys, stale ones are swept so the map cannot grow
    /// without bound under a spray of made-up emails.
    const SWEEP_ABOVE: usize = 10_000;

    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Starts an attempt against `keys`, counted as a failure from now on,
    /// or `Err(retry_after)`, uncounted, when any key is at its limit.
    pub fn begin(&self, keys: Vec<ThrottleKey>) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut failures = self.lock();
        let mut retry_after = None::<Duration>;
        for key in &keys {
            if let Some(times) = failures.get_mut(key) {
                self.forget_old(times, now);
                if times.len() >= self.max_failures {
                    // Allowed again once all but `max_failures - 1` have aged out.
                    let oldest_that_matters = times[times.len() - self.max_failures];
                    let wait = self
                        .window
                        .saturating_sub(now.duration_since(oldest_that_matters));
                    retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
                }
            }
        }
        if let Some(wait) = retry_after {
            return Err(wait);
        }
        if failures.len() > Self::SWEEP_ABOVE {
            failures.retain(|_, times| {
                self.forget_old(times, now);
                !times.is_empty()
            });
        }
        for key in &keys {
            failures.entry(key.clone()).or_default().push_back(now);
        }
        drop(failures);
        Ok(Attempt {
            throttle: self,
            keys,
            started: now,
        })
    }

    /// How many keys are tracked; for tests.
    pub fn tracked_keys(&self) -> usize {
        self.lock().len()
    }

    fn forget_old(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, VecDeque<Instant>>> {
        // The map holds no invariant a panic could break; keep going.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<ThrottleKey> {
        vec![
            ThrottleKey::address([127, 0, 0, 1].into()),
            ThrottleKey::account("ada@example.com"),
        ]
    }

    fn fail(throttle: &LoginThrottle, keys: Vec<ThrottleKey>) {
        drop(throttle.begin(keys).unwrap());
    }

    #[test]
    fn failures_up_to_the_limit_are_allowed_and_the_next_is_not() {
        // Arrange
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));

        // Act
        for _ in 0..3 {
            fail(&throttle, keys());
        }
        let at_limit = throttle.begin(keys());

        // Assert
        let retry_after = at_limit.err().unwrap();
        assert!(retry_after > Duration::from_secs(58) && retry_after <= Duration::from_secs(60));
    }

    #[test]
    fn failures_expire_with_the_window_and_refused_attempts_do_not_extend_it() {
        let throttle = LoginThrottle::new(1, Duration::from_millis(40));
        fail(&throttle, keys());
        for _ in 0..5 {
            assert!(throttle.begin(keys()).is_err());
            std::thread::sleep(Duration::from_millis(5));
        }

        std::thread::sleep(Duration::from_millis(30));

        assert!(throttle.begin(keys()).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_so_a_burst_cannot_outrun_the_limit() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));

        let in_flight: Vec<_> = (0..10).map(|_| throttle.begin(keys())).collect();

        assert_eq!(in_flight.iter().filter(|a| a.is_ok()).count(), 3);
    }

    #[test]
    fn a_success_is_taken_back_and_clears_the_account_but_not_the_address() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        fail(&throttle, keys());

        throttle.begin(keys()).unwrap().succeeded();

        // The account starts over; the address still has its one failure.
        let other_account = vec![
            ThrottleKey::address([127, 0, 0, 1].into()),
            ThrottleKey::account("grace@example.com"),
        ];
        fail(&throttle, other_account.clone());
        assert!(throttle.begin(other_account).is_err());
        let from_elsewhere = vec![
            ThrottleKey::address([10, 0, 0, 1].into()),
            ThrottleKey::account("ada@example.com"),
        ];
        assert!(throttle.begin(from_elsewhere).is_ok());
    }

    #[test]
    fn one_account_is_throttled_from_any_address() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60));
        fail(&throttle, keys());

        let from_elsewhere = vec![
            ThrottleKey::address([10, 0, 0, 9].into()),
            ThrottleKey::account("ada@example.com"),
        ];

        assert!(throttle.begin(from_elsewhere.clone()).is_err());
        assert!(throttle.begin(from_elsewhere[..1].to_vec()).is_ok());
    }

    #[test]
    fn ipv6_addresses_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();

        assert_eq!(ThrottleKey::address(a), ThrottleKey::address(b));
        assert_ne!(ThrottleKey::address(a), ThrottleKey::address(c));
        assert_eq!(
            ThrottleKey::address(mapped),
            ThrottleKey::address([10, 0, 0, 1].into())
        );
    }

    #[test]
    fn account_keys_are_normalised_and_bounded() {
        assert_eq!(
            ThrottleKey::account("  Ada@Example.COM "),
            ThrottleKey::account("ada@example.com")
        );
        let ThrottleKey::Account(long) = ThrottleKey::account(&"é".repeat(10_000)) else {
            unreachable!()
        };
        assert_eq!(long.chars().count(), ThrottleKey::MAX_ACCOUNT_CHARS);
    }
}
