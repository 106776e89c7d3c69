//! The app both sides compile: on the server (`ssr`) it renders HTML, in the
//! browser (`hydrate`) it takes that HTML over and runs the API client.

pub mod api;
pub mod auth;
pub mod components;
pub mod domain;
pub mod model;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{ProtectedRoute, Route, Router, Routes},
    hooks::use_location,
};

use crate::auth::login_with_return;
use crate::components::{CheckingSession, NavBar};
use crate::pages::{AccountPage, HomePage, LoginPage, NotFound, PostsPage, RegisterPage};

/// The HTML document around [`App`], rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root: provides the auth context and the API client once, then routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let auth = auth::provide_auth_context();
    api::provide_api_client(auth);

    // Protected pages wait while the session is being checked (`None`) and
    // send a signed-out person to log in, with a way back here. Async
    // rendering finishes the page before the response starts, so the first
    // HTML holds the page itself (not a placeholder for a script to swap in),
    // and a redirect can still set the status and `Location`.
    let may_enter = move || auth.may_enter();
    let login_and_return = || {
        let location = use_location();
        let search = location.search.get_untracked();
        let here = if search.is_empty() {
            location.pathname.get_untracked()
        } else {
            format!("{}?{search}", location.pathname.get_untracked())
        };
        login_with_return(&here)
    };

    view! {
        <Stylesheet id="leptos" href="/pkg/auth-demo.css"/>
        <Title text="Auth demo"/>
        <Router>
            <NavBar/>
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage/>
                    <Route path=StaticSegment("login") view=LoginPage/>
                    <Route path=StaticSegment("register") view=RegisterPage/>
                    <ProtectedRoute
                        path=StaticSegment("posts")
                        view=PostsPage
                        condition=may_enter
                        redirect_path=login_and_return
                        fallback=CheckingSession
                        ssr=SsrMode::Async
                    />
                    <ProtectedRoute
                        path=StaticSegment("account")
                        view=AccountPage
                        condition=may_enter
                        redirect_path=login_and_return
                        fallback=CheckingSession
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}
