//! The API client's logic with no web APIs in it, so that it compiles and is
//! tested on the host: how an answer is read, when a 401 means "refresh and try
//! again", and the single-flight refresh that many requests share.
//!
//! The browser plugs a gloo-net [`Transport`] into [`Client`]; the tests plug
//! in a scripted one.

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
        Self {
            method: Method::Get,
            path: path.into(),
            body: None,
        }
    }

    /// A `POST` with no body, as `/auth/refresh` and `/auth/logout` take.
    pub fn post(path: impl Into<String>) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            body: None,
        }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self {
            method: Method::Delete,
            path: path.into(),
            body: None,
        }
    }

    pub fn post_json(path: impl Into<String>, body: &impl Serialize) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            // Serialising our own wire types cannot fail: they are plain
            // structs of strings.
            body: Some(serde_json::to_string(body).unwrap_or_default()),
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
    /// The server refused the request and said why; the message is for people.
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

/// The outcome of one `POST /auth/refresh`, shared by every request that
/// waited for it (hence `Clone`).
pub type RefreshOutcome = Result<User, ClientError>;

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

/// Whether a failed answer means "your access token is gone: refresh and try
/// again".
///
/// The contract's signal is `401` with `WWW-Authenticate: token_expired`. But
/// the access cookie's `Max-Age` equals the token's lifetime, so a browser
/// usually drops the cookie at the moment the token expires, and the server
/// then sees no token at all and answers `401 unauthenticated`. When this page
/// believes someone is signed in, that answer means the same thing.
pub fn wants_refresh(response: &RawResponse, believed_signed_in: bool) -> bool {
    if response.status != 401 {
        return false;
    }
    let challenged = response.www_authenticate.as_deref().is_some_and(|value| {
        value
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word.eq_ignore_ascii_case(TOKEN_EXPIRED_CHALLENGE))
    });
    challenged || (believed_signed_in && response.api_error().error == ErrorCode::Unauthenticated)
}

/// Sends requests. The browser's is gloo-net; tests script their own.
pub trait Transport: Clone + 'static {
    /// `Err` only when no answer arrived; any HTTP status is an `Ok`.
    fn send(&self, request: &ApiRequest) -> impl Future<Output = Result<RawResponse, ClientError>>;
}

/// What the client needs to know of, and tell, the auth state. The auth
/// context implements it; so do the tests.
pub trait SessionHooks: Clone + 'static {
    /// Whether this page thinks someone is signed in (or may be: still
    /// checking). Only then is a bare `401 unauthenticated` worth a refresh.
    fn believed_signed_in(&self) -> bool;
    /// Called once per refresh, however many requests waited for it.
    fn refreshed(&self, outcome: &RefreshOutcome);
}

type Flight = Shared<LocalBoxFuture<'static, RefreshOutcome>>;

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
    last: RefCell<Option<RefreshOutcome>>,
}

impl RefreshGate {
    /// The count of finished refreshes; note it before sending a request.
    pub fn epoch(&self) -> u64 {
        self.inner.finished.get()
    }

    /// The outcome of a refresh newer than `seen_epoch`: the one that already
    /// finished since, the one in flight, or else a new one made by `start`.
    pub async fn refresh_since<F, Fut>(&self, seen_epoch: u64, start: F) -> RefreshOutcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = RefreshOutcome> + 'static,
    {
        if self.epoch() > seen_epoch
            && let Some(outcome) = self.inner.last.borrow().clone()
        {
            return outcome;
        }
        let flight = {
            let mut slot = self.inner.in_flight.borrow_mut();
            match &*slot {
                Some(flight) => flight.clone(),
                None => {
                    let inner = Rc::clone(&self.inner);
                    let refresh = start();
                    let flight = async move {
                        let outcome = refresh.await;
                        *inner.last.borrow_mut() = Some(outcome.clone());
                        inner.finished.set(inner.finished.get() + 1);
                        *inner.in_flight.borrow_mut() = None;
                        outcome
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

/// The API client: sends a request, and when the access token turns out to
/// have expired, refreshes once (shared with every other request in the same
/// situation) and sends the request once more.
#[derive(Clone, Default)]
pub struct Client<T> {
    transport: T,
    gate: RefreshGate,
}

impl<T: Transport> Client<T> {
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            gate: RefreshGate::default(),
        }
    }

    /// Sends once, with no refresh: for login, register and logout, whose
    /// `401`s are answers, not expired tokens.
    pub async fn send_once(&self, request: &ApiRequest) -> Result<RawResponse, ClientError> {
        self.transport.send(request).await
    }

    /// Sends, refreshing and retrying once if the access token has expired.
    /// A refused refresh gives [`ClientError::SessionEnded`].
    pub async fn send(
        &self,
        request: &ApiRequest,
        hooks: &impl SessionHooks,
    ) -> Result<RawResponse, ClientError> {
        let epoch = self.gate.epoch();
        let response = self.transport.send(request).await?;
        if !wants_refresh(&response, hooks.believed_signed_in()) {
            return Ok(response);
        }
        self.refresh_since(epoch, hooks).await?;
        // Once only: whatever the retry answers is the answer.
        self.transport.send(request).await
    }

    /// Like [`Client::send`], for the endpoints that also check that the
    /// token's session is live (sessions, logout-all, password). Their
    /// `401 invalid_token` usually means the session was revoked elsewhere
    /// while its access token was still good: a refresh settles it, ending the
    /// session here too ([`ClientError::SessionEnded`]), or, if the session
    /// lives and the token was merely bad, trying once more with a new one.
    pub async fn send_checking_session(
        &self,
        request: &ApiRequest,
        hooks: &impl SessionHooks,
    ) -> Result<RawResponse, ClientError> {
        let epoch = self.gate.epoch();
        let response = self.transport.send(request).await?;
        let session_in_doubt =
            response.status == 401 && response.api_error().error == ErrorCode::InvalidToken;
        if !session_in_doubt && !wants_refresh(&response, hooks.believed_signed_in()) {
            return Ok(response);
        }
        self.refresh_since(epoch, hooks).await?;
        self.transport.send(request).await
    }

    async fn refresh_since(&self, epoch: u64, hooks: &impl SessionHooks) -> RefreshOutcome {
        let transport = self.transport.clone();
        let hooks = hooks.clone();
        self.gate
            .refresh_since(epoch, move || async move {
                let outcome = refresh(&transport).await;
                hooks.refreshed(&outcome);
                outcome
            })
            .await
    }
}

/// One `POST /auth/refresh`. A `401` (invalid or reused refresh token) ends
/// the session; anything else that fails is a network problem, which must not
/// sign anyone out.
async fn refresh(transport: &impl Transport) -> RefreshOutcome {
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

    fn user() -> User {
        User {
            id: "00000000-0000-0000-0000-000000000000".parse().unwrap(),
            email: "ada@example.com".into(),
            created_at: "1970-01-01T00:00:00Z".parse().unwrap(),
        }
    }

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
        ok(&serde_json::to_string(&UserResponse { user: user() }).unwrap())
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

    #[derive(Clone, Default)]
    struct Hooks {
        signed_out: Rc<Cell<bool>>,
        outcomes: Rc<RefCell<Vec<RefreshOutcome>>>,
    }

    impl SessionHooks for Hooks {
        fn believed_signed_in(&self) -> bool {
            !self.signed_out.get()
        }
        fn refreshed(&self, outcome: &RefreshOutcome) {
            self.outcomes.borrow_mut().push(outcome.clone());
        }
    }

    #[test]
    fn an_expired_token_is_refreshed_and_the_request_sent_again() {
        // Arrange
        let script = Script::default()
            .answer("/api/posts", [expired(), ok(r#"{"posts":[]}"#)])
            .answer("/auth/refresh", [refreshed()]);
        let client = Client::new(script.clone());
        let hooks = Hooks::default();

        // Act
        let response = block_on(client.send(&ApiRequest::get("/api/posts"), &hooks)).unwrap();

        // Assert
        assert_eq!(response.status, 200);
        assert_eq!(script.log(), ["/api/posts", "/auth/refresh", "/api/posts"]);
        assert_eq!(*hooks.outcomes.borrow(), [Ok(user())]);
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
        let client = Client::new(script.clone());
        let hooks = Hooks::default();
        let statuses = Rc::new(RefCell::new(Vec::new()));
        let mut pool = LocalPool::new();

        // Act
        for _ in 0..5 {
            let (client, hooks, statuses) = (client.clone(), hooks.clone(), statuses.clone());
            pool.spawner()
                .spawn_local(async move {
                    let response = client.send(&ApiRequest::get("/api/posts"), &hooks).await;
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
            hooks.outcomes.borrow().len(),
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
        let client = Client::new(script.clone());
        let hooks = Hooks::default();
        let epoch_when_sent = client.gate.epoch();
        block_on(client.refresh_since(epoch_when_sent, &hooks)).unwrap();

        // Act
        let outcome = block_on(client.refresh_since(epoch_when_sent, &hooks));

        // Assert
        assert_eq!(outcome, Ok(user()));
        assert_eq!(script.count("/auth/refresh"), 1);
    }

    #[test]
    fn a_new_expiry_after_a_finished_refresh_refreshes_again() {
        let script = Script::default()
            .answer("/api/posts", [expired(), ok("{}"), expired(), ok("{}")])
            .answer("/auth/refresh", [refreshed(), refreshed()]);
        let client = Client::new(script.clone());
        let hooks = Hooks::default();

        block_on(client.send(&ApiRequest::get("/api/posts"), &hooks)).unwrap();
        block_on(client.send(&ApiRequest::get("/api/posts"), &hooks)).unwrap();

        assert_eq!(script.count("/auth/refresh"), 2);
    }

    #[test]
    fn a_refused_refresh_ends_the_session_without_retrying() {
        let script = Script::default()
            .answer("/api/posts", [expired()])
            .answer("/auth/refresh", [error(401, "invalid_refresh_token", None)]);
        let client = Client::new(script.clone());
        let hooks = Hooks::default();

        let result = block_on(client.send(&ApiRequest::get("/api/posts"), &hooks));

        assert_eq!(result, Err(ClientError::SessionEnded));
        assert_eq!(script.log(), ["/api/posts", "/auth/refresh"]);
        assert_eq!(*hooks.outcomes.borrow(), [Err(ClientError::SessionEnded)]);
    }

    #[test]
    fn an_invalid_token_where_the_session_is_checked_is_settled_by_a_refresh() {
        // Arrange: the session was revoked elsewhere; its access token is
        // still good, but the sessions endpoint checks the session.
        let script = Script::default()
            .answer("/auth/sessions", [error(401, "invalid_token", None)])
            .answer("/auth/refresh", [error(401, "invalid_refresh_token", None)]);
        let client = Client::new(script.clone());
        let hooks = Hooks::default();

        // Act
        let result =
            block_on(client.send_checking_session(&ApiRequest::get("/auth/sessions"), &hooks));

        // Assert
        assert_eq!(result, Err(ClientError::SessionEnded));
        assert_eq!(script.log(), ["/auth/sessions", "/auth/refresh"]);
        assert_eq!(*hooks.outcomes.borrow(), [Err(ClientError::SessionEnded)]);
    }

    #[test]
    fn a_bad_token_of_a_live_session_is_replaced_and_the_request_sent_again() {
        let script = Script::default()
            .answer(
                "/auth/sessions",
                [error(401, "invalid_token", None), ok(r#"{"sessions":[]}"#)],
            )
            .answer("/auth/refresh", [refreshed()]);
        let client = Client::new(script.clone());

        let response = block_on(
            client.send_checking_session(&ApiRequest::get("/auth/sessions"), &Hooks::default()),
        )
        .unwrap();

        assert_eq!(response.status, 200);
        assert_eq!(
            script.log(),
            ["/auth/sessions", "/auth/refresh", "/auth/sessions"]
        );
    }

    #[test]
    fn only_the_session_checking_send_refreshes_on_an_invalid_token() {
        let script = Script::default()
            .answer("/api/posts", [error(401, "invalid_token", None)])
            .answer("/auth/password", [error(401, "invalid_credentials", None)]);
        let client = Client::new(script.clone());
        let hooks = Hooks::default();

        let posts = block_on(client.send(&ApiRequest::get("/api/posts"), &hooks)).unwrap();
        let password =
            block_on(client.send_checking_session(&ApiRequest::post("/auth/password"), &hooks))
                .unwrap();

        assert_eq!((posts.status, password.status), (401, 401));
        assert_eq!(script.log(), ["/api/posts", "/auth/password"]);
    }

    #[test]
    fn a_server_error_during_refresh_is_not_a_sign_out() {
        let script = Script::default()
            .answer("/api/posts", [expired()])
            .answer("/auth/refresh", [error(500, "internal", None)]);
        let client = Client::new(script);

        let result = block_on(client.send(&ApiRequest::get("/api/posts"), &Hooks::default()));

        assert!(matches!(result, Err(ClientError::Api(e)) if e.error == ErrorCode::Internal));
    }

    #[test]
    fn a_missing_token_is_refreshed_only_when_someone_is_believed_signed_in() {
        let missing = error(401, "unauthenticated", None);
        assert!(wants_refresh(&missing, true));
        assert!(!wants_refresh(&missing, false));
        assert!(wants_refresh(&expired(), false));
        assert!(!wants_refresh(&error(401, "invalid_token", None), true));
        assert!(!wants_refresh(
            &error(401, "invalid_credentials", None),
            true
        ));
        assert!(!wants_refresh(
            &error(403, "cross_origin_request", None),
            true
        ));
        assert!(wants_refresh(
            &error(
                401,
                "token_expired",
                Some(r#"Bearer error="token_expired""#)
            ),
            false
        ));
    }

    #[test]
    fn a_signed_out_page_does_not_refresh_on_401() {
        let script = Script::default().answer("/auth/me", [error(401, "unauthenticated", None)]);
        let client = Client::new(script.clone());
        let hooks = Hooks::default();
        hooks.signed_out.set(true);

        let response = block_on(client.send(&ApiRequest::get("/auth/me"), &hooks)).unwrap();

        assert_eq!(response.status, 401);
        assert_eq!(script.log(), ["/auth/me"]);
    }

    #[test]
    fn answers_decode_into_types_or_the_servers_error() {
        let user_json = serde_json::to_string(&UserResponse { user: user() }).unwrap();
        assert_eq!(
            decode::<UserResponse>(&ok(&user_json)).unwrap().user,
            user()
        );

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
