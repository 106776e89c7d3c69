//! The API client's logic with no web APIs in it, so that it compiles and is
//! tested on the host: how an answer is read, when a `401` means "refresh and
//! try again", and the single-flight refresh that many requests share.
//!
//! The browser plugs a gloo-net [`Transport`] into [`RefreshingSender`]; the
//! tests plug in a scripted one.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{ApiError, ErrorCode, TOKEN_EXPIRED_CHALLENGE, User, UserResponse};

/// The HTTP methods the contract uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

/// One request, kept as data so that the very same request can be sent again
/// after a refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    /// A JSON body, already serialised.
    pub body: Option<String>,
}

impl ApiRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self::without_body(Method::Get, path)
    }

    /// A `POST` with no body, as `/auth/refresh` and `/auth/logout` take.
    pub fn post(path: impl Into<String>) -> Self {
        Self::without_body(Method::Post, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::without_body(Method::Delete, path)
    }

    pub fn post_json(path: impl Into<String>, body: &impl Serialize) -> Self {
        // Our wire types are plain structs of strings: serialising one can
        // only fail if a type is changed into something JSON cannot hold,
        // and sending an empty body instead would hide that bug.
        let body = serde_json::to_string(body).expect("a wire type serialises to JSON");
        Self {
            method: Method::Post,
            path: path.into(),
            body: Some(body),
        }
    }

    fn without_body(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
        }
    }
}

/// An answer, reduced to the parts the client looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// The `WWW-Authenticate` header, the contract's signal to refresh.
    pub www_authenticate: Option<String>,
    pub body: String,
}

impl RawResponse {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error body every failing endpoint sends; a made-up one if the
    /// body is not of that shape (a proxy's HTML page, say).
    fn api_error(&self) -> ApiError {
        serde_json::from_str(&self.body).unwrap_or_else(|_| {
            ApiError::new(
                ErrorCode::Unknown,
                format!("The server answered with status {}.", self.status),
            )
        })
    }
}

/// Why a call failed, split the way the UI needs to tell the person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request and said why; the message is for
    /// people, and is the very text a plain HTML form shows for the same
    /// refusal.
    #[error("{0}")]
    Api(ApiError),
    /// The session is over (the refresh was refused). By the time a caller
    /// sees this, the auth context is already signed out.
    #[error("Your session has ended. Please log in again.")]
    SessionEnded,
    /// No usable answer: offline, server down, or not the contract's shape.
    #[error("Could not reach the server. Check your connection and try again.")]
    Network(String),
}

/// What one `POST /auth/refresh` came to, shared by every request that
/// waited for it (hence `Clone`). Not the server's `RefreshOutcome`, which
/// tells rotation from grace: the browser only learns who is signed in.
pub type RefreshResult = Result<User, ClientError>;

/// Reads a successful answer's JSON body, or the error the server sent.
pub fn decode<T: DeserializeOwned>(response: &RawResponse) -> Result<T, ClientError> {
    if !response.is_success() {
        return Err(ClientError::Api(response.api_error()));
    }
    serde_json::from_str(&response.body).map_err(|error| ClientError::Network(error.to_string()))
}

/// For endpoints that answer `204 No Content`.
pub fn expect_success(response: &RawResponse) -> Result<(), ClientError> {
    if response.is_success() {
        Ok(())
    } else {
        Err(ClientError::Api(response.api_error()))
    }
}

/// Whether a refused request is worth one refresh and one retry.
///
/// - `401` with `WWW-Authenticate: token_expired`: the contract's signal.
///   The access cookie outlives the token inside it, so this is what a
///   browser gets after a pause.
/// - `401 invalid_token`: the token is bad, or (on `/auth/me`, the account
///   endpoints and, once revocation has reached it, `/api`) its session has
///   been revoked. One refresh settles which: refused, the session is over
///   and the tab signs out; granted, the new token is tried once.
///
/// Never a `401 unauthenticated`: that is "no access cookie at all", which
/// since contract version 2 means nobody is signed in. Nor any other `401`
/// (`invalid_credentials` is a wrong password, not an old token).
pub fn wants_refresh(response: &RawResponse) -> bool {
    if response.status != 401 {
        return false;
    }
    let challenged = response.www_authenticate.as_deref().is_some_and(|value| {
        value
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word.eq_ignore_ascii_case(TOKEN_EXPIRED_CHALLENGE))
    });
    challenged || response.api_error().error == ErrorCode::InvalidToken
}

/// Sends requests. The browser's is gloo-net; tests script their own.
pub trait Transport: Clone + 'static {
    /// `Err` only when no answer arrived; any HTTP status is an `Ok`.
    fn send(&self, request: &ApiRequest) -> impl Future<Output = Result<RawResponse, ClientError>>;
}

type Flight = Shared<LocalBoxFuture<'static, RefreshResult>>;

/// Makes concurrent requests that found their token expired share one
/// `POST /auth/refresh` (single flight). Refreshing once per tab matters: each
/// refresh rotates the refresh token, and a burst of refreshes with the same
/// token is exactly what reuse detection is there to catch.
///
/// Cheap to clone; clones share the flight.
#[derive(Clone, Default)]
pub struct RefreshGate {
    inner: Rc<GateInner>,
}

#[derive(Default)]
struct GateInner {
    in_flight: RefCell<Option<Flight>>,
    /// How many refreshes have finished. A request notes it before it is sent:
    /// if it has grown by the time the `401` comes back, the request went out
    /// with the old token and a newer one is already in the cookie jar.
    finished: Cell<u64>,
    last: RefCell<Option<RefreshResult>>,
}

impl RefreshGate {
    /// The count of finished refreshes; note it before sending a request.
    pub fn epoch(&self) -> u64 {
        self.inner.finished.get()
    }

    /// The result of a refresh newer than `seen_epoch`: the one that already
    /// finished since, the one in flight, or else a new one made by `start`.
    pub async fn refresh_since<F, Fut>(&self, seen_epoch: u64, start: F) -> RefreshResult
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = RefreshResult> + 'static,
    {
        if self.epoch() > seen_epoch
            && let Some(result) = self.inner.last.borrow().clone()
        {
            return result;
        }
        let flight = {
            let mut slot = self.inner.in_flight.borrow_mut();
            match &*slot {
                Some(flight) => flight.clone(),
                None => {
                    let inner = Rc::clone(&self.inner);
                    let refresh = start();
                    let flight = async move {
                        let result = refresh.await;
                        *inner.last.borrow_mut() = Some(result.clone());
                        inner.finished.set(inner.finished.get() + 1);
                        *inner.in_flight.borrow_mut() = None;
                        result
                    }
                    .boxed_local()
                    .shared();
                    *slot = Some(flight.clone());
                    flight
                }
            }
        };
        flight.await
    }
}

/// Sends every request of the app: when the answer says the access token is
/// no good ([`wants_refresh`]), refreshes once (shared with every other
/// request in the same situation) and sends the request once more. One per
/// tab, so that the whole tab shares its [`RefreshGate`].
#[derive(Clone, Default)]
pub struct RefreshingSender<T> {
    transport: T,
    gate: RefreshGate,
}

impl<T: Transport> RefreshingSender<T> {
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            gate: RefreshGate::default(),
        }
    }

    /// Sends, refreshing and retrying once if the access token turns out to
    /// be no good. `on_refresh` hears of each refresh once, however many
    /// requests waited for it. A refused refresh gives
    /// [`ClientError::SessionEnded`].
    ///
    /// Login, register and logout go through here too: their refusals
    /// (`invalid_credentials`, ...) never ask for a refresh.
    pub async fn send(
        &self,
        request: &ApiRequest,
        on_refresh: impl Fn(&RefreshResult) + 'static,
    ) -> Result<RawResponse, ClientError> {
        let epoch = self.gate.epoch();
        let response = self.transport.send(request).await?;
        if !wants_refresh(&response) {
            return Ok(response);
        }
        self.refresh_since(epoch, on_refresh).await?;
        // Once only: whatever the retry answers is the answer.
        self.transport.send(request).await
    }

    async fn refresh_since(
        &self,
        epoch: u64,
        on_refresh: impl Fn(&RefreshResult) + 'static,
    ) -> RefreshResult {
        let transport = self.transport.clone();
        self.gate
            .refresh_since(epoch, move || async move {
                let result = refresh(&transport).await;
                on_refresh(&result);
                result
            })
            .await
    }
}

/// One `POST /auth/refresh`. A `401` (invalid or reused refresh token) ends
/// the session; anything else that fails is a network problem, which must not
/// sign anyone out.
async fn refresh(transport: &impl Transport) -> RefreshResult {
    let response = transport.send(&ApiRequest::post("/auth/refresh")).await?;
    match response.status {
        401 => Err(ClientError::SessionEnded),
        _ => decode::<UserResponse>(&response).map(|body| body.user),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use futures::channel::oneshot;
    use futures::executor::{LocalPool, block_on};
    use futures::task::LocalSpawnExt;

    use super::*;
    use crate::model::ada;

    fn ok(body: &str) -> RawResponse {
        RawResponse {
            status: 200,
            www_authenticate: None,
            body: body.into(),
        }
    }

    fn error(status: u16, code: &str, challenge: Option<&str>) -> RawResponse {
        RawResponse {
            status,
            www_authenticate: challenge.map(str::to_owned),
            body: format!(r#"{{"error":"{code}","message":"m"}}"#),
        }
    }

    fn expired() -> RawResponse {
        error(401, "token_expired", Some("token_expired"))
    }

    fn refreshed() -> RawResponse {
        ok(&serde_json::to_string(&UserResponse { user: ada() }).unwrap())
    }

    type Answers = VecDeque<RawResponse>;

    /// A scripted server: answers each path from its own queue, and can hold
    /// `/auth/refresh` until the test lets it go, to make requests overlap.
    #[derive(Clone, Default)]
    struct Script {
        answers: Rc<RefCell<Vec<(String, Answers)>>>,
        log: Rc<RefCell<Vec<String>>>,
        refresh_gate: Rc<RefCell<Option<futures::future::Shared<oneshot::Receiver<()>>>>>,
    }

    impl Script {
        fn answer(self, path: &str, responses: impl IntoIterator<Item = RawResponse>) -> Self {
            self.answers
                .borrow_mut()
                .push((path.into(), responses.into_iter().collect()));
            self
        }

        fn hold_refresh(&self) -> oneshot::Sender<()> {
            let (release, held) = oneshot::channel();
            *self.refresh_gate.borrow_mut() = Some(held.shared());
            release
        }

        fn log(&self) -> Vec<String> {
            self.log.borrow().clone()
        }

        fn count(&self, path: &str) -> usize {
            self.log
                .borrow()
                .iter()
                .filter(|p| p.as_str() == path)
                .count()
        }
    }

    impl Transport for Script {
        fn send(
            &self,
            request: &ApiRequest,
        ) -> impl Future<Output = Result<RawResponse, ClientError>> {
            let this = self.clone();
            let path = request.path.clone();
            async move {
                this.log.borrow_mut().push(path.clone());
                let held = this.refresh_gate.borrow().clone();
                if path == "/auth/refresh"
                    && let Some(held) = held
                {
                    let _ = held.await;
                }
                let mut answers = this.answers.borrow_mut();
                let queue = answers
                    .iter_mut()
                    .find(|(p, _)| *p == path)
                    .map(|(_, q)| q)
                    .unwrap_or_else(|| panic!("no answer scripted for {path}"));
                Ok(queue
                    .pop_front()
                    .unwrap_or_else(|| panic!("{path} asked too often")))
            }
        }
    }

    /// Records what the client reports of each refresh.
    #[derive(Clone, Default)]
    struct Hooks {
        results: Rc<RefCell<Vec<RefreshResult>>>,
    }

    impl Hooks {
        fn listener(&self) -> impl Fn(&RefreshResult) + 'static {
            let results = Rc::clone(&self.results);
            move |result| results.borrow_mut().push(result.clone())
        }
    }

    #[test]
    fn an_expired_token_is_refreshed_and_the_request_sent_again() {
        // Arrange
        let script = Script::default()
            .answer("/api/posts", [expired(), ok(r#"{"posts":[]}"#)])
            .answer("/auth/refresh", [refreshed()]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();

        // Act
        let response =
            block_on(client.send(&ApiRequest::get("/api/posts"), hooks.listener())).unwrap();

        // Assert
        assert_eq!(response.status, 200);
        assert_eq!(script.log(), ["/api/posts", "/auth/refresh", "/api/posts"]);
        assert_eq!(*hooks.results.borrow(), [Ok(ada())]);
    }

    #[test]
    fn concurrent_requests_share_one_refresh() {
        // Arrange: five requests all find the token expired while the refresh
        // is still on its way.
        let script = Script::default()
            .answer(
                "/api/posts",
                (0..5)
                    .map(|_| expired())
                    .chain((0..5).map(|_| ok(r#"{"posts":[]}"#))),
            )
            .answer("/auth/refresh", [refreshed()]);
        let release = script.hold_refresh();
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();
        let statuses = Rc::new(RefCell::new(Vec::new()));
        let mut pool = LocalPool::new();

        // Act
        for _ in 0..5 {
            let (client, hooks, statuses) = (client.clone(), hooks.clone(), statuses.clone());
            pool.spawner()
                .spawn_local(async move {
                    let response = client
                        .send(&ApiRequest::get("/api/posts"), hooks.listener())
                        .await;
                    statuses.borrow_mut().push(response.unwrap().status);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        let refreshes_while_held = script.count("/auth/refresh");
        release.send(()).unwrap();
        pool.run();

        // Assert
        assert_eq!(refreshes_while_held, 1);
        assert_eq!(script.count("/auth/refresh"), 1);
        assert_eq!(*statuses.borrow(), [200; 5]);
        assert_eq!(
            hooks.results.borrow().len(),
            1,
            "hooks hear of each refresh once"
        );
    }

    #[test]
    fn a_late_401_from_before_a_finished_refresh_reuses_it() {
        // Arrange: one request is sent, a refresh finishes (started by
        // another), and only then does the first request's 401 arrive.
        let script = Script::default()
            .answer("/api/posts", [ok(r#"{"posts":[]}"#)])
            .answer("/auth/refresh", [refreshed()]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();
        let epoch_when_sent = client.gate.epoch();
        block_on(client.refresh_since(epoch_when_sent, hooks.listener())).unwrap();

        // Act
        let outcome = block_on(client.refresh_since(epoch_when_sent, hooks.listener()));

        // Assert
        assert_eq!(outcome, Ok(ada()));
        assert_eq!(script.count("/auth/refresh"), 1);
    }

    #[test]
    fn a_new_expiry_after_a_finished_refresh_refreshes_again() {
        let script = Script::default()
            .answer("/api/posts", [expired(), ok("{}"), expired(), ok("{}")])
            .answer("/auth/refresh", [refreshed(), refreshed()]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();

        block_on(client.send(&ApiRequest::get("/api/posts"), hooks.listener())).unwrap();
        block_on(client.send(&ApiRequest::get("/api/posts"), hooks.listener())).unwrap();

        assert_eq!(script.count("/auth/refresh"), 2);
    }

    #[test]
    fn a_refused_refresh_ends_the_session_without_retrying() {
        let script = Script::default()
            .answer("/api/posts", [expired()])
            .answer("/auth/refresh", [error(401, "invalid_refresh_token", None)]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();

        let result = block_on(client.send(&ApiRequest::get("/api/posts"), hooks.listener()));

        assert_eq!(result, Err(ClientError::SessionEnded));
        assert_eq!(script.log(), ["/api/posts", "/auth/refresh"]);
        assert_eq!(*hooks.results.borrow(), [Err(ClientError::SessionEnded)]);
    }

    #[test]
    fn an_invalid_token_of_a_revoked_session_is_settled_by_a_refresh() {
        // Arrange: the session was revoked elsewhere; its access token is
        // still good, but the sessions endpoint checks that the session is live.
        let script = Script::default()
            .answer("/auth/sessions", [error(401, "invalid_token", None)])
            .answer("/auth/refresh", [error(401, "invalid_refresh_token", None)]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();

        // Act
        let result = block_on(client.send(&ApiRequest::get("/auth/sessions"), hooks.listener()));

        // Assert
        assert_eq!(result, Err(ClientError::SessionEnded));
        assert_eq!(script.log(), ["/auth/sessions", "/auth/refresh"]);
        assert_eq!(*hooks.results.borrow(), [Err(ClientError::SessionEnded)]);
    }

    #[test]
    fn a_bad_token_of_a_live_session_is_replaced_and_the_request_sent_again() {
        let script = Script::default()
            .answer(
                "/auth/sessions",
                [error(401, "invalid_token", None), ok(r#"{"sessions":[]}"#)],
            )
            .answer("/auth/refresh", [refreshed()]);
        let client = RefreshingSender::new(script.clone());

        let response = block_on(client.send(
            &ApiRequest::get("/auth/sessions"),
            Hooks::default().listener(),
        ))
        .unwrap();

        assert_eq!(response.status, 200);
        assert_eq!(
            script.log(),
            ["/auth/sessions", "/auth/refresh", "/auth/sessions"]
        );
    }

    #[test]
    fn a_wrong_password_is_an_answer_not_an_expired_token() {
        let script = Script::default()
            .answer("/auth/login", [error(401, "invalid_credentials", None)])
            .answer("/auth/password", [error(401, "invalid_credentials", None)]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();

        let login =
            block_on(client.send(&ApiRequest::post("/auth/login"), hooks.listener())).unwrap();
        let password =
            block_on(client.send(&ApiRequest::post("/auth/password"), hooks.listener())).unwrap();

        assert_eq!((login.status, password.status), (401, 401));
        assert_eq!(script.log(), ["/auth/login", "/auth/password"]);
        assert!(hooks.results.borrow().is_empty());
    }

    #[test]
    fn a_server_error_during_refresh_is_not_a_sign_out() {
        let script = Script::default()
            .answer("/api/posts", [expired()])
            .answer("/auth/refresh", [error(500, "internal", None)]);
        let client = RefreshingSender::new(script);

        let result =
            block_on(client.send(&ApiRequest::get("/api/posts"), Hooks::default().listener()));

        assert!(matches!(result, Err(ClientError::Api(e)) if e.error == ErrorCode::Internal));
    }

    #[test]
    fn only_an_expired_or_bad_token_asks_for_a_refresh() {
        assert!(wants_refresh(&expired()));
        assert!(wants_refresh(&error(
            401,
            "token_expired",
            Some(r#"Bearer error="token_expired""#)
        )));
        assert!(wants_refresh(&error(401, "invalid_token", None)));
        // No access cookie at all: nobody is signed in (contract v2).
        assert!(!wants_refresh(&error(401, "unauthenticated", None)));
        assert!(!wants_refresh(&error(401, "invalid_credentials", None)));
        assert!(!wants_refresh(&error(401, "refresh_token_reused", None)));
        assert!(!wants_refresh(&error(403, "cross_origin_request", None)));
        assert!(!wants_refresh(&error(
            400,
            "invalid_token",
            Some("token_expired")
        )));
    }

    #[test]
    fn a_visitor_without_a_session_is_told_so_at_once() {
        let script = Script::default().answer("/auth/me", [error(401, "unauthenticated", None)]);
        let client = RefreshingSender::new(script.clone());
        let hooks = Hooks::default();

        let response =
            block_on(client.send(&ApiRequest::get("/auth/me"), hooks.listener())).unwrap();

        assert_eq!(response.status, 401);
        assert_eq!(script.log(), ["/auth/me"]);
        assert!(hooks.results.borrow().is_empty());
    }

    #[test]
    fn answers_decode_into_types_or_the_servers_error() {
        let user_json = serde_json::to_string(&UserResponse { user: ada() }).unwrap();
        assert_eq!(decode::<UserResponse>(&ok(&user_json)).unwrap().user, ada());

        let refused = decode::<UserResponse>(&error(409, "email_taken", None)).unwrap_err();
        assert_eq!(
            refused,
            ClientError::Api(ApiError::new(ErrorCode::EmailTaken, "m"))
        );

        let html = RawResponse {
            status: 502,
            www_authenticate: None,
            body: "<html>".into(),
        };
        assert!(matches!(
            expect_success(&html),
            Err(ClientError::Api(e)) if e.error == ErrorCode::Unknown && e.message.contains("502")
        ));
    }
}
