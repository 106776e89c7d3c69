//! The app both sides compile: on the server (`ssr`) it renders HTML, in the
//! browser (`hydrate`) it takes that HTML over and runs the API client.

pub mod api;
pub mod auth;
pub mod components;
pub mod domain;
pub mod first_render;
pub mod model;
pub mod pages;
pub mod server_context;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    MatchNestedRoutes, SsrMode, StaticSegment,
    components::{ProtectedRoute, Route, Router, Routes},
    hooks::use_location,
};

use crate::auth::{AuthContext, login_with_return};
use crate::components::{CheckingSession, NavBar};
use crate::pages::{AccountPage, HomePage, LoginPage, NotFound, PostsPage, RegisterPage};

/// The HTML document around [`App`], rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico" sizes="32x32"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options=options.clone()/>
                // The file's name carries its content hash in a release
                // build (`hash-files`), read from the build's hash file.
                <HashedStylesheet options id="leptos"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sets the page's `Content-Security-Policy` with this response's script
/// nonce, which leptos_axum provides before rendering and puts on every
/// script it writes (the hydration loader, resolved resources, streamed
/// chunks). Scripts run only from our origin or with the nonce; the WASM
/// needs `'wasm-unsafe-eval'` to be compiled; styles only from our origin
/// (no inline styles or `style` attributes). Under `cargo leptos watch` the
/// live-reload websocket is allowed too.
#[cfg(feature = "ssr")]
fn set_content_security_policy(options: &LeptosOptions) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let reload = if std::env::var_os("LEPTOS_WATCH").is_some() {
        let port = options.reload_external_port.unwrap_or(options.reload_port);
        format!(" ws://*:{port} wss://*:{port}")
    } else {
        String::new()
    };
    let policy = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'{reload}; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The root: provides the auth context, what the server knew when it
/// rendered the page, and the API client, once; then routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Both serialise a value into the page: the same order on both sides.
    let auth = auth::provide_auth_context();
    first_render::provide_first_render();
    api::provide_api_client(auth);

    view! {
        <Title text="Auth demo"/>
        <Router>
            <NavBar/>
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage/>
                    <Route path=StaticSegment("login") view=LoginPage/>
                    <Route path=StaticSegment("register") view=RegisterPage/>
                    <SignedInRoute auth path="posts" view=PostsPage/>
                    <SignedInRoute auth path="account" view=AccountPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// A page only a signed-in person may see. It waits while the session is
/// being checked (`None`) and sends a signed-out person to log in, with a way
/// back here. Async rendering finishes the page before the response starts,
/// so a redirect can still set the status and `Location`.
#[component(transparent)]
fn SignedInRoute<ViewFn, V>(
    auth: AuthContext,
    path: &'static str,
    view: ViewFn,
) -> impl MatchNestedRoutes + Clone
where
    ViewFn: Fn() -> V + Send + Clone + 'static,
    V: IntoView + 'static,
{
    view! {
        <ProtectedRoute
            path=StaticSegment(path)
            view=view
            condition=move || auth.may_enter()
            redirect_path=login_and_return
            fallback=CheckingSession
            ssr=SsrMode::Async
        />
    }
    .into_inner()
}

/// The login page, with the current path and query to come back to.
fn login_and_return() -> String {
    let location = use_location();
    let search = location.search.get_untracked();
    let here = if search.is_empty() {
        location.pathname.get_untracked()
    } else {
        format!("{}?{search}", location.pathname.get_untracked())
    };
    login_with_return(&here)
}
