//! Starts the real server on a free port with a fresh SQLite file in a
//! temporary folder, and talks to it over HTTP like any client would.
//! `TEST_LOG=1 cargo test ...` shows the servers' logs (filtered by
//! `RUST_LOG`, default `info`); without it they are dropped.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use server::config::Settings;
use server::startup::Application;
use sqlx::SqlitePool;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery staple";

/// A running server and a cookie-keeping client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Keeps cookies between requests, follows no redirects.
    pub client: Client,
    /// The data folder (database and signing key); deleted when the last
    /// holder drops it.
    pub data_dir: Arc<TempDir>,
    /// The server's own database, for assertions only.
    pub pool: SqlitePool,
    settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Logs go to the test's captured output when `TEST_LOG` is set, and
/// nowhere otherwise; installed once for the whole test binary.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .init();
    }
});

/// A server with the default settings (and insecure cookies, as over http).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server with some settings changed, e.g.
/// `spawn_app_with(|s| s.login_max_failures = 3)`. The data folder, the
/// address (a free port) and insecure cookies are set before `configure`
/// runs; it may change any of them.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let dir = data_dir.path().display().to_string();
    let mut settings = Settings::from_lookup(|name| match name {
        "DATA_DIR" => Some(dir.clone()),
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        "COOKIE_SECURE" => Some("false".into()),
        _ => None,
    })
    .unwrap();
    configure(&mut settings);
    start(data_dir, settings).await
}

async fn start(data_dir: Arc<TempDir>, settings: Settings) -> TestApp {
    let leptos_options = leptos::config::LeptosOptions::builder()
        .output_name("auth-demo")
        .site_root("target/site")
        .build();

    let application = Application::build(settings.clone(), leptos_options)
        .await
        .unwrap();
    let address = format!("http://{}", application.local_addr().unwrap());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    TestApp {
        address,
        client: client(),
        pool: SqlitePool::connect(settings.database_url.expose())
            .await
            .unwrap(),
        data_dir,
        settings,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

/// A new cookie-keeping client: another browser or device.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops this server gracefully and starts a new one on the same data
    /// folder and settings, as a restart would. The client (and its cookies)
    /// carries over.
    pub async fn restart(mut self) -> TestApp {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.pool.close().await;
        let mut restarted = start(Arc::clone(&self.data_dir), self.settings.clone()).await;
        restarted.client = self.client.clone();
        restarted
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/register",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Registers a fresh account, leaving the client signed in; returns the
    /// response's cookies.
    pub async fn signed_in_user(&self) -> Cookies {
        let email = format!("{}@example.com", uuid::Uuid::new_v4());
        let response = self.register(&email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        Cookies::from(&response)
    }

    /// Logs in from another device: a fresh client with its own cookies and
    /// user agent, returned signed in.
    pub async fn device(&self, email: &str, password: &str, user_agent: &str) -> Client {
        let device = client();
        let response = device
            .post(self.url("/auth/login"))
            .header(reqwest::header::USER_AGENT, user_agent)
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        device
    }

    /// Counts rows of a table, straight from the database file.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// `POST /auth/refresh` presenting exactly this refresh token, from a
    /// client without a cookie store.
    pub async fn refresh_with(&self, refresh_token: &str) -> Response {
        Client::new()
            .post(self.url("/auth/refresh"))
            .header(COOKIE, format!("refresh_token={refresh_token}"))
            .send()
            .await
            .unwrap()
    }

    /// A request presenting exactly this access token.
    pub async fn get_with_access(&self, path: &str, access_token: &str) -> Response {
        Client::new()
            .get(self.url(path))
            .header(COOKIE, format!("access_token={access_token}"))
            .send()
            .await
            .unwrap()
    }
}

/// One parsed `Set-Cookie` header.
#[derive(Clone, Debug)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Attributes as sent, e.g. `HttpOnly`, `Path=/auth`, `Max-Age=900`.
    pub attributes: Vec<String>,
}

impl SetCookie {
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| {
            let (key, value) = a.split_once('=')?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
    }

    /// Cleared as the contract says: empty value and `Max-Age=0`.
    pub fn is_cleared(&self) -> bool {
        self.value.is_empty() && self.attribute("Max-Age") == Some("0")
    }
}

/// The `Set-Cookie` headers of one response.
#[derive(Clone, Debug)]
pub struct Cookies(pub Vec<SetCookie>);

impl From<&Response> for Cookies {
    fn from(response: &Response) -> Self {
        Self(
            response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .map(|header| {
                    let header = header.to_str().unwrap();
                    let mut parts = header.split(';').map(str::trim);
                    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
                    SetCookie {
                        name: name.to_owned(),
                        value: value.to_owned(),
                        attributes: parts.map(str::to_owned).collect(),
                    }
                })
                .collect(),
        )
    }
}

impl Cookies {
    pub fn get(&self, name: &str) -> Option<&SetCookie> {
        self.0.iter().find(|c| c.name == name)
    }

    pub fn access(&self) -> &SetCookie {
        self.get("access_token").expect("an access_token cookie")
    }

    pub fn refresh(&self) -> &SetCookie {
        self.get("refresh_token").expect("a refresh_token cookie")
    }
}

/// Asserts the contract's error shape and code, and returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only error and message: {body}"
    );
    body
}
