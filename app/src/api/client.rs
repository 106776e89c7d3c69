use leptos::prelude::*;

use super::protocol::{
    ApiRequest, ClientError, RawResponse, RefreshResult, RefreshingSender, decode, expect_success,
};
use crate::auth::{AuthContext, AuthEvent};
use crate::model::{
    ChangePassword, Credentials, ErrorCode, Id, NewPost, Post, PostResponse, PostsResponse,
    SessionInfo, SessionsResponse, User, UserResponse,
};

#[cfg(feature = "hydrate")]
type PlatformTransport = super::browser::Fetch;
#[cfg(not(feature = "hydrate"))]
type PlatformTransport = Unavailable;

thread_local! {
    /// One sender per tab, so that every request shares its refresh gate.
    static SENDER: RefreshingSender<PlatformTransport> =
        RefreshingSender::new(PlatformTransport::default());
}

/// Stands in for fetch where there is none: rendering on the server never
/// calls the API (page data comes from the server's preload, and actions run
/// only in the browser), and host builds have no browser.
#[cfg(not(feature = "hydrate"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Unavailable;

#[cfg(not(feature = "hydrate"))]
impl super::protocol::Transport for Unavailable {
    fn send(
        &self,
        _request: &ApiRequest,
    ) -> impl std::future::Future<Output = Result<RawResponse, ClientError>> {
        std::future::ready(Err(ClientError::Network(
            "The API client runs in the browser only.".into(),
        )))
    }
}

/// The API client, as components get it from context: one method per
/// endpoint. It is `Copy` and carries the auth context, which it keeps up to
/// date: a refresh confirms who is signed in, a refused refresh signs the tab
/// (and the others) out.
#[derive(Clone, Copy, Debug)]
pub struct ApiClient {
    auth: AuthContext,
}

/// Provides the client. In the browser, a page that the server rendered as
/// "checking" (its access token had expired on a request that was not a
/// navigation) is settled at once through `GET /auth/me`; a page rendered
/// signed in or signed out was already the truth, and asks nothing.
pub fn provide_api_client(auth: AuthContext) -> ApiClient {
    let api = ApiClient { auth };
    provide_context(api);
    #[cfg(feature = "hydrate")]
    if auth
        .state
        .with_untracked(|state| *state == crate::auth::AuthState::Checking)
    {
        leptos::task::spawn_local(api.check_session());
    }
    api
}

pub fn use_api() -> ApiClient {
    expect_context::<ApiClient>()
}

/// What a finished refresh tells the auth context.
fn refresh_event(result: &RefreshResult) -> AuthEvent {
    match result {
        Ok(user) => AuthEvent::Confirmed(user.clone()),
        Err(ClientError::SessionEnded) => AuthEvent::SessionEnded,
        Err(_) => AuthEvent::Unreachable,
    }
}

/// What `GET /auth/me` (after any refresh it needed) tells the auth context;
/// `None` when the refresh was refused, which has been applied already.
fn me_event(answer: Result<User, ClientError>) -> Option<AuthEvent> {
    match answer {
        Ok(user) => Some(AuthEvent::Confirmed(user)),
        Err(ClientError::SessionEnded) => None,
        Err(ClientError::Api(error))
            if matches!(
                error.error,
                ErrorCode::Unauthenticated | ErrorCode::InvalidToken | ErrorCode::TokenExpired
            ) =>
        {
            Some(AuthEvent::NoSession)
        }
        Err(_) => Some(AuthEvent::Unreachable),
    }
}

impl ApiClient {
    /// Settles a "checking" page: `GET /auth/me`, refreshing if needed.
    pub async fn check_session(self) {
        let answer = self
            .send(ApiRequest::get("/auth/me"))
            .await
            .and_then(|response| decode::<UserResponse>(&response))
            .map(|body| body.user);
        if let Some(event) = me_event(answer) {
            self.auth.apply(event);
        }
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
        let response = self.send(request).await?;
        let user = decode::<UserResponse>(&response)?.user;
        self.auth.apply(AuthEvent::LoggedIn(user.clone()));
        Ok(user)
    }

    /// `POST /auth/logout`; signs this tab and the others out. If the server
    /// cannot be reached the session is still alive, and the person is told
    /// so rather than shown a sign-out that did not happen.
    pub async fn logout(self) -> Result<(), ClientError> {
        let response = self.send(ApiRequest::post("/auth/logout")).await?;
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
        let response = self.send(ApiRequest::get("/auth/sessions")).await?;
        Ok(decode::<SessionsResponse>(&response)?.sessions)
    }

    /// `DELETE /auth/sessions/{id}`: ends another of this person's sessions.
    /// That device finds out at its next request.
    pub async fn revoke_session(self, id: Id) -> Result<(), ClientError> {
        let response = self
            .send(ApiRequest::delete(format!("/auth/sessions/{id}")))
            .await?;
        expect_success(&response)
    }

    /// `POST /auth/logout-all`: ends every session of this person's, this one
    /// included, and signs this tab and the others out.
    pub async fn logout_all(self) -> Result<(), ClientError> {
        let response = self.send(ApiRequest::post("/auth/logout-all")).await?;
        expect_success(&response)?;
        self.auth.apply(AuthEvent::LoggedOut);
        Ok(())
    }

    /// `POST /auth/password`. On success every other session is over; this one
    /// stays. A `401 invalid_credentials` is the wrong current password, not an
    /// expired token, so it is never refreshed away.
    pub async fn change_password(self, change: ChangePassword) -> Result<(), ClientError> {
        let response = self
            .send(ApiRequest::post_json("/auth/password", &change))
            .await?;
        expect_success(&response)
    }

    /// Every request goes through the tab's one sender, which refreshes when
    /// the answer asks for it and tells the auth context what came of it.
    async fn send(self, request: ApiRequest) -> Result<RawResponse, ClientError> {
        let sender = SENDER.with(RefreshingSender::clone);
        let auth = self.auth;
        sender
            .send(&request, move |result| auth.apply(refresh_event(result)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiError, ada};

    #[test]
    fn a_refresh_confirms_or_ends_the_session_but_being_offline_changes_nothing() {
        assert_eq!(refresh_event(&Ok(ada())), AuthEvent::Confirmed(ada()));
        assert_eq!(
            refresh_event(&Err(ClientError::SessionEnded)),
            AuthEvent::SessionEnded
        );
        assert_eq!(
            refresh_event(&Err(ClientError::Network("offline".into()))),
            AuthEvent::Unreachable
        );
    }

    #[test]
    fn the_check_of_a_checking_page_settles_it() {
        assert_eq!(me_event(Ok(ada())), Some(AuthEvent::Confirmed(ada())));
        // Already applied by the refresh that was refused.
        assert_eq!(me_event(Err(ClientError::SessionEnded)), None);
        let refused = |code| Err(ClientError::Api(ApiError::new(code, "m")));
        assert_eq!(
            me_event(refused(ErrorCode::Unauthenticated)),
            Some(AuthEvent::NoSession)
        );
        assert_eq!(
            me_event(refused(ErrorCode::InvalidToken)),
            Some(AuthEvent::NoSession)
        );
        assert_eq!(
            me_event(refused(ErrorCode::Internal)),
            Some(AuthEvent::Unreachable)
        );
        assert_eq!(
            me_event(Err(ClientError::Network("offline".into()))),
            Some(AuthEvent::Unreachable)
        );
    }
}
