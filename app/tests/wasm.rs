//! The shared code compiled to WebAssembly and run under Node.js, the way the
//! browser runs it: the validators must give the same verdicts as on the
//! server, and the API client must refresh once for many requests.
//!
//! Run with `scripts/test`, or:
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test -p app --features hydrate --target wasm32-unknown-unknown --test wasm`
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use app::api::protocol::{
    ApiRequest, ClientError, RawResponse, RefreshResult, RefreshingSender, Transport,
};
use app::components::{format_date, format_time};
use app::domain::{Email, Password, PostBody, PostTitle};
use app::model::{User, UserResponse};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn validators_give_the_servers_verdicts() {
    assert_eq!(
        Email::parse("  Ada@Example.COM ").map(|e| e.into_inner()),
        Ok("ada@example.com".to_owned())
    );
    assert!(Email::parse("ada@example").is_err());
    // Counted in characters, not bytes, on both sides.
    assert!(Password::parse("ééééééé").is_err());
    assert!(Password::parse("éééééééé").is_ok());
    assert!(Password::parse(&"🔐".repeat(128)).is_ok());
    assert!(Password::parse(&"🔐".repeat(129)).is_err());
    // The list of common passwords is the server's alone (it would weigh
    // about 11 KB of the bundle): it refuses this one with the same sentence.
    assert!(Password::parse("Password1").is_ok());
    assert!(PostTitle::parse(&"é".repeat(200)).is_ok());
    assert!(PostTitle::parse(&"é".repeat(201)).is_err());
    assert!(PostBody::parse(&"b".repeat(10_001)).is_err());
}

#[wasm_bindgen_test]
fn times_read_as_the_server_renders_them() {
    // The server formats with chrono (`format_time`'s host test has the same
    // pairs); the browser with `Date`, from the wire's RFC 3339 strings.
    for (wire, shown) in [
        ("2026-11-23T09:05:59Z", "23 Nov 2026, 09:05 UTC"),
        ("2026-12-01T00:07:00.123456789Z", "1 Dec 2026, 00:07 UTC"),
    ] {
        assert_eq!(format_time(&wire.to_owned()), shown);
    }
    assert_eq!(
        format_date(&"2026-09-03T23:59:59.5Z".to_owned()),
        "3 September 2026"
    );
    assert_eq!(format_time(&"not a time".to_owned()), "not a time");
}

/// A server in memory: every request is `401 token_expired` until a refresh
/// has succeeded; the refresh itself waits a few turns of the event loop so
/// that the other requests run into it while it is in flight.
#[derive(Clone, Default)]
struct ExpiringServer {
    refreshed: Rc<Cell<bool>>,
    log: Rc<RefCell<Vec<String>>>,
}

impl Transport for ExpiringServer {
    fn send(&self, request: &ApiRequest) -> impl Future<Output = Result<RawResponse, ClientError>> {
        let server = self.clone();
        let path = request.path.clone();
        async move {
            server.log.borrow_mut().push(path.clone());
            if path == "/auth/refresh" {
                YieldTurns(3).await;
                server.refreshed.set(true);
                return Ok(RawResponse {
                    status: 200,
                    www_authenticate: None,
                    body: serde_json::to_string(&UserResponse { user: user() }).unwrap(),
                });
            }
            Ok(if server.refreshed.get() {
                RawResponse {
                    status: 200,
                    www_authenticate: None,
                    body: "{}".into(),
                }
            } else {
                RawResponse {
                    status: 401,
                    www_authenticate: Some("token_expired".into()),
                    body: r#"{"error":"token_expired","message":"m"}"#.into(),
                }
            })
        }
    }
}

#[wasm_bindgen_test]
async fn concurrent_requests_with_an_expired_token_share_one_refresh() {
    // Arrange
    let server = ExpiringServer::default();
    let client = RefreshingSender::new(server.clone());
    let refreshes_seen = Rc::new(Cell::new(0));
    let requests: Vec<_> = ["/auth/me", "/api/posts", "/api/posts"]
        .into_iter()
        .map(ApiRequest::get)
        .collect();

    // Act
    let answers = futures::future::join_all(requests.iter().map(|r| {
        let refreshes_seen = Rc::clone(&refreshes_seen);
        client.send(r, move |_: &RefreshResult| {
            refreshes_seen.set(refreshes_seen.get() + 1)
        })
    }))
    .await;

    // Assert
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|r| r.status == 200))
    );
    let log = server.log.borrow();
    assert_eq!(
        log.iter().filter(|p| *p == "/auth/refresh").count(),
        1,
        "{log:?}"
    );
    assert_eq!(
        log.len(),
        3 + 1 + 3,
        "three requests, one refresh, three retries: {log:?}"
    );
    assert_eq!(refreshes_seen.get(), 1);
}

fn user() -> User {
    User {
        id: "00000000-0000-0000-0000-000000000000".into(),
        email: "ada@example.com".into(),
        created_at: "1970-01-01T00:00:00Z".into(),
    }
}

/// Returns `Pending` a few times (waking itself each time), so that other
/// futures polled by the same `join_all` get to run in between.
struct YieldTurns(u8);

impl Future for YieldTurns {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
