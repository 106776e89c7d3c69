//! The load benchmark. Starts the release server on 127.0.0.1 with a fresh
//! database, measures each auth path for a fixed window after a warm-up, in
//! interleaved rounds, and prints every figure as a ratio to a ceiling
//! measured in the same run: the
//! server's cheapest routes, and for login the time of one argon2id hash
//! times the cores the server may use. Also the server's peak memory, the
//! time to first byte of a signed-in page and of a returning visitor's
//! navigation through the refresh redirects, and the size of the WASM and JS.
//!
//! Run with `scripts/bench`, which builds everything first; `bench --help`
//! lists the options.

mod http;
mod load;
mod proc;
mod report;
mod server;
mod sizes;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::json;

use crate::http::{Call, Conn, Result, call_once};
use crate::load::{Check, Outcome, Probe, Scenario};
use crate::report::{Page, Report};
use crate::server::{Launch, Server};

const USAGE: &str = "\
usage: bench [options]

  --server-bin PATH        release server binary      (target/release/server)
  --site-root PATH         cargo-leptos site folder   (target/site)
  --manifest PATH          workspace Cargo.toml       (Cargo.toml)
  --output-name NAME       site output name           (auth-demo)
  --rounds N               interleaved rounds; each scenario's best is kept (3)
  --warmup SECS            warm-up per round          (1)
  --duration SECS          measured window per round  (4)
  --connections N          connections per scenario   (64)
  --login-connections N    connections for login      (8)
  --page PATH              signed-in page for TTFB, repeatable (/, /posts and /account)
  --server-cpus LIST       taskset list for server    (0 on a 2+ core machine)
  --client-cpus LIST       taskset list for this      (1 on a 2+ core machine)
  --no-pin                 run both unpinned
  --server-env KEY=VALUE   extra server setting, repeatable (for experiments)
  --database-url URL       the server's DATABASE_URL  (unset: SQLite in its data folder)
  --database-pid PID       the database cluster's main process, when it runs
                           apart: its CPU (with its children's) counts as the
                           server's, and its memory is reported
  --database-note TEXT     what the database is and how it is set up, for the report
  --wasm-opt TEXT          wasm-opt version, for the report
  --sizes-only             only measure the site's WASM, JS and CSS
  --keep                   keep the temporary data folder and server logs";

/// Set on the re-executed, pinned copy of this program.
const PINNED_ENV: &str = "AUTH_DEMO_BENCH_PINNED";

/// A password no list of common ones has.
const PASSWORD: &str = "bench-Password-6f1c9a2e";

/// Samples of one argon2id hash; the median is used.
const HASH_SAMPLES: usize = 15;

/// The server's parameters (`server/src/auth/password.rs`): OWASP's first
/// argon2id recommendation.
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// How many posts the reader has; `GET /api/posts` returns them all.
const POSTS: usize = 5;

#[derive(Clone, Debug)]
pub struct Args {
    server_bin: PathBuf,
    site_root: PathBuf,
    manifest: PathBuf,
    output_name: String,
    rounds: usize,
    warmup: Duration,
    duration: Duration,
    connections: usize,
    login_connections: usize,
    pages: Vec<String>,
    server_cpus: Option<String>,
    client_cpus: Option<String>,
    wasm_opt: Option<String>,
    server_env: Vec<(String, String)>,
    database_url: Option<String>,
    database_pid: Option<u32>,
    database_note: Option<String>,
    sizes_only: bool,
    keep: bool,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let two_cores = std::thread::available_parallelism().map_or(1, usize::from) >= 2
            && Command::new("taskset").arg("-V").output().is_ok();
        let mut args = Self {
            server_bin: PathBuf::from("target/release/server"),
            site_root: PathBuf::from("target/site"),
            manifest: PathBuf::from("Cargo.toml"),
            output_name: "auth-demo".to_owned(),
            rounds: 3,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(4),
            connections: 64,
            login_connections: 8,
            pages: Vec::new(),
            server_cpus: two_cores.then(|| "0".to_owned()),
            client_cpus: two_cores.then(|| "1".to_owned()),
            wasm_opt: None,
            server_env: Vec::new(),
            database_url: None,
            database_pid: None,
            database_note: None,
            sizes_only: false,
            keep: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--server-bin" => args.server_bin = value()?.into(),
                "--site-root" => args.site_root = value()?.into(),
                "--manifest" => args.manifest = value()?.into(),
                "--output-name" => args.output_name = value()?,
                "--warmup" => args.warmup = Duration::from_secs_f64(number(&flag, &value()?)?),
                "--duration" => args.duration = Duration::from_secs_f64(number(&flag, &value()?)?),
                "--rounds" => args.rounds = number(&flag, &value()?)? as usize,
                "--connections" => args.connections = number(&flag, &value()?)? as usize,
                "--login-connections" => {
                    args.login_connections = number(&flag, &value()?)? as usize
                }
                "--page" => args.pages.push(value()?),
                "--server-cpus" => args.server_cpus = Some(value()?),
                "--client-cpus" => args.client_cpus = Some(value()?),
                "--no-pin" => (args.server_cpus, args.client_cpus) = (None, None),
                "--wasm-opt" => args.wasm_opt = Some(value()?),
                "--server-env" => {
                    let pair = value()?;
                    let (key, val) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("--server-env takes KEY=VALUE, not {pair:?}"))?;
                    args.server_env.push((key.to_owned(), val.to_owned()));
                }
                "--database-url" => args.database_url = Some(value()?),
                "--database-pid" => args.database_pid = Some(number(&flag, &value()?)? as u32),
                "--database-note" => args.database_note = Some(value()?),
                "--sizes-only" => args.sizes_only = true,
                "--keep" => args.keep = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                _ => return Err(format!("unknown option {flag}\n\n{USAGE}")),
            }
        }
        if args.pages.is_empty() {
            args.pages = vec!["/".to_owned(), "/posts".to_owned(), "/account".to_owned()];
        }
        if args.connections == 0
            || args.login_connections == 0
            || args.rounds == 0
            || args.duration.is_zero()
        {
            return Err("connections and duration must be above zero".to_owned());
        }
        Ok(args)
    }
}

fn number(flag: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{flag} takes a number, not {value:?}"))
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // The load generator must not share a core with the server it measures:
    // run this program again under taskset, once.
    if let Some(cpus) = &args.client_cpus
        && std::env::var_os(PINNED_ENV).is_none()
        && !args.sizes_only
    {
        let me = std::env::current_exe().expect("the path of this program");
        let error = Command::new("taskset")
            .arg("-c")
            .arg(cpus)
            .arg(me)
            .args(std::env::args_os().skip(1))
            // Pinned to one core, the copy would no longer see two: hand it
            // both choices made here.
            .arg("--client-cpus")
            .arg(cpus)
            .args(match &args.server_cpus {
                Some(server) => vec!["--server-cpus", server.as_str()],
                None => vec!["--no-pin"],
            })
            .env(PINNED_ENV, "1")
            .exec();
        eprintln!("bench: could not pin itself with taskset: {error}");
        return ExitCode::FAILURE;
    }

    // One thread: the load generator's whole cost stays on its own core.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            report.print();
            if report.total_errors() == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("bench: some requests failed; the figures above are not valid");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<Report> {
    let began = Instant::now();
    let site_root = std::fs::canonicalize(&args.site_root)
        .map_err(|e| format!("{}: {e} (build the site first)", args.site_root.display()))?;
    let mut report = Report::new(&args);
    report.assets = sizes::measure(&site_root.join("pkg"), &args.output_name)?;
    report.wasm_profile = sizes::profile_settings(&args.manifest, "wasm-release");
    if args.sizes_only {
        return Ok(report);
    }

    let workdir = std::env::temp_dir().join(format!("auth-demo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let launch = Launch {
        binary: std::fs::canonicalize(&args.server_bin).map_err(|e| {
            format!(
                "{}: {e} (build the release server first)",
                args.server_bin.display()
            )
        })?,
        site_root,
        output_name: args.output_name.clone(),
        workdir: workdir.clone(),
        cpus: args.server_cpus.clone(),
        // The database comes first, so that a `--server-env` may still
        // override it in an experiment.
        env: args
            .database_url
            .iter()
            .map(|url| ("DATABASE_URL".to_owned(), url.clone()))
            .chain(args.server_env.iter().cloned())
            .collect(),
        port: server::free_port()?,
    };
    let result = measure(&args, &launch, &mut report).await;
    if args.keep {
        eprintln!("kept {}", workdir.display());
    } else {
        let _ = std::fs::remove_dir_all(&workdir);
    }
    result?;
    report.wall = began.elapsed();
    report.load_after = proc::load_average();
    Ok(report)
}

async fn measure(args: &Args, launch: &Launch, report: &mut Report) -> Result<()> {
    let addr = launch.addr();

    // An access token that is expired but validly signed: minted by the same
    // server (same data folder, so the same signing key) started with a
    // one-second lifetime and no leeway. By the time the expired scenario
    // runs, its `exp` is well past even the main server's default leeway.
    progress("minting an expired access token (server with ACCESS_TOKEN_TTL_SECS=1)");
    let minting = Server::start(
        launch,
        "mint",
        &[("ACCESS_TOKEN_TTL_SECS", "1"), ("TOKEN_LEEWAY_SECS", "0")],
    )
    .await?;
    let expired = register(addr, "expired@bench.example").await?;
    report.token_header = token_header(&expired.access);
    let mint_log = minting.log_path().to_owned();
    minting.stop();

    progress("starting the server with its default settings");
    let server = Server::start(launch, "main", &[]).await?;
    report.server_cpus = proc::cpus_allowed(Some(server.pid));
    report.client_cpus = proc::cpus_allowed(None);
    report.server_idle_rss_kib = proc::status_kib(server.pid, "VmRSS").unwrap_or(0);
    if let Some(pid) = args.database_pid {
        report.database_cpus = Some(proc::cpus_allowed(Some(pid)));
        report.database_idle_pss = proc::tree_pss_kib(pid);
    }
    let outcome = scenarios(args, &server, &expired, report).await;
    report.server_hwm_kib = proc::status_kib(server.pid, "VmHWM").unwrap_or(0);
    report.database_end_pss = args.database_pid.and_then(proc::tree_pss_kib);
    if outcome.is_err() {
        eprintln!(
            "server log ({}):\n{}",
            server.log_path().display(),
            server.log_tail()
        );
    }
    let main_log = server.log_path().to_owned();
    server.stop();
    // Both servers log warnings and errors only: every line is news (a
    // failed request's cause, a failed sweep), so the report shows them.
    report.server_log = [mint_log, main_log]
        .iter()
        .flat_map(|path| server::log_lines(path))
        .collect();
    outcome
}

async fn scenarios(
    args: &Args,
    server: &Server,
    expired: &Cookies,
    report: &mut Report,
) -> Result<()> {
    let addr = server.addr;
    progress("creating users and sessions through the public API");
    let reader = register(addr, "reader@bench.example").await?;
    let access = format!("access_token={}", reader.access);
    for i in 0..POSTS {
        let post = Call::post_json(
            "/api/posts",
            &json!({ "title": format!("Post {i}"), "body": "Benchmark post body." }),
        )
        .with_cookie(access.clone());
        expect(call_once(addr, &post).await?, 201, "POST /api/posts")?;
    }
    let mut chains = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        chains.push(Some(login(addr, "reader@bench.example").await?.refresh));
    }

    let get = |name: &str, path: &str, cookie: Option<&str>, check: Check| {
        let mut call = Call::get(path);
        call.cookie = cookie.map(str::to_owned);
        Scenario {
            name: name.to_owned(),
            connections: args.connections,
            call,
            check,
            chains: Vec::new(),
        }
    };
    let expired_cookie = format!("access_token={}", expired.access);
    let mut plan = [
        get(
            "GET /healthz (ceiling)",
            "/healthz",
            None,
            Check::Status(200),
        ),
        get(
            "GET /robots.txt (ceiling)",
            "/robots.txt",
            None,
            Check::Status(200),
        ),
        // The least a request can cost: routing, the middleware stack and a
        // JSON error body, no handler work at all.
        get(
            "GET /api/nothing, JSON 404 (ceiling)",
            "/api/nothing",
            None,
            Check::Status(404),
        ),
        get(
            "GET /auth/me",
            "/auth/me",
            Some(&access),
            Check::Status(200),
        ),
        get(
            "GET /api/posts",
            "/api/posts",
            Some(&access),
            Check::Status(200),
        ),
        get(
            "GET /auth/me, expired token",
            "/auth/me",
            Some(&expired_cookie),
            Check::StatusWithHeader(401, "www-authenticate", "token_expired"),
        ),
        Scenario {
            name: "POST /auth/refresh (rotation)".to_owned(),
            connections: args.connections,
            call: Call::post_empty("/auth/refresh"),
            check: Check::Rotation,
            chains,
        },
    ];
    // Login: argon2 bound. Its ceiling is timed in each round, right before
    // and right after the login run, so it is measured in the same
    // conditions as the figure.
    let login = Scenario {
        name: "POST /auth/login".to_owned(),
        connections: args.login_connections,
        call: Call::post_json(
            "/auth/login",
            &json!({ "email": "reader@bench.example", "password": PASSWORD }),
        ),
        check: Check::Status(200),
        chains: Vec::new(),
    };
    // A cheap request every 20 ms alongside: if hashing ran on the async
    // threads, these would wait behind it.
    let probe = Probe {
        call: Call::get("/healthz"),
        check: Check::Status(200),
        every: Duration::from_millis(20),
    };

    // Rounds interleave the scenarios, so that a burst of activity from
    // other processes does not fall on one scenario only.
    let mut best: Vec<Option<Outcome>> = vec![None; plan.len()];
    let mut best_login: Option<(Outcome, HashTime)> = None;
    for round in 1..=args.rounds {
        for (scenario, best) in plan.iter_mut().zip(&mut best) {
            if round == 1 && matches!(scenario.check, Check::StatusWithHeader(..)) {
                wait_until_expired(addr, &scenario.call).await?;
            }
            progress(&format!(
                "round {round}/{}: {} ({} connections)",
                args.rounds, scenario.name, scenario.connections
            ));
            let mut outcome = load::run(
                addr,
                server.pid,
                args.database_pid,
                scenario,
                None,
                args.warmup,
                args.duration,
            )
            .await;
            if matches!(scenario.check, Check::Rotation) {
                scenario.chains = std::mem::take(&mut outcome.chains);
            }
            *best = Some(match best.take() {
                Some(earlier) => earlier.best_of(outcome),
                None => outcome,
            });
        }

        progress(&format!(
            "round {round}/{}: {} ({} connections)",
            args.rounds, login.name, login.connections
        ));
        let before = hash_time();
        let outcome = load::run(
            addr,
            server.pid,
            args.database_pid,
            &login,
            Some(&probe),
            args.warmup,
            args.duration,
        )
        .await;
        let after = hash_time();
        let hash = HashTime {
            wall: (before.wall + after.wall) / 2,
            cpu: (before.cpu + after.cpu) / 2,
        };
        // The best round is the one closest to its own ceiling.
        let ratio = |o: &Outcome, h: &HashTime| o.summary.per_sec * h.cpu.as_secs_f64();
        best_login = Some(match best_login.take() {
            Some((earlier, earlier_hash)) => {
                let better = ratio(&outcome, &hash) > ratio(&earlier, &earlier_hash);
                let kept_hash = if better { hash } else { earlier_hash };
                (earlier.merge(outcome, better), kept_hash)
            }
            None => (outcome, hash),
        });
    }
    report.outcomes = best.into_iter().flatten().collect();
    if let Some((login, hash)) = best_login {
        report.login = Some(login);
        report.hash_time = hash;
    }

    for page in &args.pages {
        progress(&format!("time to first byte of {page} signed in"));
        report
            .pages
            .push(page_timing(addr, page, &access, "reader@bench.example").await?);
    }
    progress(&format!(
        "time to first byte of {RETURNING_PAGE}, returning with an expired token"
    ));
    report
        .pages
        .push(returning_visit_timing(addr, expired, "expired@bench.example").await?);
    Ok(())
}

/// The page a returning visitor opens in the navigation-refresh figure.
const RETURNING_PAGE: &str = "/posts";

/// The server's own cookies after register or login.
pub struct Cookies {
    access: String,
    refresh: String,
}

async fn register(addr: std::net::SocketAddr, email: &str) -> Result<Cookies> {
    let call = Call::post_json(
        "/auth/register",
        &json!({ "email": email, "password": PASSWORD }),
    );
    cookies(&expect(
        call_once(addr, &call).await?,
        201,
        "POST /auth/register",
    )?)
}

async fn login(addr: std::net::SocketAddr, email: &str) -> Result<Cookies> {
    let call = Call::post_json(
        "/auth/login",
        &json!({ "email": email, "password": PASSWORD }),
    );
    cookies(&expect(
        call_once(addr, &call).await?,
        200,
        "POST /auth/login",
    )?)
}

/// The access token's header (`alg`, `kid`) as the server wrote it, so the
/// report says which algorithm was measured rather than which was asked for.
fn token_header(token: &str) -> String {
    use base64::Engine as _;
    token
        .split('.')
        .next()
        .and_then(|header| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .map_or_else(|| "unreadable".to_owned(), |header| header.to_string())
}

fn cookies(answer: &http::Answer) -> Result<Cookies> {
    match (
        answer.set_cookie("access_token"),
        answer.set_cookie("refresh_token"),
    ) {
        (Some(access), Some(refresh)) => Ok(Cookies { access, refresh }),
        _ => Err("the answer did not set both auth cookies".into()),
    }
}

fn expect(answer: http::Answer, status: u16, what: &str) -> Result<http::Answer> {
    if answer.status.as_u16() == status {
        Ok(answer)
    } else {
        Err(format!(
            "{what}: expected {status}, got {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
        .into())
    }
}

/// Waits (at most 15 s) until the server calls the minted token expired.
async fn wait_until_expired(addr: std::net::SocketAddr, call: &Call) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = call_once(addr, call).await?;
        let signal = answer
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok());
        if answer.status == 401 && signal == Some("token_expired") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the minted token is not answered with 401 token_expired but {}",
                answer.error_code()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One argon2id hash at the server's parameters, timed on this thread: the
/// median wall time and the median CPU time. On an idle core they are equal;
/// when other processes share the core, only the CPU time stays true.
fn hash_time() -> HashTime {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, Some(32))
        .expect("OWASP's argon2 parameters are valid");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = (0..=HASH_SAMPLES)
        .map(|_| {
            let (started, started_cpu) = (Instant::now(), proc::thread_cpu_time());
            argon2
                .hash_password_into(PASSWORD.as_bytes(), b"bench-salt-16byt", &mut out)
                .expect("argon2 hashes a short password");
            (
                started.elapsed(),
                proc::thread_cpu_time().saturating_sub(started_cpu),
            )
        })
        // The first one pays for page faults in the fresh 19 MiB block.
        .skip(1)
        .unzip();
    wall.sort_unstable();
    cpu.sort_unstable();
    HashTime {
        wall: wall[wall.len() / 2],
        cpu: cpu[cpu.len() / 2],
    }
}

/// The time of one hash; see `hash_time`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashTime {
    pub wall: Duration,
    pub cpu: Duration,
}

/// Unmeasured visits before each page's timed ones, and the timed ones.
const PAGE_WARMUP: usize = 20;
const PAGE_SAMPLES: usize = 200;

/// What the timed visits of one page gathered, for its [`Page`] figures.
struct PageSamples<'a> {
    /// The signed-in user's, which the page should show.
    email: &'a str,
    first_byte: Vec<Duration>,
    whole: Vec<Duration>,
    bytes: usize,
    shows_user: bool,
}

impl<'a> PageSamples<'a> {
    fn new(email: &'a str) -> Self {
        Self {
            email,
            first_byte: Vec::with_capacity(PAGE_SAMPLES),
            whole: Vec::with_capacity(PAGE_SAMPLES),
            bytes: 0,
            shows_user: true,
        }
    }

    /// One visit, the `i`th counting the warm-up ones, which are dropped.
    fn record(&mut self, i: usize, first_byte: Duration, whole: Duration, body: &[u8]) {
        if i >= PAGE_WARMUP {
            self.first_byte.push(first_byte);
            self.whole.push(whole);
            self.bytes = body.len();
            self.shows_user &= String::from_utf8_lossy(body).contains(self.email);
        }
    }

    fn into_page(mut self, path: &str, via_refresh: bool) -> Page {
        self.first_byte.sort_unstable();
        self.whole.sort_unstable();
        Page {
            path: path.to_owned(),
            samples: PAGE_SAMPLES,
            first_byte_p50: self.first_byte[PAGE_SAMPLES / 2],
            first_byte_p99: self.first_byte[PAGE_SAMPLES * 99 / 100],
            whole_p50: self.whole[PAGE_SAMPLES / 2],
            bytes: self.bytes,
            shows_user: self.shows_user,
            via_refresh,
        }
    }
}

/// Sequential requests for a server-rendered page with a valid access
/// cookie, after a few unmeasured ones.
async fn page_timing(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: &str,
    email: &str,
) -> Result<Page> {
    let call = Call::get(path).with_cookie(cookie.to_owned());
    let mut conn = Conn::open(addr).await?;
    let mut samples = PageSamples::new(email);
    for i in 0..PAGE_WARMUP + PAGE_SAMPLES {
        let started = Instant::now();
        let answer = expect(conn.send(&call, None).await?, 200, path)?;
        let total = started.elapsed();
        samples.record(i, answer.first_byte, total, &answer.body);
    }
    Ok(samples.into_page(path, false))
}

/// A returning visitor's navigation to [`RETURNING_PAGE`] with an expired
/// access token, as a browser makes it: the page answers `303` to
/// `/auth/refresh?next=…`, which rotates the refresh token, sets both
/// cookies and answers `303` back, and the page then renders signed in.
/// Timed from the first request to the first byte of the final page. Each
/// visit presents the same expired access token and the refresh token the
/// previous one was given.
async fn returning_visit_timing(
    addr: std::net::SocketAddr,
    expired: &Cookies,
    email: &str,
) -> Result<Page> {
    let mut refresh = expired.refresh.clone();
    let mut conn = Conn::open(addr).await?;
    let mut samples = PageSamples::new(email);
    let location = |answer: &http::Answer| {
        answer
            .headers
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or("a 303 without Location")
    };
    for i in 0..PAGE_WARMUP + PAGE_SAMPLES {
        let started = Instant::now();
        let page =
            Call::navigate(RETURNING_PAGE).with_cookie(format!("access_token={}", expired.access));
        let to_refresh = expect(conn.send(&page, None).await?, 303, RETURNING_PAGE)?;
        let refresh_call =
            Call::navigate(&location(&to_refresh)?).with_cookie(format!("refresh_token={refresh}"));
        let back = expect(
            conn.send(&refresh_call, None).await?,
            303,
            "GET /auth/refresh",
        )?;
        let renewed = cookies(&back)?;
        refresh = renewed.refresh;
        let final_call = Call::navigate(&location(&back)?)
            .with_cookie(format!("access_token={}", renewed.access));
        let before_final = started.elapsed();
        let answer = expect(conn.send(&final_call, None).await?, 200, RETURNING_PAGE)?;
        let total = started.elapsed();
        let first_byte = before_final + answer.first_byte;
        samples.record(i, first_byte, total, &answer.body);
    }
    Ok(samples.into_page(RETURNING_PAGE, true))
}

fn progress(what: &str) {
    eprintln!("bench: {what}");
}
