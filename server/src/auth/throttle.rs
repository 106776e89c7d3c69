//! Login throttling: after `LOGIN_MAX_FAILURES` failed logins within
//! `LOGIN_FAILURE_WINDOW_SECS`, from one address or for one account, further
//! attempts get `429` until the oldest failure leaves the window.
//!
//! Kept in memory: it resets on restart and is per process, which is what a
//! one-machine demo needs. The address is the TCP peer; behind a proxy every
//! client would share one, so a deployment there must pass the client
//! address through (not done here).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins per key, oldest first.
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<ThrottleKey, VecDeque<Instant>>>,
}

/// What failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    Address(IpAddr),
    /// The normalised email as typed, whether or not such an account exists,
    /// so that throttling does not reveal which accounts exist.
    Account(String),
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

    /// `Err(retry_after)` when any of `keys` has failed too often lately.
    pub fn check(&self, keys: &[ThrottleKey]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.lock();
        let mut retry_after = None::<Duration>;
        for key in keys {
            if let Some(times) = failures.get_mut(key) {
                self.forget_old(times, now);
                if times.len() >= self.max_failures
                    && let Some(oldest) = times.front()
                {
                    let wait = self.window.saturating_sub(now.duration_since(*oldest));
                    retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
                }
            }
        }
        retry_after.map_or(Ok(()), Err)
    }

    pub fn record_failure(&self, keys: &[ThrottleKey]) {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() > Self::SWEEP_ABOVE {
            failures.retain(|_, times| {
                self.forget_old(times, now);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            self.forget_old(times, now);
            times.push_back(now);
        }
    }

    /// A successful login clears its account's failures (not its address's).
    pub fn forget(&self, key: &ThrottleKey) {
        self.lock().remove(key);
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
            ThrottleKey::Address([127, 0, 0, 1].into()),
            ThrottleKey::Account("ada@example.com".into()),
        ]
    }

    #[test]
    fn failures_up_to_the_limit_are_allowed_and_the_next_is_not() {
        // Arrange
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));

        // Act
        for _ in 0..2 {
            throttle.record_failure(&keys());
        }
        let before_limit = throttle.check(&keys());
        throttle.record_failure(&keys());
        let at_limit = throttle.check(&keys());

        // Assert
        assert!(before_limit.is_ok());
        let retry_after = at_limit.unwrap_err();
        assert!(retry_after > Duration::from_secs(58) && retry_after <= Duration::from_secs(60));
    }

    #[test]
    fn failures_expire_with_the_window() {
        let throttle = LoginThrottle::new(1, Duration::from_millis(20));
        throttle.record_failure(&keys());
        assert!(throttle.check(&keys()).is_err());

        std::thread::sleep(Duration::from_millis(30));

        assert!(throttle.check(&keys()).is_ok());
    }

    #[test]
    fn one_account_is_throttled_from_any_address() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60));
        throttle.record_failure(&keys());

        let from_elsewhere = [
            ThrottleKey::Address([10, 0, 0, 9].into()),
            ThrottleKey::Account("ada@example.com".into()),
        ];

        assert!(throttle.check(&from_elsewhere).is_err());
        assert!(throttle.check(&from_elsewhere[..1]).is_ok());
    }
}
