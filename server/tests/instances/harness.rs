//! Several real server processes on one PostgreSQL database, and a browser
//! that talks to any of them with one cookie jar, as a browser behind a
//! load balancer does.
//!
//! ```ignore
//! let servers = spawn_instances(2).await;            // A and B, ready
//! let servers = instances(2)                          // or with settings:
//!     .env("LOGIN_MAX_FAILURES", "3")
//!     .spawn()
//!     .await;
//! let browser = Browser::new();
//! let (email, cookies) = browser.register(servers.a()).await;
//! let response = browser.post(servers.b(), "/auth/refresh").await;
//! ```
//!
//! Each test gets a fresh database on the server `TEST_POSTGRES_URL`
//! names (an administrator's URL; `scripts/test` starts a throwaway
//! cluster and sets it), dropped when the [`Instances`] are. Each
//! instance is the `server` binary that cargo built for these tests
//! (`SERVER_BIN` overrides it: the shared target directory's binary may be
//! rebuilt by another checkout meanwhile), started with a cleared
//! environment plus what is set here, on a free port of 127.0.0.1, with a
//! data folder of its own as its working directory (so no `.env` file is
//! read). It is ready when `/healthz` answers, and killed when dropped.
//!
//! An instance's output goes to `server.log` in its data folder, shown when
//! it fails to start; with `TEST_LOG` set it goes to the terminal instead.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgConnection;
use tempfile::TempDir;

use crate::common::{self, Cookies, PASSWORD, PgTestDatabase, assert_error};

/// How long a revocation on one instance may take to reach `/api` on
/// another (contract v2, `GET /api/posts`): the limit of every poll here.
pub const CONTRACT_DEADLINE: Duration = Duration::from_secs(2);

/// What to say when the tests cannot run.
const HOW_TO_RUN: &str = "The multi-instance tests need PostgreSQL: run them with \
    `scripts/test` (which starts a throwaway cluster), or set TEST_POSTGRES_URL to an \
    administrator's URL of a server you can create databases on (e.g. \
    `postgres://postgres@localhost/postgres?host=/run/postgresql`) and run \
    `cargo test -p server --features app/ssr --test instances`.";

/// How long an instance may take to answer `/healthz` after it was started
/// (migrations included, on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `n` instances with the default settings, all ready.
pub async fn spawn_instances(n: usize) -> Instances {
    instances(n).spawn().await
}

/// `n` instances, with settings to change before [`InstancesBuilder::spawn`].
pub fn instances(n: usize) -> InstancesBuilder {
    // No JWT_SECRET: the instances share the key ring through the database,
    // as a deployment does.
    InstancesBuilder {
        count: n,
        env: BTreeMap::from([
            ("COOKIE_SECURE".to_owned(), "false".to_owned()),
            ("LEPTOS_OUTPUT_NAME".to_owned(), "auth-demo".to_owned()),
            (
                "RUST_LOG".to_owned(),
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            ),
        ]),
    }
}

/// The settings every instance of a test starts with: environment
/// variables, as an operator would set them.
pub struct InstancesBuilder {
    count: usize,
    env: BTreeMap<String, String>,
}

impl InstancesBuilder {
    /// Sets a variable for every instance, e.g. `.env("LOGIN_MAX_FAILURES", "3")`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Leaves a variable unset, e.g. `.unset("RUST_LOG")`.
    #[allow(dead_code, reason = "no test needs it at the moment")]
    pub fn unset(mut self, name: &str) -> Self {
        self.env.remove(name);
        self
    }

    /// Creates the database and starts the instances together (so their
    /// migrations race, as in a deployment), then waits until each answers.
    pub async fn spawn(self) -> Instances {
        let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!("TEST_POSTGRES_URL is not set. {HOW_TO_RUN}");
        });
        let database = PgTestDatabase::create(&admin_url, "instances_test", HOW_TO_RUN).await;
        let mut env = self.env;
        env.insert("DATABASE_URL".to_owned(), database.url());
        let names = ["A", "B", "C", "D", "E", "F"];
        assert!(
            self.count <= names.len(),
            "at most {} instances",
            names.len()
        );
        let mut starting = Vec::new();
        for name in &names[..self.count] {
            starting.push(Instance::start(name, &env));
        }
        let mut ready = Vec::new();
        for instance in starting {
            ready.push(instance.ready(&env).await);
        }
        Instances {
            instances: ready,
            env,
            database,
        }
    }
}

/// Running instances and their database. Dropping this kills the instances,
/// then drops the database.
pub struct Instances {
    // Declared before the database: fields drop in order.
    instances: Vec<Instance>,
    env: BTreeMap<String, String>,
    database: PgTestDatabase,
}

impl Instances {
    /// The first instance.
    pub fn a(&self) -> &Instance {
        &self.instances[0]
    }

    /// The second instance.
    pub fn b(&self) -> &Instance {
        &self.instances[1]
    }

    pub fn all(&self) -> &[Instance] {
        &self.instances
    }

    /// The name of the database the instances share (to tell its sessions
    /// in `pg_stat_activity` from other tests').
    pub fn database_name(&self) -> &str {
        self.database.name()
    }

    /// An administrator's connection to the PostgreSQL server, for what a
    /// test does from outside the instances.
    pub async fn admin(&self) -> PgConnection {
        self.database.admin().await
    }

    /// The `server` binary with the instances' environment (database, key,
    /// every setting given to the builder) and a fresh data folder: for
    /// running one of its commands against the same database, as an
    /// operator would beside running instances (`server keys rotate`).
    pub fn server_command(&self) -> (Command, TempDir) {
        let data_dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(server_binary());
        command
            .env_clear()
            .envs(&self.env)
            .env("DATA_DIR", data_dir.path())
            .current_dir(data_dir.path());
        (command, data_dir)
    }
}

/// One server process.
pub struct Instance {
    /// `A`, `B`, ... in start order.
    pub name: &'static str,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    child: Child,
    data_dir: TempDir,
}

impl Instance {
    /// Starts the process on a port that was free a moment ago.
    fn start(name: &'static str, env: &BTreeMap<String, String>) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(server_binary());
        command
            .env_clear()
            .envs(env)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", data_dir.path())
            .current_dir(data_dir.path())
            .stdin(Stdio::null());
        if std::env::var_os("TEST_LOG").is_none() {
            let log = File::create(data_dir.path().join("server.log")).unwrap();
            command
                .stdout(log.try_clone().unwrap())
                .stderr(Stdio::from(log));
        }
        let child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "cannot start the server binary {} ({error})",
                server_binary().display()
            )
        });
        Self {
            name,
            address: format!("http://127.0.0.1:{port}"),
            child,
            data_dir,
        }
    }

    /// Waits until `/healthz` answers. An instance that exits first because
    /// its port was taken meanwhile is started again on another one.
    async fn ready(mut self, env: &BTreeMap<String, String>) -> Self {
        let probe = Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let started = Instant::now();
        for _attempt in 0..3 {
            while started.elapsed() < START_TIMEOUT {
                if let Some(status) = self.child.try_wait().unwrap() {
                    let log = self.log();
                    if log.contains("Address already in use") {
                        break;
                    }
                    panic!("instance {} exited at start ({status}):\n{log}", self.name);
                }
                let health = probe.get(self.url("/healthz")).send().await;
                if health.is_ok_and(|response| response.status() == StatusCode::OK) {
                    return self;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if self.child.try_wait().unwrap().is_none() {
                panic!(
                    "instance {} did not answer /healthz within {START_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            self = Self::start(self.name, env);
        }
        panic!("instance {} found no free port in three tries", self.name);
    }

    /// What the process wrote so far (nothing with `TEST_LOG`: it went to
    /// the terminal).
    fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A `GET` presenting exactly this access token, from no browser.
    pub async fn get_with_access(&self, path: &str, access_token: &str) -> Response {
        common::get_with_access(&self.url(path), access_token).await
    }

    /// `POST /auth/refresh` presenting exactly this refresh token, from no
    /// browser.
    pub async fn refresh_with(&self, refresh_token: &str) -> Response {
        common::refresh_with(&self.address, refresh_token).await
    }
}

/// Killed, not stopped gracefully: a test's instances have nothing to
/// finish, and a crash is what a deployment must survive anyway.
impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server binary the instances run.
fn server_binary() -> PathBuf {
    std::env::var_os("SERVER_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_server")),
        PathBuf::from,
    )
}

/// One browser: one cookie jar, whichever instance a request goes to.
pub struct Browser {
    client: Client,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: common::client(),
        }
    }

    pub async fn get(&self, at: &Instance, path: &str) -> Response {
        self.client.get(at.url(path)).send().await.unwrap()
    }

    /// A `POST` without a body (refresh, logout).
    pub async fn post(&self, at: &Instance, path: &str) -> Response {
        self.client.post(at.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, at: &Instance, path: &str) -> Response {
        self.client.delete(at.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, at: &Instance, path: &str, body: &Value) -> Response {
        self.client
            .post(at.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a fresh account (password [`PASSWORD`]), leaving the
    /// browser signed in; returns its email and the response's cookies.
    pub async fn register(&self, at: &Instance) -> (String, Cookies) {
        let email = format!("{}@example.com", uuid::Uuid::new_v4());
        let body = json!({ "email": email, "password": PASSWORD });
        let response = self.post_json(at, "/auth/register", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register on {}",
            at.name
        );
        (email, Cookies::from(&response))
    }

    pub async fn login(&self, at: &Instance, email: &str, password: &str) -> Response {
        let body = json!({ "email": email, "password": password });
        self.post_json(at, "/auth/login", &body).await
    }
}

/// `/api` on `at` refuses `access` as a revoked session's token, at once
/// or within the contract's deadline.
pub async fn assert_api_refuses_within_deadline(at: &Instance, access: &str) {
    let refused = within(CONTRACT_DEADLINE, async || {
        let response = at.get_with_access("/api/posts", access).await;
        (response.status() != StatusCode::OK).then_some(response)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "/api/posts on {} still accepts the revoked session's token after {CONTRACT_DEADLINE:?}",
            at.name
        )
    });
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// Asks `probe` again and again, until it gives an answer or `deadline`
/// has passed since the first ask; the last answer or `None`. For what
/// another instance learns "within" a time: no fixed sleep, and nothing
/// asserted about how soon.
pub async fn within<T>(deadline: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(answer) = probe().await {
            return Some(answer);
        }
        if started.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
