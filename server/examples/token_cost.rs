//! What an access token costs to sign and to check, per algorithm of the
//! key ring (`SIGNING_ALG`): HS256 against EdDSA (Ed25519), through the
//! server's own `TokenService` (header, `kid` lookup, jsonwebtoken's
//! signature and claims checks), one thread: signing, checking a token
//! for the first time, and checking it again (an EdDSA token is then found
//! among the tokens already verified). Prints the median of several rounds,
//! in CPU time of this thread (so that a busy machine's other work does not
//! count) and in wall time.
//!
//! Run with `cargo run --release -p server --example token_cost -- [rounds]`.
//! `/api` checks one token per request; see the notes of the key ring for
//! what the difference means there (`scripts/bench --server-env
//! SIGNING_ALG=EdDSA`).

use std::time::{Duration, Instant};

use chrono::Utc;
use server::auth::keys::{KeyPolicy, KeyStorage, SigningAlg, StoredKey};
use server::auth::tokens::TokenService;
use uuid::Uuid;

/// Operations timed per round.
const PER_ROUND: u32 = 5_000;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(9)
        .max(3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let dir = std::env::temp_dir().join(format!("token-cost-{}", std::process::id()));
    println!(
        "median of {rounds} rounds of {PER_ROUND} distinct tokens, one thread; µs per token, CPU / wall"
    );
    println!(
        "{:<6} {:>18} {:>22} {:>22}",
        "alg", "sign", "verify, first sight", "verify, seen before"
    );
    for alg in [SigningAlg::Hs256, SigningAlg::EdDsa] {
        let policy = KeyPolicy {
            reload_every: Duration::from_secs(60),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(5),
        };
        let key = StoredKey::generate(1, alg, Utc::now()).expect("a key");
        // A new service has nothing remembered.
        let service = || {
            TokenService::from_keys(vec![key.clone()], KeyStorage::Folder(dir.clone()), policy)
                .expect("a ring")
        };
        let tokens = service();
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let batch: Vec<String> = (0..PER_ROUND)
            .map(|_| {
                tokens
                    .issue_access_token(user, session, Utc::now())
                    .expect("a token")
            })
            .collect();
        let verify_all = |tokens: &TokenService| {
            runtime.block_on(async {
                for token in &batch {
                    let claims = tokens.verify_access_token(token).await;
                    assert!(claims.is_ok());
                    std::hint::black_box(claims.ok());
                }
            });
        };

        let sign = median(
            rounds,
            || (),
            |()| {
                for _ in 0..PER_ROUND {
                    std::hint::black_box(tokens.issue_access_token(user, session, Utc::now()).ok());
                }
            },
        );
        let first_sight = median(rounds, service, |fresh| verify_all(&fresh));
        verify_all(&tokens);
        let seen_before = median(rounds, || (), |()| verify_all(&tokens));
        println!(
            "{:<6} {:>8.2} / {:>7.2} {:>10.2} / {:>9.2} {:>10.2} / {:>9.2}",
            alg.name(),
            sign.0,
            sign.1,
            first_sight.0,
            first_sight.1,
            seen_before.0,
            seen_before.1,
        );
    }
}

/// The median (CPU µs, wall µs) per operation of `rounds` runs of `work`,
/// each on what `setup` made (untimed).
fn median<T>(rounds: usize, mut setup: impl FnMut() -> T, mut work: impl FnMut(T)) -> (f64, f64) {
    work(setup()); // warm-up
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..rounds {
        let input = setup();
        let (cpu_start, wall_start) = (thread_cpu_time(), Instant::now());
        work(input);
        let per_op = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(PER_ROUND);
        cpu.push(per_op(thread_cpu_time().saturating_sub(cpu_start)));
        wall.push(per_op(wall_start.elapsed()));
    }
    let mid = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (mid(&mut cpu), mid(&mut wall))
}

/// This thread's CPU time, from Linux's `/proc/thread-self/schedstat`
/// (nanoseconds on a CPU); zero elsewhere.
fn thread_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}
