//! Generated requests against every `/auth` and `/api` endpoint: methods,
//! content types, origins, cookies (valid, forged, huge, non-ASCII), user
//! agents, and bodies from well-shaped JSON with hostile strings to garbage
//! bytes, deep nesting and sizes around the limit. Whatever comes in, the
//! server answers below 500, with the contract's JSON error body on
//! failure, leaks nothing, and a refused request leaves the database as it
//! was.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::helpers::{Cookies, PASSWORD, TestApp, spawn_app_with};

/// Enough to meet every branch a few times; the whole file runs in seconds.
const CASES: u32 = 320;

/// One generated request; the cookie and origin are chosen later, from the
/// running server's address and a real session.
#[derive(Clone, Debug)]
struct Generated {
    method: Method,
    path: String,
    content_type: Option<String>,
    origin: OriginChoice,
    cookie: CookieChoice,
    user_agent: Option<Vec<u8>>,
    body: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
enum OriginChoice {
    None,
    Same,
    Other,
    Null,
    Garbage,
}

#[derive(Clone, Debug)]
enum CookieChoice {
    None,
    ValidAccess,
    ValidRefresh,
    Both,
    Raw(Vec<u8>),
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(PASSWORD.to_owned()),
        Just("ada@example.com".to_owned()),
        Just(" ADA@Example.COM ".to_owned()),
        Just("zoë@exämple.com".to_owned()),
        "[a-zA-Z0-9.+]{1,12}@[a-z]{1,8}\\.(com|org)",
        "[ -~]{8,20}",
        Just("\u{0}\u{1}\u{7f}".to_owned()),
        Just("'; drop table users; --".to_owned()),
        Just("\u{202e}\u{200b}\u{feff}🔐👩‍👩‍👧".to_owned()),
        any::<String>(),
        "\\PC{0,300}",
        // Around every length limit, and past the body limit.
        (0usize..=4).prop_map(|i| "é".repeat([7, 8, 128, 129, 254][i])),
        (1usize..=20_000).prop_map(|n| "a".repeat(n)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        hostile_string().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with the fields our endpoints read, each of them present or
/// not, a string or not, plus the odd stranger.
fn shaped_body() -> impl Strategy<Value = Vec<u8>> {
    let fields = [
        "email",
        "password",
        "current_password",
        "new_password",
        "title",
        "body",
    ];
    let field = prop_oneof![
        12 => hostile_string().prop_map(Value::String).prop_map(Some),
        1 => json_value().prop_map(Some),
        1 => Just(None),
    ];
    (
        prop::collection::vec(field, fields.len()),
        prop::option::of(("\\PC{0,8}", json_value())),
    )
        .prop_map(move |(values, extra)| {
            let mut object = Map::new();
            for (name, value) in fields.iter().zip(values) {
                if let Some(value) = value {
                    object.insert((*name).to_owned(), value);
                }
            }
            if let Some((name, value)) = extra {
                object.insert(name, value);
            }
            serde_json::to_vec(&Value::Object(object)).unwrap()
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        14 => shaped_body(),
        1 => Just(Vec::new()),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => (1usize..600).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        1 => (1usize..600).prop_map(|depth| "{\"a\":".repeat(depth).into_bytes()),
        1 => Just(br#"{"email":"a@b.co","password":"\ud800"}"#.to_vec()),
        1 => Just(br#"{"email":"x@example.com","email":"y@example.com","password":"p"}"#.to_vec()),
        // Just under, at and over 16 KiB.
        1 => (16_380usize..16_390).prop_map(|n| {
            let mut body = br#"{"title":""#.to_vec();
            body.resize(n - 2, b'x');
            body.extend_from_slice(br#""}"#);
            body
        }),
    ]
}

/// A path and the method it is meant for.
fn route() -> impl Strategy<Value = (String, Method)> {
    let fixed = prop_oneof![
        Just(("/auth/register", Method::POST)),
        Just(("/auth/login", Method::POST)),
        Just(("/auth/me", Method::GET)),
        Just(("/auth/refresh", Method::POST)),
        Just(("/auth/logout", Method::POST)),
        Just(("/auth/logout", Method::DELETE)),
        Just(("/auth/logout-all", Method::POST)),
        Just(("/auth/sessions", Method::GET)),
        Just(("/auth/password", Method::POST)),
        Just(("/api/posts", Method::GET)),
        Just(("/api/posts", Method::POST)),
        Just(("/auth/nope", Method::POST)),
        Just(("/api/posts/extra", Method::GET)),
    ]
    .prop_map(|(path, method)| (path.to_owned(), method));
    let session = prop_oneof![
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        "\\PC{0,40}".prop_map(|s| percent_encode(&s)),
        Just("%ZZ%".to_owned()),
        Just("..%2F..".to_owned()),
    ]
    .prop_map(|id| (format!("/auth/sessions/{id}"), Method::DELETE));
    prop_oneof![6 => fixed, 1 => session]
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,64}".prop_map(String::into_bytes),
        // obs-text: bytes a header may carry that are not ASCII.
        prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff], 0..64),
        (1usize..12_000).prop_map(|n| vec![b'a'; n]),
    ]
}

fn generated() -> impl Strategy<Value = Generated> {
    // Mostly the route's own method, so that most requests reach a handler.
    let method = prop_oneof![
        14 => Just(None),
        1 => Just(Some(Method::POST)),
        1 => Just(Some(Method::GET)),
        1 => Just(Some(Method::DELETE)),
        1 => Just(Some(Method::PUT)),
        1 => Just(Some(Method::PATCH)),
    ];
    let content_type = prop_oneof![
        10 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => Just(Some("application/json; charset=utf-8".to_owned())),
        1 => Just(Some("text/plain".to_owned())),
        1 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        1 => Just(Some("multipart/form-data; boundary=x".to_owned())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ];
    let origin = prop_oneof![
        6 => Just(OriginChoice::None),
        6 => Just(OriginChoice::Same),
        1 => Just(OriginChoice::Other),
        1 => Just(OriginChoice::Null),
        1 => Just(OriginChoice::Garbage),
    ];
    let cookie = prop_oneof![
        2 => Just(CookieChoice::None),
        4 => Just(CookieChoice::ValidAccess),
        1 => Just(CookieChoice::ValidRefresh),
        3 => Just(CookieChoice::Both),
        1 => header_bytes().prop_map(|b| {
            let mut cookie = b"access_token=".to_vec();
            cookie.extend(b);
            CookieChoice::Raw(cookie)
        }),
        1 => header_bytes().prop_map(|b| {
            let mut cookie = b"refresh_token=".to_vec();
            cookie.extend(b);
            CookieChoice::Raw(cookie)
        }),
    ];
    (
        method,
        route(),
        content_type,
        origin,
        cookie,
        prop::option::of(header_bytes()),
        body(),
    )
        .prop_map(
            |(method, (path, own_method), content_type, origin, cookie, user_agent, body)| {
                Generated {
                    method: method.unwrap_or(own_method),
                    path,
                    content_type,
                    origin,
                    cookie,
                    user_agent,
                    body,
                }
            },
        )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Session {
    access: String,
    refresh: String,
}

impl Session {
    fn from_response(response: &reqwest::Response) -> Self {
        let cookies = Cookies::from(response);
        Self {
            access: cookies.access().value.clone(),
            refresh: cookies.refresh().value.clone(),
        }
    }

    /// A live session for the next case: this one if the server still
    /// takes it, else a new login, else (the password was changed by a
    /// generated request) a new account.
    async fn live(self, app: &TestApp) -> Self {
        let still = app.get_with_access("/auth/sessions", &self.access).await;
        if still.status() == StatusCode::OK {
            return self;
        }
        let login = reqwest::Client::new()
            .post(app.url("/auth/login"))
            .json(&serde_json::json!({ "email": "ada@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        if login.status() == StatusCode::OK {
            return Self::from_response(&login);
        }
        let email = format!("{}@example.com", uuid::Uuid::new_v4());
        Self::from_response(&app.register(&email, PASSWORD).await)
    }
}

/// What the server answered, `status code` → count, printed at the end
/// (`-- --nocapture`) to show the cases reached every kind of answer.
type Tally = std::sync::Mutex<std::collections::BTreeMap<String, u32>>;

async fn check(
    app: &TestApp,
    session: &Session,
    tally: &Tally,
    case: Generated,
) -> Result<(), TestCaseError> {
    let mut request = reqwest::Client::new()
        .request(case.method.clone(), app.url(&case.path))
        .body(case.body.clone());
    if let Some(content_type) = &case.content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let origin = match case.origin {
        OriginChoice::None => None,
        OriginChoice::Same => Some(app.address.clone()),
        OriginChoice::Other => Some("http://evil.example".to_owned()),
        OriginChoice::Null => Some("null".to_owned()),
        OriginChoice::Garbage => Some("http://127.0.0.1:1/../x".to_owned()),
    };
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    let cookie = match &case.cookie {
        CookieChoice::None => None,
        CookieChoice::ValidAccess => Some(format!("access_token={}", session.access).into_bytes()),
        CookieChoice::ValidRefresh => {
            Some(format!("refresh_token={}", session.refresh).into_bytes())
        }
        CookieChoice::Both => Some(
            format!(
                "access_token={}; refresh_token={}",
                session.access, session.refresh
            )
            .into_bytes(),
        ),
        CookieChoice::Raw(bytes) => Some(bytes.clone()),
    };
    if let Some(cookie) = cookie {
        request = request.header(
            COOKIE,
            reqwest::header::HeaderValue::from_bytes(&cookie).unwrap(),
        );
    }
    if let Some(user_agent) = &case.user_agent {
        request = request.header(
            USER_AGENT,
            reqwest::header::HeaderValue::from_bytes(user_agent).unwrap(),
        );
    }

    let before = app.snapshot().await;
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let text = response.text().await.unwrap();
    let after = app.snapshot().await;
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default();
    *tally
        .lock()
        .unwrap()
        .entry(format!("{} {code}", status.as_u16()))
        .or_default() += 1;

    prop_assert!(status.as_u16() < 500, "{status}: {text}");
    for secret in [
        "$argon2",
        "password_hash",
        "sqlx",
        "select ",
        "panicked",
        "token_hash",
    ] {
        prop_assert!(
            !text.to_lowercase().contains(secret),
            "{status} leaks {secret:?}: {text}"
        );
    }
    if status.is_client_error() {
        prop_assert_eq!(content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
        let object = body.as_object().unwrap();
        prop_assert_eq!(object.len(), 2, "{}", text);
        prop_assert!(object["error"].is_string() && object["message"].is_string());
        // A reused refresh token is refused *and* revokes its session, as
        // the contract says; every other refusal writes nothing.
        if body["error"] != "refresh_token_reused" {
            prop_assert_eq!(
                &before,
                &after,
                "{} {} wrote on {}",
                case.method,
                case.path,
                text
            );
        }
    }
    prop_assert!(
        status.is_success() || status.is_client_error(),
        "unexpected {status}"
    );
    Ok(())
}

#[test]
fn no_generated_request_gets_a_5xx_a_non_json_error_a_leak_or_a_partial_write() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Throttling would turn most logins into 429s, and the fresh accounts
    // the harness registers (after a generated password change) into 429s
    // too; it has its own tests.
    let (app, session) = runtime.block_on(async {
        let app = spawn_app_with(|s| {
            s.login_max_failures = 100_000;
            s.register_max_per_window = 100_000;
        })
        .await;
        let session = Session::from_response(&app.register("ada@example.com", PASSWORD).await);
        (app, session)
    });

    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = Tally::default();
    let session = std::cell::Cell::new(Some(session));
    let result = runner.run(&generated(), |case| {
        runtime.block_on(async {
            let live = session.take().unwrap().live(&app).await;
            let outcome = check(&app, &live, &tally, case).await;
            session.set(Some(live));
            outcome
        })
    });
    println!("answers: {:?}", tally.lock().unwrap());

    if let Err(error) = result {
        panic!("{error}");
    }
    runtime.block_on(async move { drop(app) });
}

#[test]
fn the_body_limit_is_exact() {
    // The largest body allowed is read; one byte more is refused unread.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let app = crate::helpers::spawn_app().await;
        for (size, expected) in [
            (16 * 1024, StatusCode::BAD_REQUEST),
            (16 * 1024 + 1, StatusCode::PAYLOAD_TOO_LARGE),
        ] {
            let response = app
                .client
                .post(app.url("/auth/login"))
                .header(CONTENT_TYPE, "application/json")
                .body(vec![b' '; size])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), expected, "{size} bytes");
        }
    });
}
