//! Starts the real server on a free port with a fresh database, and talks
//! to it over HTTP like any client would. `TEST_LOG=1 cargo test ...` shows
//! the servers' logs (filtered by `RUST_LOG`, default `info`); without it
//! they are dropped.
//!
//! The database is a fresh SQLite file in a temporary folder, unless
//! `TEST_POSTGRES_URL` is set: then each test gets a database of its own,
//! created through that URL (an administrator's, on a throwaway server:
//! `scripts/test` starts one) and dropped when the test ends.

use std::sync::{Arc, LazyLock};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use server::auth::tokens::TokenService;
use server::config::{DatabaseUrl, Settings};
use server::startup::Application;
use sqlx::{PgPool, SqlitePool};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::common::{self, PgTestDatabase};
pub use crate::common::{Cookies, PASSWORD, SetCookie, assert_error, client, output_within};

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
    pub db: TestDb,
    /// Drops a PostgreSQL database when the last server using it is gone.
    database: Arc<TestDatabase>,
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

/// `/api` accepts this access token.
pub async fn assert_api_accepts(app: &TestApp, access: &str) {
    let response = app.get_with_access("/api/posts", access).await;
    assert_eq!(response.status(), StatusCode::OK, "GET /api/posts");
}

/// The JSON body of the answer to `request`.
pub async fn json_body(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// A server with the default settings (and insecure cookies, as over http).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server with some settings changed, e.g.
/// `spawn_app_with(|s| s.login_max_failures = 3)`. The data folder, the
/// address (a free port) and insecure cookies are set before `configure`
/// runs; it may change any of them.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (data_dir, database, settings) = test_settings(configure).await;
    start(data_dir, database, settings).await
}

/// Two servers started at the same moment on one fresh database (and one
/// data folder), as two instances of a deployment would be.
pub async fn spawn_two_apps_at_once() -> (TestApp, TestApp) {
    let (data_dir, database, settings) = test_settings(|_| {}).await;
    tokio::join!(
        start(
            Arc::clone(&data_dir),
            Arc::clone(&database),
            settings.clone()
        ),
        start(data_dir, database, settings),
    )
}

/// The settings of a test server: a fresh data folder, a fresh database,
/// a free port, insecure cookies (as over http), then `configure`.
async fn test_settings(
    configure: impl FnOnce(&mut Settings),
) -> (Arc<TempDir>, Arc<TestDatabase>, Settings) {
    LazyLock::force(&TRACING);
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let database = Arc::new(TestDatabase::create().await);
    let dir = data_dir.path().display().to_string();
    let mut settings = Settings::from_lookup(|name| match name {
        "DATA_DIR" => Some(dir.clone()),
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        "COOKIE_SECURE" => Some("false".into()),
        _ => None,
    })
    .unwrap();
    if let Some(url) = database.url() {
        settings.database_url = url;
    }
    configure(&mut settings);
    (data_dir, database, settings)
}

async fn start(data_dir: Arc<TempDir>, database: Arc<TestDatabase>, settings: Settings) -> TestApp {
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
        db: TestDb::connect(&settings.database_url).await,
        database,
        data_dir,
        settings,
        shutdown: Some(shutdown),
        server: Some(server),
    }
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
        self.db.close().await;
        let mut restarted = start(
            Arc::clone(&self.data_dir),
            Arc::clone(&self.database),
            self.settings.clone(),
        )
        .await;
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

    /// Logs the app's own client out (with whatever cookies it holds).
    pub async fn logout(&self) -> Response {
        let request = self.client.post(self.url("/auth/logout"));
        request.send().await.unwrap()
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

    /// Counts rows of a table, straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("select count(*) from {table}")).await
    }

    /// Whether the servers run on the default SQLite file.
    pub fn on_sqlite(&self) -> bool {
        matches!(self.db, TestDb::Sqlite(_))
    }

    /// The one value a query (in SQL both backends understand) returns,
    /// straight from the database.
    pub async fn scalar<T>(&self, query: &str) -> T
    where
        T: Send + Unpin,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        match &self.db {
            TestDb::Sqlite(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
            TestDb::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        }
        .unwrap()
    }

    /// Every row of every table, as text, in a stable order: equal
    /// snapshots, unchanged database.
    pub async fn snapshot(&self) -> Vec<Option<String>> {
        let mut rows = Vec::new();
        for table in ["users", "sessions", "refresh_tokens", "posts"] {
            rows.push(match &self.db {
                TestDb::Sqlite(pool) => {
                    let columns: Vec<String> =
                        sqlx::query_scalar(&format!("select name from pragma_table_info('{table}')"))
                            .fetch_all(pool)
                            .await
                            .unwrap();
                    let row = columns
                        .iter()
                        .map(|c| format!("quote({c})"))
                        .collect::<Vec<_>>()
                        .join(" || ',' || ");
                    let query = format!(
                        "select group_concat({row}, '|') from (select * from {table} order by rowid)"
                    );
                    sqlx::query_scalar(&query).fetch_one(pool).await.unwrap()
                }
                TestDb::Postgres(pool) => {
                    let query =
                        format!("select string_agg(t::text, '|' order by t::text) from {table} t");
                    sqlx::query_scalar(&query).fetch_one(pool).await.unwrap()
                }
            });
        }
        rows
    }

    /// `POST /auth/refresh` presenting exactly this refresh token, from a
    /// client without a cookie store.
    pub async fn refresh_with(&self, refresh_token: &str) -> Response {
        common::refresh_with(&self.address, refresh_token).await
    }

    /// The same user's and session's access token, signed with this
    /// server's own key but expired long ago: what a browser presents after
    /// a pause, without the test waiting for a token to expire.
    pub async fn expired_copy_of(&self, access_token: &str) -> String {
        let tokens = self.token_service().await;
        let claims = tokens.verify_access_token(access_token).await.unwrap();
        let long_ago = chrono::Utc::now() - chrono::Duration::days(1);
        tokens
            .issue_access_token(claims.sub, claims.sid, long_ago)
            .unwrap()
    }

    /// This server's signing keys, read from where the server keeps them.
    pub async fn token_service(&self) -> TokenService {
        TokenService::open(&self.settings, None).await.unwrap()
    }

    /// The settings this server was started with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A request presenting exactly this access token.
    pub async fn get_with_access(&self, path: &str, access_token: &str) -> Response {
        common::get_with_access(&self.url(path), access_token).await
    }
}

/// A connection pool to the server's database, whichever it is.
pub enum TestDb {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl TestDb {
    async fn connect(url: &DatabaseUrl) -> Self {
        match url {
            DatabaseUrl::Sqlite(url) => Self::Sqlite(SqlitePool::connect(url).await.unwrap()),
            DatabaseUrl::Postgres(url) => Self::Postgres(PgPool::connect(url).await.unwrap()),
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// The database a test's servers use. SQLite's is the default file in the
/// test's data folder; PostgreSQL's is created here and dropped on drop.
enum TestDatabase {
    SqliteDefault,
    Postgres(PgTestDatabase),
}

impl TestDatabase {
    /// How to get PostgreSQL when the suite is asked to run on it.
    const HOW_TO_GET_POSTGRES: &str = "Install PostgreSQL with `scripts/setup --test` and run \
        `scripts/test`, which starts a throwaway cluster and sets TEST_POSTGRES_URL; or unset \
        TEST_POSTGRES_URL to run the suite on SQLite.";

    async fn create() -> Self {
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) => Self::Postgres(
                PgTestDatabase::create(&admin_url, "api_test", Self::HOW_TO_GET_POSTGRES).await,
            ),
            Err(_) => Self::SqliteDefault,
        }
    }

    /// The URL the servers are given; `None`: the settings' default.
    fn url(&self) -> Option<DatabaseUrl> {
        match self {
            Self::SqliteDefault => None,
            Self::Postgres(database) => Some(DatabaseUrl::Postgres(database.url())),
        }
    }
}
