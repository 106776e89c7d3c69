//! What the black-box suites share: the API suite (`tests/api/`, one
//! server in the test process) and the multi-instance suite
//! (`tests/instances/`, several server processes). Each includes this
//! module with `#[path = "../common/mod.rs"] mod common;`.
//!
//! A client with a cookie jar, a fresh PostgreSQL database per test, the
//! `Set-Cookie` parser and the error-shape assertion.

// Each test binary uses its own part of this module; what one of them
// leaves unused is not dead.
#![allow(dead_code)]

use std::time::Duration;

#[path = "pg_test_database.rs"]
mod pg_test_database;
pub use pg_test_database::PgTestDatabase;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";

/// A new cookie-keeping client that follows no redirects: another browser
/// or device. Cookies are matched by host, not port (RFC 6265), so one
/// client talking to several instances on 127.0.0.1 sends each of them
/// the cookies any of them set, as a browser behind a load balancer does.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A `GET` of `url` presenting exactly this access token, from a client
/// without a cookie store.
pub async fn get_with_access(url: &str, access_token: &str) -> Response {
    with_one_cookie(Method::GET, url, &format!("access_token={access_token}")).await
}

/// `POST /auth/refresh` of the server at `address` presenting exactly this
/// refresh token, from a client without a cookie store.
pub async fn refresh_with(address: &str, refresh_token: &str) -> Response {
    let url = format!("{address}/auth/refresh");
    with_one_cookie(
        Method::POST,
        &url,
        &format!("refresh_token={refresh_token}"),
    )
    .await
}

async fn with_one_cookie(method: Method, url: &str, cookie: &str) -> Response {
    Client::new()
        .request(method, url)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
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

/// Runs a command of the server binary (`server keys rotate`) to its end,
/// killing it after `limit`: a binary that does not know the command would
/// serve instead, and a test must fail then, not wait for ever.
pub fn output_within(command: &mut std::process::Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let deadline = std::time::Instant::now() + limit;
    while child
        .try_wait()
        .expect("the child can be waited on")
        .is_none()
    {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within {limit:?}; is the binary up to date?");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("its output can be read")
}

/// The `kid` and algorithm in a token's header (read, not verified).
pub fn header_of(token: &str) -> (String, jsonwebtoken::Algorithm) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    (header.kid.unwrap(), header.alg)
}

/// The `kid` that `server keys rotate` says it added ("Added signing key
/// <kid> ..."); fails the test unless the command succeeded and said so.
pub fn added_kid(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .strip_prefix("Added signing key ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("Added signing key <kid> ...: {stdout}"))
        .to_owned()
}
