//! The printed result: Markdown, so a run can be pasted into BENCHMARKS.md
//! as it is.

use std::time::Duration;

use crate::load::Outcome;
use crate::proc;
use crate::sizes::Asset;
use crate::{Args, HashTime};

/// The targets.
const EXPIRED_MIN_RATIO: f64 = 0.90;
const LOGIN_MIN_RATIO: f64 = 0.95;
const REFRESH_CONNECTIONS: usize = 64;
const RSS_LIMIT_KIB: u64 = 64 * 1024;
/// 150 KB, read strictly as 150 000 bytes.
const BUNDLE_LIMIT_BYTES: usize = 150_000;
/// A login stalls when none completes for this long, or a cheap request
/// waits this long beside the hashing.
const STALL: Duration = Duration::from_millis(250);
/// How many distinct server log messages the report quotes, and how much
/// of each.
const LOG_LINES_SHOWN: usize = 10;
const LOG_LINE_CHARS: usize = 600;

/// The time to first byte of a server-rendered page.
#[derive(Clone, Debug)]
pub struct Page {
    pub path: String,
    pub samples: usize,
    pub first_byte_p50: Duration,
    pub first_byte_p99: Duration,
    pub whole_p50: Duration,
    pub bytes: usize,
    /// Whether the HTML named the signed-in user.
    pub shows_user: bool,
    /// Measured as a returning visitor whose access token has expired: from
    /// the first request to the first byte of the final page, through
    /// `303` → `GET /auth/refresh` `303` → the page `200`, on one connection.
    pub via_refresh: bool,
}

/// Everything one run found.
#[derive(Debug, Default)]
pub struct Report {
    machine: String,
    rounds: usize,
    warmup: Duration,
    duration: Duration,

    wasm_opt: Option<String>,
    server_env: Vec<(String, String)>,
    database_note: String,
    /// The access token's JWT header, as the server wrote it.
    pub token_header: String,
    /// The database cluster's CPUs, when it runs apart from the server.
    pub database_cpus: Option<String>,
    /// Its memory (PSS, KiB) and process count after the server started
    /// and at the end.
    pub database_idle_pss: Option<(u64, usize)>,
    pub database_end_pss: Option<(u64, usize)>,
    /// Every line the servers logged (warnings and errors only).
    pub server_log: Vec<String>,
    /// The machine's load averages when the run began and ended.
    load_before: String,
    pub load_after: String,
    pub server_cpus: String,
    pub client_cpus: String,
    pub assets: Vec<Asset>,
    pub wasm_profile: Option<String>,
    pub outcomes: Vec<Outcome>,
    pub login: Option<Outcome>,
    pub hash_time: HashTime,
    pub pages: Vec<Page>,
    pub server_idle_rss_kib: u64,
    pub server_hwm_kib: u64,
    pub wall: Duration,
}

impl Report {
    pub fn new(args: &Args) -> Self {
        Self {
            machine: proc::machine(),
            rounds: args.rounds,
            warmup: args.warmup,
            duration: args.duration,

            wasm_opt: args.wasm_opt.clone(),
            server_env: args.server_env.clone(),
            load_before: proc::load_average(),
            database_note: args
                .database_note
                .clone()
                .unwrap_or_else(|| match &args.database_url {
                    Some(_) => "as the given DATABASE_URL".to_owned(),
                    None => "SQLite, a fresh file in the server's data folder (the default \
                             DATABASE_URL)"
                        .to_owned(),
                }),
            ..Self::default()
        }
    }

    pub fn total_errors(&self) -> u64 {
        self.outcomes
            .iter()
            .chain(&self.login)
            .map(|o| o.summary.error_count() + o.probe.as_ref().map_or(0, |p| p.error_count()))
            .sum()
    }

    /// The best of the ceiling routes: the rate every other route is compared with.
    fn ceiling(&self) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.name.contains("(ceiling)"))
            .max_by(|a, b| a.summary.per_sec.total_cmp(&b.summary.per_sec))
    }

    /// The ceiling route that costs the server least CPU per request.
    fn ceiling_per_cpu(&self) -> f64 {
        self.outcomes
            .iter()
            .filter(|o| o.name.contains("(ceiling)"))
            .map(per_cpu)
            .fold(f64::NAN, f64::max)
    }

    fn server_cores(&self) -> usize {
        proc::count_cpus(&self.server_cpus).max(1)
    }

    /// Logins per second of server CPU the hashing alone allows: 1 ÷ one hash.
    fn login_ceiling_per_cpu(&self) -> f64 {
        self.login_ceiling() / self.server_cores() as f64
    }

    /// Logins per second the hashing alone allows: cores ÷ one hash.
    fn login_ceiling(&self) -> f64 {
        if self.hash_time.cpu.is_zero() {
            return f64::NAN;
        }
        self.server_cores() as f64 / self.hash_time.cpu.as_secs_f64()
    }

    fn find(&self, prefix: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.name == prefix)
    }

    pub fn print(&self) {
        println!("## Run\n");
        println!("- Machine: {}", self.machine);
        if !self.server_cpus.is_empty() {
            let pinned = self.server_cpus != self.client_cpus;
            println!(
                "- Server on CPU {} and load generator on CPU {}{}",
                self.server_cpus,
                self.client_cpus,
                if pinned {
                    " (pinned with taskset; the server's tokio runtime and argon2 \
                     permits size themselves to its cores)"
                } else {
                    " (NOT pinned apart: figures include the load generator's own cost)"
                }
            );
            println!(
                "- Closed loop (each connection sends its next request when the answer is in). \
                 {} interleaved rounds of every scenario, each {:?} warm-up + {:?} measured; \
                 the best round of each is shown (for login, the one closest to its own \
                 ceiling), errors are summed over all rounds.",
                self.rounds, self.warmup, self.duration
            );
            println!("- Database: {}", self.database_note);
            if let Some(cpus) = &self.database_cpus {
                println!(
                    "- The database cluster on CPU {cpus}; the \"server CPU\" columns include \
                     its processes' CPU time (the server's and the database's together, as with \
                     SQLite inside the server), and \"of which database\" is its part"
                );
            }
            println!("- Access token header: `{}`", self.token_header);
            println!(
                "- Whole run (after builds): {:.0} s; load average (1, 5, 15 min) {} at the \
                 start, {} at the end",
                self.wall.as_secs_f64(),
                self.load_before,
                self.load_after
            );
            for (key, value) in &self.server_env {
                println!("- Extra server setting: `{key}={value}`");
            }
        }

        if !self.outcomes.is_empty() {
            self.print_load();
            self.print_memory_and_page();
            self.print_log();
        }
        self.print_sizes();
        if !self.outcomes.is_empty() {
            self.print_targets();
        }
    }

    fn print_load(&self) {
        let ceiling = self.ceiling().map_or(f64::NAN, |c| c.summary.per_sec);
        let ceiling_per_cpu = self.ceiling_per_cpu();
        let database = self.database_cpus.is_some();
        println!("\n## Load\n");
        println!(
            "| scenario | conns | req/s | ratio to ceiling | req per server CPU-s | ratio per CPU-s | p50 ms | p99 ms | max ms | errors | server CPU |{} load gen CPU | other processes CPU | server peak RSS MiB |",
            if database { " of which database |" } else { "" }
        );
        println!(
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}---:|---:|---:|",
            if database { "---:|" } else { "" }
        );
        for outcome in &self.outcomes {
            row(
                outcome,
                outcome.summary.per_sec / ceiling,
                per_cpu(outcome) / ceiling_per_cpu,
                database,
            );
        }
        if let Some(login) = &self.login {
            row(
                login,
                login.summary.per_sec / self.login_ceiling(),
                per_cpu(login) / self.login_ceiling_per_cpu(),
                database,
            );
        }
        println!();
        println!(
            "CPU columns are cores busy over the measured window (100% = one core). \
             \"ratio per CPU-s\" divides each rate by the server's CPU time, so it compares \
             the cost of one request whatever share of its core the server got."
        );
        if let Some(c) = self.ceiling() {
            println!(
                "Ceiling for every route but login: the best of the ceiling routes, in each \
                 measure: {:.0} req/s ({}), {:.0} req per server CPU-s.",
                c.summary.per_sec,
                c.name,
                self.ceiling_per_cpu()
            );
        }
        println!(
            "Ceiling for login: {} core(s) ÷ {:.1} ms of CPU per argon2id hash (m=19456 KiB, \
             t=2, p=1; median of 15 on the load generator's core, before and after that login \
             round; {:.1} ms wall) = {:.1} logins/s.",
            self.server_cores(),
            ms(self.hash_time.cpu),
            ms(self.hash_time.wall),
            self.login_ceiling()
        );
        if let Some(login) = &self.login {
            println!(
                "Login: longest time with no login completing {:.0} ms.",
                ms(login.summary.longest_gap)
            );
            if let Some(probe) = &login.probe {
                println!(
                    "During login, GET /healthz every 20 ms on its own connection: p50 {:.2} ms, \
                     p99 {:.2} ms, max {:.2} ms, {} errors.",
                    ms(probe.p50),
                    ms(probe.p99),
                    ms(probe.max),
                    probe.error_count()
                );
            }
        }
        for outcome in self.outcomes.iter().chain(&self.login) {
            for (kind, n) in &outcome.summary.errors {
                println!("Errors in {}: {n} × {kind}", outcome.name);
            }
        }
    }

    fn print_memory_and_page(&self) {
        println!("\n## Memory and first byte\n");
        println!(
            "- Server resident memory: {:.1} MiB idle after start, {:.1} MiB peak over the whole run (VmHWM).",
            mib(self.server_idle_rss_kib),
            mib(self.server_hwm_kib)
        );
        if let (Some((idle, n_idle)), Some((end, n_end))) =
            (self.database_idle_pss, self.database_end_pss)
        {
            println!(
                "- Database cluster memory (proportional set size, shared buffers counted once): \
                 {:.1} MiB in {n_idle} processes after the server started, {:.1} MiB in {n_end} \
                 processes at the end.",
                mib(idle),
                mib(end)
            );
        }
        for page in &self.pages {
            let who = if page.via_refresh {
                "as a returning visitor with an expired token (`303` → `GET /auth/refresh` `303` → `200`, \
                 first byte of the final page counted from the first request)"
            } else {
                "signed in"
            };
            println!(
                "- `GET {}` {who} (server-rendered, {} sequential navigations on one connection): \
                 first byte p50 {:.2} ms, p99 {:.2} ms; whole page p50 {:.2} ms; {} bytes{}.",
                page.path,
                page.samples,
                ms(page.first_byte_p50),
                ms(page.first_byte_p99),
                ms(page.whole_p50),
                page.bytes,
                if page.shows_user {
                    "; the HTML names the signed-in user"
                } else {
                    "; NOTE: the HTML did not contain the user's email"
                }
            );
        }
    }

    /// The servers log warnings and errors only; each distinct message
    /// (without its timestamp) once, with how often it came.
    fn print_log(&self) {
        println!("\n## Server log\n");
        if self.server_log.is_empty() {
            println!("No warnings or errors.");
            return;
        }
        let mut seen: Vec<(String, usize)> = Vec::new();
        for line in &self.server_log {
            // tracing's lines start with an RFC 3339 timestamp.
            let message = line
                .split_once(' ')
                .filter(|(time, _)| time.ends_with('Z'))
                .map_or(line.as_str(), |(_, rest)| rest.trim_start());
            match seen.iter_mut().find(|(m, _)| m == message) {
                Some((_, n)) => *n += 1,
                None => seen.push((message.to_owned(), 1)),
            }
        }
        println!(
            "{} lines, {} distinct{}:\n",
            self.server_log.len(),
            seen.len(),
            if seen.len() > LOG_LINES_SHOWN {
                format!(" (the first {LOG_LINES_SHOWN} shown)")
            } else {
                String::new()
            }
        );
        for (message, n) in seen.iter().take(LOG_LINES_SHOWN) {
            let shown: String = message.chars().take(LOG_LINE_CHARS).collect();
            let cut = if shown.len() < message.len() {
                " …"
            } else {
                ""
            };
            println!("- {n} × `{}{cut}`", shown.replace('`', "'"));
        }
    }

    fn print_sizes(&self) {
        println!("\n## Release bundle\n");
        println!("| file | raw | gzip -9 | brotli 11 |");
        println!("|---|---:|---:|---:|");
        for asset in &self.assets {
            println!(
                "| {} | {} | {} | {} |",
                asset.file,
                kb(asset.raw),
                kb(asset.gzip),
                kb(asset.brotli)
            );
        }
        let (raw, gzip, brotli) = self.bundle();
        println!(
            "| **WASM + JS** | {} | {} | **{}** |",
            kb(raw),
            kb(gzip),
            kb(brotli)
        );
        println!();
        if let Some(profile) = &self.wasm_profile {
            println!("Profile `wasm-release` (inherits `release`): {profile}.");
        }
        match &self.wasm_opt {
            Some(version) => {
                println!(
                    "wasm-opt: {version}, run by cargo-leptos on release builds with \
                 `-Oz --enable-bulk-memory --enable-nontrapping-float-to-int`; cargo-leptos \
                 also minifies the JS."
                )
            }
            None => println!("wasm-opt: not reported (pass --wasm-opt)."),
        }
    }

    /// Raw, gzip and brotli bytes of the WASM and JS (not the CSS).
    fn bundle(&self) -> (usize, usize, usize) {
        self.assets
            .iter()
            .filter(|a| !a.file.ends_with(".css"))
            .fold((0, 0, 0), |(r, g, b), a| {
                (r + a.raw, g + a.gzip, b + a.brotli)
            })
    }

    fn print_targets(&self) {
        println!("\n## Targets\n");
        println!("| target | measured | verdict |");
        println!("|---|---|---|");
        let ceiling = self.ceiling().map_or(f64::NAN, |c| c.summary.per_sec);

        let ceiling_per_cpu = self.ceiling_per_cpu();
        if let Some(expired) = self.find("GET /auth/me, expired token") {
            let raw = expired.summary.per_sec / ceiling;
            let ratio = per_cpu(expired) / ceiling_per_cpu;
            verdict(
                "expired-token 401 ≥ 90% of the ceiling route (per server CPU-s)",
                format!(
                    "{:.0}% per CPU-s ({:.0}% in raw req/s)",
                    ratio * 100.0,
                    raw * 100.0
                ),
                ratio >= EXPIRED_MIN_RATIO,
                format!("{:.0} points short", (EXPIRED_MIN_RATIO - ratio) * 100.0),
            );
        }
        if let Some(me) = self.find("GET /auth/me") {
            println!(
                "| /auth/me (token check + one primary-key read) as a ratio | {:.0}% per CPU-s ({:.0}% in raw req/s) | reported |",
                per_cpu(me) / ceiling_per_cpu * 100.0,
                me.summary.per_sec / ceiling * 100.0
            );
        }
        if let Some(refresh) = self.find("POST /auth/refresh (rotation)") {
            let errors = refresh.summary.error_count();
            verdict(
                "refresh rotation: zero errors under 64 connections",
                format!("{errors} errors, {} connections", refresh.connections),
                errors == 0 && refresh.connections >= REFRESH_CONNECTIONS,
                format!("{errors} errors at {} connections", refresh.connections),
            );
        }
        if let Some(login) = &self.login {
            let ratio = login.summary.per_sec / self.login_ceiling();
            verdict(
                "login ≥ 95% of cores ÷ hash time",
                format!(
                    "{:.0}% ({:.0}% per CPU-s)",
                    ratio * 100.0,
                    per_cpu(login) / self.login_ceiling_per_cpu() * 100.0
                ),
                ratio >= LOGIN_MIN_RATIO,
                format!("{:.0} points short", (LOGIN_MIN_RATIO - ratio) * 100.0),
            );
            let probe_max = login.probe.as_ref().map_or(Duration::ZERO, |p| p.max);
            let gap = login.summary.longest_gap;
            verdict(
                "login: no stalls (no 250 ms without a login; /healthz beside it under 250 ms)",
                format!(
                    "longest gap {:.0} ms, /healthz max {:.1} ms",
                    ms(gap),
                    ms(probe_max)
                ),
                gap < STALL && probe_max < STALL,
                "stalled".to_owned(),
            );
        }
        verdict(
            "server peak RSS < 64 MiB",
            format!("{:.1} MiB", mib(self.server_hwm_kib)),
            self.server_hwm_kib > 0 && self.server_hwm_kib < RSS_LIMIT_KIB,
            format!(
                "over by {:.1} MiB",
                mib(self.server_hwm_kib.saturating_sub(RSS_LIMIT_KIB))
            ),
        );
        let (_, _, brotli) = self.bundle();
        verdict(
            "release WASM + JS ≤ 150 KB brotli",
            kb(brotli),
            brotli <= BUNDLE_LIMIT_BYTES,
            format!("over by {}", kb(brotli.saturating_sub(BUNDLE_LIMIT_BYTES))),
        );
        let errors = self.total_errors();
        verdict(
            "zero errors in every scenario",
            format!("{errors}"),
            errors == 0,
            "figures invalid".to_owned(),
        );
    }
}

/// Requests per second of server CPU time.
fn per_cpu(outcome: &Outcome) -> f64 {
    outcome.summary.per_sec / outcome.server_cpu
}

fn row(outcome: &Outcome, ratio: f64, ratio_per_cpu: f64, database: bool) {
    let s = &outcome.summary;
    let database = if database {
        format!(
            " {:.0}% |",
            outcome.database_cpu.unwrap_or(f64::NAN) * 100.0
        )
    } else {
        String::new()
    };
    println!(
        "| {} | {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.0}% |{database} {:.0}% | {:.0}% | {:.1} |",
        outcome.name,
        outcome.connections,
        s.per_sec,
        ratio,
        per_cpu(outcome),
        ratio_per_cpu,
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        s.error_count(),
        outcome.server_cpu * 100.0,
        outcome.client_cpu * 100.0,
        outcome.others_cpu * 100.0,
        mib(outcome.server_peak_rss_kib)
    );
}

fn verdict(target: &str, measured: String, met: bool, miss: String) {
    let verdict = if met {
        "met".to_owned()
    } else {
        format!("**missed**: {miss}")
    };
    println!("| {target} | {measured} | {verdict} |");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Bytes as kilobytes of 1000, with the exact count.
fn kb(bytes: usize) -> String {
    format!("{:.1} KB ({bytes} B)", bytes as f64 / 1000.0)
}
