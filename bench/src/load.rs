//! The closed-loop load generator: each connection sends its next request as
//! soon as the previous answer is in, for a warm-up and then a fixed window.
//! Only answers that complete inside the window count towards the rate and
//! the latencies; every unexpected answer, warm-up included, counts as an
//! error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::time::sleep_until;

use crate::http::{Answer, Call, Conn};
use crate::proc::{self, Cpu};

/// A request that takes longer than this is an error (and a stall).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What makes an answer right.
#[derive(Clone, Debug)]
pub enum Check {
    /// This status and nothing else.
    Status(u16),
    /// This status with this header value (the `token_expired` signal).
    StatusWithHeader(u16, &'static str, &'static str),
    /// `200` with a new `refresh_token` cookie, which the connection sends
    /// next. A grace-window answer (no new cookie) means a token was used
    /// twice, and is an error.
    Rotation,
}

impl Check {
    /// `Ok` when the answer is right; for a rotation, moves the chain on.
    fn judge(&self, answer: &Answer, chain: &mut Option<String>) -> Result<(), String> {
        let expected = match self {
            Check::Status(status) | Check::StatusWithHeader(status, _, _) => *status,
            Check::Rotation => 200,
        };
        if answer.status.as_u16() != expected {
            return Err(answer.error_code());
        }
        match self {
            Check::Status(_) => Ok(()),
            Check::StatusWithHeader(_, name, value) => {
                match answer.headers.get(*name).and_then(|v| v.to_str().ok()) {
                    Some(found) if found == *value => Ok(()),
                    found => Err(format!("{expected} with {name}: {found:?}")),
                }
            }
            Check::Rotation => match answer.set_cookie("refresh_token") {
                Some(next) if chain.as_deref() != Some(next.as_str()) => {
                    *chain = Some(next);
                    Ok(())
                }
                _ => Err("200 without a new refresh cookie (token reused)".to_owned()),
            },
        }
    }
}

/// One measured workload.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub connections: usize,
    pub call: Call,
    pub check: Check,
    /// For `Check::Rotation`: each connection's current refresh token;
    /// `None` once a chain has broken.
    pub chains: Vec<Option<String>>,
}

/// A low-rate side connection measured during a scenario, to see whether
/// the server still answers cheap requests promptly under that load.
#[derive(Clone, Debug)]
pub struct Probe {
    pub call: Call,
    pub check: Check,
    pub every: Duration,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, at: Instant) -> bool {
        at >= self.start && at <= self.end
    }
}

/// What one connection saw.
#[derive(Default)]
struct ConnStats {
    /// Latency of each good answer in the window, in microseconds.
    latencies_us: Vec<u64>,
    /// When each good answer in the window completed, in microseconds after
    /// the window opened.
    done_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
    /// Where the connection's rotation chain ended.
    chain: Option<String>,
}

impl ConnStats {
    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// The figures of one scenario (or probe) over the window.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// The longest time in the window in which no answer completed.
    pub longest_gap: Duration,
    pub errors: BTreeMap<String, u64>,
}

impl Summary {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn from_stats(stats: Vec<ConnStats>, window: Duration) -> Self {
        let mut latencies = Vec::new();
        let mut done = Vec::new();
        let mut errors = BTreeMap::new();
        for conn in stats {
            latencies.extend(conn.latencies_us);
            done.extend(conn.done_us);
            for (kind, n) in conn.errors {
                *errors.entry(kind).or_default() += n;
            }
        }
        latencies.sort_unstable();
        done.sort_unstable();
        let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        let mut previous = 0;
        let mut longest_gap = 0;
        for at in done.iter().copied().chain([window_us]) {
            longest_gap = longest_gap.max(at.saturating_sub(previous));
            previous = at;
        }
        Self {
            per_sec: latencies.len() as f64 / window.as_secs_f64(),
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            max: Duration::from_micros(latencies.last().copied().unwrap_or(0)),
            longest_gap: Duration::from_micros(longest_gap),
            errors,
        }
    }
}

/// The nearest-rank percentile of sorted microseconds.
fn percentile(sorted_us: &[u64], p: f64) -> Duration {
    if sorted_us.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    Duration::from_micros(sorted_us[rank.clamp(1, sorted_us.len()) - 1])
}

/// A scenario's figures plus what the two processes did meanwhile.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: String,
    pub connections: usize,
    pub summary: Summary,
    pub probe: Option<Summary>,
    /// CPU time over the window as a share of one core (1.0 = one core busy):
    /// the server's, plus its database's when that runs apart.
    pub server_cpu: f64,
    /// The part of `server_cpu` that the database cluster took (PostgreSQL;
    /// `None` for SQLite, which runs inside the server).
    pub database_cpu: Option<f64>,
    pub client_cpu: f64,
    /// CPU time every other process on the machine took meanwhile, in cores.
    pub others_cpu: f64,
    /// The largest resident set seen while the scenario ran, in KiB.
    pub server_peak_rss_kib: u64,
    /// Where each connection's rotation chain ended, for the next round.
    pub chains: Vec<Option<String>>,
}

impl Outcome {
    /// Keeps the faster of two rounds of one scenario, with the errors of
    /// both and the higher memory peak: other processes on the machine only
    /// ever slow a round down, so the best round is the least disturbed.
    pub fn best_of(self, other: Outcome) -> Outcome {
        let other_is_better = other.summary.per_sec > self.summary.per_sec;
        self.merge(other, other_is_better)
    }

    /// Keeps one of two rounds (`other` when `take_other`), with the errors
    /// of both and the higher memory peak.
    pub fn merge(self, other: Outcome, take_other: bool) -> Outcome {
        let mut errors = self.summary.errors.clone();
        for (kind, n) in &other.summary.errors {
            *errors.entry(kind.clone()).or_default() += n;
        }
        let peak = self.server_peak_rss_kib.max(other.server_peak_rss_kib);
        let mut best = if take_other { other } else { self };
        best.summary.errors = errors;
        best.server_peak_rss_kib = peak;
        best
    }
}

/// Runs `scenario` against `addr`: `warmup`, then `window` measured.
/// `database_pid` is the database cluster's main process, when the
/// database runs apart from the server: its CPU time and its children's
/// count as the server's.
pub async fn run(
    addr: SocketAddr,
    server_pid: u32,
    database_pid: Option<u32>,
    scenario: &Scenario,
    probe: Option<&Probe>,
    warmup: Duration,
    window: Duration,
) -> Outcome {
    let start = Instant::now() + warmup;
    let times = Window {
        start,
        end: start + window,
    };
    let call = Arc::new(scenario.call.clone());
    let conns: Vec<_> = (0..scenario.connections)
        .map(|i| {
            let chain = scenario.chains.get(i).cloned().flatten();
            tokio::spawn(drive(
                addr,
                Arc::clone(&call),
                scenario.check.clone(),
                chain,
                times,
                None,
            ))
        })
        .collect();
    let probe_task = probe.map(|probe| {
        tokio::spawn(drive(
            addr,
            Arc::new(probe.call.clone()),
            probe.check.clone(),
            None,
            times,
            Some(probe.every),
        ))
    });

    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_rss(
        server_pid,
        Arc::clone(&peak_rss),
        Arc::clone(&sampling),
    ));

    sleep_until(times.start.into()).await;
    let server_before = Cpu::of(server_pid);
    let database_before = database_pid.map(Cpu::of_tree);
    let client_before = Cpu::of_self();
    let machine_before = proc::machine_busy();
    sleep_until(times.end.into()).await;
    let database_cpu = database_pid
        .zip(database_before)
        .map(|(pid, before)| Cpu::of_tree(pid).share_since(before, window));
    let server_cpu =
        Cpu::of(server_pid).share_since(server_before, window) + database_cpu.unwrap_or(0.0);
    let client_cpu = Cpu::of_self().share_since(client_before, window);
    let machine_cpu = proc::machine_busy().share_since(machine_before, window);
    let others_cpu = (machine_cpu - server_cpu - client_cpu).max(0.0);

    let mut stats = Vec::with_capacity(conns.len());
    for conn in conns {
        stats.push(conn.await.unwrap_or_default());
    }
    let chains = stats.iter_mut().map(|conn| conn.chain.take()).collect();
    let probe = match probe_task {
        Some(task) => Some(Summary::from_stats(
            vec![task.await.unwrap_or_default()],
            window,
        )),
        None => None,
    };
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;

    Outcome {
        name: scenario.name.clone(),
        connections: scenario.connections,
        summary: Summary::from_stats(stats, window),
        probe,
        server_cpu,
        database_cpu,
        client_cpu,
        others_cpu,
        server_peak_rss_kib: peak_rss.load(Ordering::Relaxed),
        chains,
    }
}

/// One connection's loop. `pace` spaces its requests (probes); `None` sends
/// back to back.
async fn drive(
    addr: SocketAddr,
    call: Arc<Call>,
    check: Check,
    mut chain: Option<String>,
    window: Window,
    pace: Option<Duration>,
) -> ConnStats {
    let mut stats = ConnStats::default();
    if matches!(check, Check::Rotation) && chain.is_none() {
        // Broken in an earlier round, and counted there.
        return stats;
    }
    let mut conn: Option<Conn> = None;
    while Instant::now() < window.end {
        let open = match conn.as_mut() {
            Some(open) => open,
            None => match Conn::open(addr).await {
                Ok(open) => conn.insert(open),
                Err(e) => {
                    stats.error(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let cookie = match (&check, &chain) {
            (Check::Rotation, Some(token)) => Some(format!("refresh_token={token}")),
            _ => None,
        };
        let started = Instant::now();
        let result =
            tokio::time::timeout(REQUEST_TIMEOUT, open.send(&call, cookie.as_deref())).await;
        let done = Instant::now();
        let verdict = match result {
            Err(_) => Err("timeout".to_owned()),
            Ok(Err(e)) => Err(format!("transport: {e}")),
            Ok(Ok(answer)) => check.judge(&answer, &mut chain),
        };
        match verdict {
            Ok(()) if window.contains(done) => {
                stats.latencies_us.push(micros(done - started));
                stats.done_us.push(micros(done - window.start));
            }
            Ok(()) => {}
            Err(kind) => {
                let transport = kind.starts_with("transport") || kind == "timeout";
                stats.error(kind);
                if transport {
                    conn = None;
                }
                // A rotation chain cannot go on without knowing its token.
                if matches!(check, Check::Rotation) {
                    chain = None;
                    break;
                }
            }
        }
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
    }
    stats.chain = chain;
    stats
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

async fn sample_rss(pid: u32, peak: Arc<AtomicU64>, running: Arc<AtomicBool>) {
    while running.load(Ordering::Relaxed) {
        if let Some(rss) = proc::status_kib(pid, "VmRSS") {
            peak.fetch_max(rss, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
