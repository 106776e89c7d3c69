//! Starts and stops the release server binary, on loopback only, with a
//! clean environment and its data in a throwaway folder.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{Call, Result, call_once};

/// How the server is started; the same for every phase of a run.
#[derive(Clone, Debug)]
pub struct Launch {
    pub binary: PathBuf,
    /// The cargo-leptos site folder (holding `pkg/`), absolute.
    pub site_root: PathBuf,
    pub output_name: String,
    /// The working folder; the server keeps `data/` (database, signing key) here.
    pub workdir: PathBuf,
    /// `taskset -c` list for the server, when pinning.
    pub cpus: Option<String>,
    /// Settings added for every phase (`--server-env`), before the phase's own.
    pub env: Vec<(String, String)>,
    pub port: u16,
}

impl Launch {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

/// A running server; stopped (killed if need be) when dropped.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts the server with the benchmark's settings plus `extra` (which
    /// win), and waits until `/healthz` answers.
    pub async fn start(launch: &Launch, phase: &str, extra: &[(&str, &str)]) -> Result<Self> {
        let log = launch.workdir.join(format!("server-{phase}.log"));
        let mut command = match &launch.cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(cpus).arg(&launch.binary);
                taskset
            }
            None => Command::new(&launch.binary),
        };
        let addr = launch.addr();
        // Nothing from the caller's environment (a DATABASE_URL, a
        // JWT_SECRET, a RUST_LOG=debug) may change what is measured.
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LEPTOS_OUTPUT_NAME", &launch.output_name)
            .env("LEPTOS_SITE_ROOT", &launch.site_root)
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("LEPTOS_ENV", "PROD")
            .env("DATA_DIR", launch.workdir.join("data"))
            .env("COOKIE_SECURE", "false")
            .env("RUST_LOG", "warn")
            // Plain text, so the report can quote the log.
            .env("NO_COLOR", "1")
            // Only failed logins are throttled and the benchmark has none,
            // but a throttle must never be what a figure measures.
            .env("LOGIN_MAX_FAILURES", "1000000000")
            // The benchmark logs one user in hundreds of times; past the
            // cap, each login would revoke a session a scenario still uses.
            .env("MAX_SESSIONS_PER_USER", "1000000")
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .current_dir(&launch.workdir)
            .stdin(Stdio::null())
            .stdout(File::create(&log)?)
            .stderr(File::create(&log)?.try_clone()?);
        // `taskset` execs the server, so the child's pid is the server's.
        let child = command.spawn()?;
        let mut server = Self {
            pid: child.id(),
            child,
            addr,
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!(
                    "the server exited ({status}) before answering:\n{}",
                    self.log_tail()
                )
                .into());
            }
            if let Ok(answer) = call_once(self.addr, &Call::get("/healthz")).await
                && answer.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("/healthz did not answer within 60 s:\n{}", self.log_tail()).into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines the server wrote (it logs warnings and errors only).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// SIGTERM, so the server shuts down as it would in production; SIGKILL
    /// if it has not exited within 10 s.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Every line of a server log, without terminal colour codes (in case the
/// server writes them anyway).
pub fn log_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(strip_colours)
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// Removes ANSI colour sequences (`ESC [ ... m`).
fn strip_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip up to and including the sequence's final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
