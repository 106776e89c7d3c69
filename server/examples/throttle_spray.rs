//! Throttle spray: failed logins from ever new addresses against ever new
//! emails, straight into the in-memory login limiter (SQLite's), as an
//! attacker with an IPv6 /48 and a list of made-up emails would send them.
//! Prints the time per attempt at the start (empty table) and at the end
//! (full table, evicting on every attempt), and how much the process's
//! memory grew.
//!
//! Run with `scripts/bench --throttle-spray` (or
//! `cargo run --release -p server --example throttle_spray -- [attempts]`).
//! The HTTP path adds an argon2 hash per counted failure, which is what
//! bounds an attacker's rate; this measures the limiter alone.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use server::auth::throttle::{MemoryLimiter, ThrottleKey, Throttles};

/// Attempts timed at each end.
const SAMPLE: usize = 20_000;

fn main() {
    let attempts: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
        .max(2 * SAMPLE);
    let limiter = MemoryLimiter::new(10, Duration::from_secs(300), Throttles::LOGIN_KEYS);
    let rss_before = rss_kib();
    let start = Instant::now();
    let mut first = Duration::ZERO;
    let mut last = Duration::ZERO;
    let mut refused = 0usize;

    for i in 0..attempts {
        // Time passes as it would at 1 000 attempts a second, so the whole
        // spray stays inside one window for the default attempts.
        let now = start + Duration::from_micros(i as u64 * 100);
        let n = u128::try_from(i).expect("fits");
        // A new /64 of one /48 every attempt, cycling, and a new email.
        let address = IpAddr::V6(Ipv6Addr::from(
            (0x2001_0db8_0001_u128 << 80) | ((n % 65_536) << 64) | n,
        ));
        let keys = [
            ThrottleKey::address(address),
            ThrottleKey::account(&format!("user{i}@example.com")),
        ];
        let timed = Instant::now();
        match limiter.begin(&keys, now) {
            Ok(attempt) => drop(attempt),
            Err(_) => refused += 1,
        }
        let took = timed.elapsed();
        if i < SAMPLE {
            first += took;
        } else if i >= attempts - SAMPLE {
            last += took;
        }
    }

    let rss_after = rss_kib();
    let per = |total: Duration| total.as_nanos() as f64 / SAMPLE as f64;
    println!(
        "throttle spray: {attempts} failed logins, new address (/64 of one /48) and new email each"
    );
    println!("  capacity                {} keys", Throttles::LOGIN_KEYS);
    println!("  time per attempt, first {SAMPLE}: {:>7.0} ns", per(first));
    println!("  time per attempt, last  {SAMPLE}: {:>7.0} ns", per(last));
    println!("  refused (429)           {refused}");
    println!(
        "  RSS                     {} KiB -> {} KiB (+{} KiB)",
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before)
    );
}

/// The process's resident memory, from /proc (Linux); 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
