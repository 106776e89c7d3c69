use leptos::prelude::*;

use super::core::{
    ApiRequest, Client, ClientError, RawResponse, RefreshOutcome, SessionHooks, decode,
    expect_success,
};
use crate::auth::{AuthContext, AuthEvent, AuthState};
use crate::model::{
    ChangePassword, Credentials, ErrorCode, Id, NewPost, Post, PostResponse, PostsResponse,
    SessionInfo, SessionsResponse, User, UserResponse,
};

#[cfg(feature = "hydrate")]
type PlatformTransport = super::browser::Fetch;
#[cfg(not(feature = "hydrate"))]
type PlatformTransport = Unavailable;

thread_local! {
    /// One client per tab, so every request shares its refresh gate.
    static CLIENT: Client<PlatformTransport> = Client::new(PlatformTransport::default());
}

fn client() -> Client<PlatformTransport> {
    CLIENT.with(Client::clone)
}

/// Stands in for fetch where there is none: rendering on the server never
/// calls the API client (page data loads through `LocalResource` and actions,
/// which run only in the browser), and host builds have no browser.
#[cfg(not(feature = "hydrate"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Unavailable;

#[cfg(not(feature = "hydrate"))]
impl super::core::Transport for Unavailable {
    fn send(
        &self,
        _request: &ApiRequest,
    ) -> impl std::future::Future<Output = Result<RawResponse, ClientError>> {
        std::future::ready(Err(ClientError::Network(
            "The API client runs in the browser only.".into(),
        )))
    }
}

/// The API client, as components get it from context. It is `Copy` and
/// carries the auth context, which it keeps up to date: a refresh confirms
/// who is signed in, a refused refresh signs the tab (and the others) out.
#[derive(Clone, Copy, Debug)]
pub struct ApiClient {
    auth: AuthContext,
}

/// Provides the client; in the browser it also confirms the server-rendered
/// auth state through `GET /auth/me`.
pub fn provide_api_client(auth: AuthContext) -> ApiClient {
    let api = ApiClient { auth };
    provide_context(api);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(api.check_session());
    api
}

pub fn use_api() -> ApiClient {
    expect_context::<ApiClient>()
}

impl SessionHooks for AuthContext {
    fn believed_signed_in(&self) -> bool {
        self.state
            .with_untracked(|state| *state != AuthState::SignedOut)
    }

    fn refreshed(&self, outcome: &RefreshOutcome) {
        self.apply(match outcome {
            Ok(user) => AuthEvent::Confirmed(user.clone()),
            Err(ClientError::SessionEnded) => AuthEvent::SessionEnded,
            Err(_) => AuthEvent::Unreachable,
        });
    }
}

/// The hooks for the check at page load, which always tries a refresh: the
/// refresh cookie is scoped to `/auth`, so the server that rendered the page
/// could not see it, and a page rendered signed out may belong to someone
/// whose access cookie merely aged out. Finding nobody there is no news for
/// other tabs.
#[derive(Clone, Copy)]
struct PageLoadCheck(AuthContext);

impl SessionHooks for PageLoadCheck {
    fn believed_signed_in(&self) -> bool {
        true
    }

    fn refreshed(&self, outcome: &RefreshOutcome) {
        self.0.apply(match outcome {
            Ok(user) => AuthEvent::Confirmed(user.clone()),
            Err(ClientError::SessionEnded) => AuthEvent::NoSession,
            Err(_) => AuthEvent::Unreachable,
        });
    }
}

impl ApiClient {
    /// Confirms who is signed in (`GET /auth/me`, refreshing if needed).
    pub async fn check_session(self) {
        let answer = client()
            .send(&ApiRequest::get("/auth/me"), &PageLoadCheck(self.auth))
            .await;
        self.auth.apply(
            match answer.and_then(|response| decode::<UserResponse>(&response)) {
                Ok(body) => AuthEvent::Confirmed(body.user),
                Err(ClientError::SessionEnded) => AuthEvent::NoSession,
                Err(ClientError::Api(error))
                    if matches!(
                        error.error,
                        ErrorCode::Unauthenticated
                            | ErrorCode::InvalidToken
                            | ErrorCode::TokenExpired
                    ) =>
                {
                    AuthEvent::NoSession
                }
                Err(_) => AuthEvent::Unreachable,
            },
        );
    }

    /// `GET /auth/me`: who the server says is signed in, right now.
    pub async fn me(self) -> Result<User, ClientError> {
        let response = self.send(ApiRequest::get("/auth/me")).await?;
        let user = decode::<UserResponse>(&response)?.user;
        self.auth.apply(AuthEvent::Confirmed(user.clone()));
        Ok(user)
    }

    /// `POST /auth/register`; signs this tab and the others in.
    pub async fn register(self, credentials: Credentials) -> Result<User, ClientError> {
        self.sign_in(ApiRequest::post_json("/auth/register", &credentials))
            .await
    }

    /// `POST /auth/login`; signs this tab and the others in.
    pub async fn login(self, credentials: Credentials) -> Result<User, ClientError> {
        self.sign_in(ApiRequest::post_json("/auth/login", &credentials))
            .await
    }

    async fn sign_in(self, request: ApiRequest) -> Result<User, ClientError> {
        // Sent once: a 401 here is "wrong password", not an expired token.
        let response = client().send_once(&request).await?;
        let user = decode::<UserResponse>(&response)?.user;
        self.auth.apply(AuthEvent::LoggedIn(user.clone()));
        Ok(user)
    }

    /// `POST /auth/logout`; signs this tab and the others out. If the server
    /// cannot be reached the session is still alive, and the person is told
    /// so rather than shown a sign-out that did not happen.
    pub async fn logout(self) -> Result<(), ClientError> {
        let response = client()
            .send_once(&ApiRequest::post("/auth/logout"))
            .await?;
        expect_success(&response)?;
        self.auth.apply(AuthEvent::LoggedOut);
        Ok(())
    }

    /// `GET /api/posts`: the signed-in person's posts, newest first.
    pub async fn posts(self) -> Result<Vec<Post>, ClientError> {
        let response = self.send(ApiRequest::get("/api/posts")).await?;
        Ok(decode::<PostsResponse>(&response)?.posts)
    }

    /// `POST /api/posts`.
    pub async fn create_post(self, post: NewPost) -> Result<Post, ClientError> {
        let response = self
            .send(ApiRequest::post_json("/api/posts", &post))
            .await?;
        Ok(decode::<PostResponse>(&response)?.post)
    }

    /// `GET /auth/sessions`: this person's live sessions, newest first.
    pub async fn sessions(self) -> Result<Vec<SessionInfo>, ClientError> {
        let response = self
            .send_checking_session(ApiRequest::get("/auth/sessions"))
            .await?;
        Ok(decode::<SessionsResponse>(&response)?.sessions)
    }

    /// `DELETE /auth/sessions/{id}`: ends another of this person's sessions.
    /// That device finds out at its next refresh.
    pub async fn revoke_session(self, id: Id) -> Result<(), ClientError> {
        let response = self
            .send_checking_session(ApiRequest::delete(format!("/auth/sessions/{id}")))
            .await?;
        expect_success(&response)
    }

    /// `POST /auth/logout-all`: ends every session of this person's, this one
    /// included, and signs this tab and the others out. Sent through the
    /// refreshing path: it needs a live access token, unlike `/auth/logout`.
    pub async fn logout_all(self) -> Result<(), ClientError> {
        let response = self
            .send_checking_session(ApiRequest::post("/auth/logout-all"))
            .await?;
        expect_success(&response)?;
        self.auth.apply(AuthEvent::LoggedOut);
        Ok(())
    }

    /// `POST /auth/password`. On success every other session is over; this one
    /// stays. A `401 invalid_credentials` is the wrong current password, not an
    /// expired token, so it is never refreshed away.
    pub async fn change_password(self, change: ChangePassword) -> Result<(), ClientError> {
        let response = self
            .send_checking_session(ApiRequest::post_json("/auth/password", &change))
            .await?;
        expect_success(&response)
    }

    async fn send(self, request: ApiRequest) -> Result<RawResponse, ClientError> {
        client().send(&request, &self.auth).await
    }

    /// For the account endpoints, which also check that this session is
    /// live: finding it revoked signs this tab (and the others) out at once,
    /// rather than when the access token expires.
    async fn send_checking_session(self, request: ApiRequest) -> Result<RawResponse, ClientError> {
        client().send_checking_session(&request, &self.auth).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::provide_auth_context;

    fn ada() -> User {
        User {
            id: "00000000-0000-0000-0000-000000000000".parse().unwrap(),
            email: "ada@example.com".into(),
            created_at: "1970-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    /// A fresh reactive owner with the auth context in it, as `App` has.
    fn auth_context() -> (Owner, AuthContext) {
        let owner = Owner::new();
        owner.set();
        (owner, provide_auth_context())
    }

    #[test]
    fn a_refresh_keeps_the_context_true_but_being_offline_changes_nothing() {
        let (_owner, auth) = auth_context();
        assert_eq!(auth.state.get_untracked(), AuthState::Checking);

        auth.refreshed(&Err(ClientError::Network("offline".into())));
        assert_eq!(auth.state.get_untracked(), AuthState::Checking);

        auth.refreshed(&Ok(ada()));
        assert_eq!(auth.state.get_untracked(), AuthState::SignedIn(ada()));
        assert!(auth.believed_signed_in());

        auth.refreshed(&Err(ClientError::SessionEnded));
        assert_eq!(auth.state.get_untracked(), AuthState::SignedOut);
        assert!(!auth.believed_signed_in());
    }

    #[test]
    fn the_page_load_check_always_tries_a_refresh_and_finding_nobody_signs_out() {
        let (_owner, auth) = auth_context();
        let check = PageLoadCheck(auth);
        auth.apply(AuthEvent::NoSession);

        assert!(
            check.believed_signed_in(),
            "a stranger and a returning user look alike"
        );
        check.refreshed(&Ok(ada()));
        assert_eq!(auth.state.get_untracked(), AuthState::SignedIn(ada()));
        check.refreshed(&Err(ClientError::SessionEnded));
        assert_eq!(auth.state.get_untracked(), AuthState::SignedOut);
    }
}
