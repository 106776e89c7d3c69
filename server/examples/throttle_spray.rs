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
//!
//! With `DATABASE_URL=postgres://…` (a scratch database: it is migrated,
//! and its throttle table filled) it sprays PostgreSQL's shared limiter
//! instead, from [`TASKS`] tasks at once, and prints the attempts' rate and
//! latency, the table's rows and size, and what a successful login pays
//! (an attempt and its take-back) on a fresh key and on one hot key.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use chrono::Utc;
use server::auth::throttle::{LimiterId, MemoryLimiter, SharedLimiter, ThrottleKey, Throttles};
use server::store::PostgresStore;

/// Attempts timed at each end.
const SAMPLE: usize = 20_000;

/// Concurrent attempts against PostgreSQL, as from that many requests.
const TASKS: usize = 8;

fn main() {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        let attempts = attempts(50_000);
        return tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(shared_spray(url, attempts));
    }
    let attempts = attempts(1_000_000).max(2 * SAMPLE);
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
        let keys = spray_keys(i);
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

fn attempts(default: usize) -> usize {
    std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A new /64 of one /48 for every `n`, cycling, and a new email.
fn spray_keys(n: usize) -> [ThrottleKey; 2] {
    let wide = u128::try_from(n).expect("fits");
    let address = IpAddr::V6(Ipv6Addr::from(
        (0x2001_0db8_0001_u128 << 80) | ((wide % 65_536) << 64) | wide,
    ));
    [
        ThrottleKey::address(address),
        ThrottleKey::account(&format!("user{n}@example.com")),
    ]
}

/// The spray against PostgreSQL's shared limiter.
async fn shared_spray(url: String, attempts: usize) {
    let store = PostgresStore::connect(&url)
        .await
        .expect("DATABASE_URL names a database this user may migrate");
    let limiter = std::sync::Arc::new(SharedLimiter::new(
        store,
        LimiterId::Logins,
        10,
        Duration::from_secs(300),
    ));
    let start = Utc::now();
    let at = move |n: usize| {
        // 1 000 attempts a second of passed-in time: all in one window.
        start + chrono::Duration::microseconds(i64::try_from(n).expect("fits") * 1_000)
    };

    // Failed logins, each on new keys, TASKS at a time.
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let limiter = std::sync::Arc::clone(&limiter);
        tasks.spawn(async move {
            let mut took = Vec::new();
            for n in (task..attempts).step_by(TASKS) {
                let timed = Instant::now();
                let attempt = limiter.begin(&spray_keys(n), at(n)).await;
                took.push(timed.elapsed());
                drop(attempt.expect("new keys are never refused"));
            }
            took
        });
    }
    let mut took: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    let spray = began.elapsed();
    took.sort();
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("the same database");
    let (rows, bytes): (i64, i64) =
        sqlx::query_as("select count(*), pg_total_relation_size('throttle') from throttle")
            .fetch_one(&pool)
            .await
            .expect("the throttle table");

    // A successful login: its attempt, then its take-back.
    let logins = |hot: bool| {
        let limiter = std::sync::Arc::clone(&limiter);
        async move {
            let began = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..TASKS {
                let limiter = std::sync::Arc::clone(&limiter);
                tasks.spawn(async move {
                    for n in (task..2_000).step_by(TASKS) {
                        let n = attempts + n;
                        let keys = if hot {
                            [
                                ThrottleKey::address([10, 0, 0, 1].into()),
                                ThrottleKey::account("hot@example.com"),
                            ]
                        } else {
                            spray_keys(n)
                        };
                        let attempt = limiter.begin(&keys, at(n)).await.expect("counted");
                        attempt.succeeded().await;
                    }
                });
            }
            tasks.join_all().await;
            2_000.0 / began.elapsed().as_secs_f64()
        }
    };
    let fresh = logins(false).await;
    let hot = logins(true).await;

    let quantile = |q: f64| took[((took.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "throttle spray, PostgreSQL: {attempts} failed logins, new address (/64 of one /48) and new email each, {TASKS} at a time"
    );
    println!(
        "  rate                    {:>7.0} attempts/s",
        attempts as f64 / spray.as_secs_f64()
    );
    println!(
        "  latency                 p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        quantile(0.5),
        quantile(0.99),
        quantile(1.0)
    );
    println!(
        "  rows                    {rows} ({} bytes a row, table and indexes)",
        bytes / rows.max(1)
    );
    println!(
        "  successful logins' throttle work ({TASKS} at a time): new keys {fresh:.0}/s, one hot key {hot:.0}/s"
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
