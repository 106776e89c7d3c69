//! Server-rendered pages that tell the truth in their first HTML (the
//! contract's "Pages"): who is signed in is decided here, in axum, before
//! rendering starts, together with the page's data, and handed to the app
//! through request extensions. Cookies and statuses are set here too, never
//! while the app renders.

use app::auth::{AuthState, ServerAuth, login_with_return, with_next};
use app::server_context::{FormRefusal, PagePreload};
use app::shell;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use leptos::prelude::{provide_context, use_context};

use crate::auth::cookies::presented_access_token;
use crate::auth::extractor::AuthUser;
use crate::auth::tokens::AccessTokenError;
use crate::routes::auth::see_other;
use crate::service::{self, LiveSession};
use crate::state::AppState;

/// Pages that only a signed-in person may see; the app guards the same
/// ones with `ProtectedRoute`. A request that is surely signed out gets
/// `303` to the login page instead of a page that would only redirect.
const PROTECTED_PAGES: &[&str] = &["/posts", "/account"];

/// What the access cookie of a page request says, after at most one read.
#[derive(Debug)]
pub enum PageAuth {
    /// A valid token of a live session.
    SignedIn(LiveSession),
    /// No cookie: a stranger, or someone whose session has ended.
    Stranger,
    /// A malformed or forged token, or one of a revoked or ended session:
    /// signed out, and the cookies are to be cleared.
    Refused,
    /// A well-signed token that has expired: the refresh cookie (which
    /// pages never see) decides.
    Expired,
    /// The store could not answer; the browser's own check decides.
    Unknown,
}

impl PageAuth {
    /// Reads the access cookie of `headers`: the token check, then one read
    /// for whether its session is live.
    pub async fn of(state: &AppState, headers: &HeaderMap) -> Self {
        let jar = CookieJar::from_headers(headers);
        let Some(token) = presented_access_token(&jar) else {
            return Self::Stranger;
        };
        let claims = match state.tokens.verify_access_token(token).await {
            Ok(claims) => claims,
            Err(AccessTokenError::Expired) => return Self::Expired,
            Err(AccessTokenError::Invalid) => return Self::Refused,
        };
        let auth = AuthUser {
            user_id: claims.sub,
            session_id: claims.sid,
        };
        match service::live_session(state, auth).await {
            Ok(session) => Self::SignedIn(session),
            Err(crate::error::Error::InvalidToken) => Self::Refused,
            Err(error) => {
                tracing::error!(error = ?error, "could not check the session of a page request");
                Self::Unknown
            }
        }
    }

    /// The state the app is rendered with.
    fn state(&self) -> AuthState {
        match self {
            Self::SignedIn(session) => AuthState::SignedIn(session.user.clone()),
            Self::Stranger | Self::Refused => AuthState::SignedOut,
            Self::Expired | Self::Unknown => AuthState::Checking,
        }
    }
}

/// Middleware of every page route: decides who the page is for (see
/// [`PageAuth`]) and either answers at once (a redirect) or renders with
/// [`ServerAuth`] and [`PagePreload`] in the request's extensions.
///
/// - signed in: the page's data is read too, and the page is
///   `Cache-Control: private, no-store`;
/// - an expired token on a navigation: `303` to
///   `/auth/refresh?next=<path and query>`, which comes back signed in or
///   signed out; on anything else (a prefetch, a fetch): "checking";
/// - a refused token: signed out, cookies cleared;
/// - signed out on a protected page: `303` to `/login?next=<path>`.
pub async fn tell_the_truth(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let here = path_and_query(&request);
    let auth = PageAuth::of(&state, request.headers()).await;
    if matches!(auth, PageAuth::Expired) && is_navigation(request.method(), request.headers()) {
        return see_other(&with_next("/auth/refresh", &here));
    }
    let clear = matches!(auth, PageAuth::Refused);
    let signed_out = matches!(auth, PageAuth::Stranger | PageAuth::Refused);
    let response = if signed_out && PROTECTED_PAGES.contains(&request.uri().path()) {
        see_other(&login_with_return(&here))
    } else {
        let preload = match &auth {
            PageAuth::SignedIn(session) => preload(&state, request.uri().path(), session).await,
            _ => PagePreload::default(),
        };
        request.extensions_mut().insert(ServerAuth(auth.state()));
        request.extensions_mut().insert(preload);
        let mut response = next.run(request).await;
        if matches!(auth, PageAuth::SignedIn(_)) {
            mark_private(&mut response);
        }
        response
    };
    if clear {
        (state.cookies.clear_both(CookieJar::new()), response).into_response()
    } else {
        response
    }
}

/// The data of the page at `path` for a signed-in person: the posts on
/// `/posts`, the sessions on `/account`. A read that fails leaves the page
/// to fetch it in the browser, as it would after hydration anyway.
pub async fn preload(state: &AppState, path: &str, session: &LiveSession) -> PagePreload {
    let read = async {
        Ok::<_, crate::error::Error>(match path {
            "/posts" => PagePreload {
                posts: Some(service::list_posts(state, session.user.id).await?),
                sessions: None,
            },
            "/account" => PagePreload {
                posts: None,
                sessions: Some(service::list_sessions(state, session).await?),
            },
            _ => PagePreload::default(),
        })
    };
    read.await.unwrap_or_else(|error| {
        tracing::error!(error = ?error, "could not read a page's data");
        PagePreload::default()
    })
}

/// Renders the page at `uri` again (a form's page), with `refusal` beside
/// its form and the JSON API's status for it. The person is read from the
/// request's cookies as for any page.
pub async fn render_refused_form(
    state: &AppState,
    headers: &HeaderMap,
    uri: &str,
    status: StatusCode,
    refusal: FormRefusal,
) -> Response {
    let auth = PageAuth::of(state, headers).await;
    let path = uri.split('?').next().unwrap_or(uri);
    let preload = match &auth {
        PageAuth::SignedIn(session) => preload(state, path, session).await,
        _ => PagePreload::default(),
    };
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Body::empty())
        .expect("a local path is a valid URI");
    request.extensions_mut().insert(ServerAuth(auth.state()));
    request.extensions_mut().insert(preload);
    request.extensions_mut().insert(refusal);
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_app_async_with_context(provide_page_context, move || {
        shell(options.clone())
    });
    let mut response = render(request).await;
    *response.status_mut() = status;
    // It shows what the person typed: never worth keeping.
    mark_private(&mut response);
    response
}

/// Runs during each page render, after leptos_axum has provided the
/// request's `Parts` (leptos_axum 0.8.10 `handle_response_inner` calls
/// `provide_contexts` before the additional context): hands what
/// [`tell_the_truth`] or a form handler found to the app.
pub fn provide_page_context() {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return;
    };
    if let Some(auth) = parts.extensions.get::<ServerAuth>() {
        provide_context(auth.clone());
    }
    if let Some(preload) = parts.extensions.get::<PagePreload>() {
        provide_context(preload.clone());
    }
    if let Some(refusal) = parts.extensions.get::<FormRefusal>() {
        provide_context(refusal.clone());
    }
}

/// A navigation, as the contract defines it: a `GET` with
/// `Sec-Fetch-Mode: navigate`, or without `Sec-Fetch-Mode` and with an
/// `Accept` that takes HTML. A prefetch (`Sec-Purpose: prefetch`) is not
/// one: following it to `/auth/refresh` would rotate the tokens of a page
/// the person may never open.
pub fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if method != Method::GET || text("sec-purpose").is_some_and(|p| p.contains("prefetch")) {
        return false;
    }
    match text("sec-fetch-mode") {
        Some(mode) => mode.eq_ignore_ascii_case("navigate"),
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|accept| accept.contains("text/html")),
    }
}

/// `Cache-Control: private, no-store`: no shared cache may keep the page,
/// and the browser's back button must fetch it again after a logout.
fn mark_private(response: &mut Response) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

fn path_and_query(request: &Request) -> String {
    request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn navigations_are_told_apart_from_fetches_and_prefetches() {
        let get = Method::GET;
        assert!(is_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "navigate")])
        ));
        assert!(is_navigation(
            &get,
            &headers(&[("accept", "text/html,application/xhtml+xml")])
        ));
        assert!(!is_navigation(&get, &headers(&[])));
        assert!(!is_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "cors"), ("accept", "text/html")])
        ));
        assert!(!is_navigation(
            &get,
            &headers(&[("sec-fetch-mode", "navigate"), ("sec-purpose", "prefetch")])
        ));
        assert!(!is_navigation(
            &Method::POST,
            &headers(&[("sec-fetch-mode", "navigate")])
        ));
    }
}
