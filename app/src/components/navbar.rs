use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use super::ApiForm;
use crate::api::use_api;
use crate::auth::{AuthState, use_auth};
use crate::first_render::take_refusal;
use crate::server_context::FormName;

/// The bar on every page: who is signed in and the way out, or the ways in.
#[component]
pub fn NavBar() -> impl IntoView {
    let auth = use_auth();
    let api = use_api();
    let logout = Action::new_local(move |_: &()| api.logout());
    let navigate = use_navigate();
    // After logging out on purpose, go home rather than to the login page a
    // protected page would send a signed-out person to (as the server's
    // answer to the plain form does).
    Effect::new(move |_| {
        if matches!(logout.value().get(), Some(Ok(()))) {
            navigate("/", NavigateOptions::default());
        }
    });

    view! {
        <header class="navbar">
            <nav aria-label="Main">
                <A href="/" attr:class="brand">"Auth demo"</A>
                <div class="navbar-session">
                    {move || match auth.state.get() {
                        AuthState::Checking => {
                            view! { <span class="muted">"Checking your session…"</span> }.into_any()
                        }
                        AuthState::SignedIn(user) => {
                            view! {
                                <A href="/posts">"Posts"</A>
                                <A href="/account" attr:class="navbar-email">{user.email}</A>
                                <ApiForm
                                    address="/logout"
                                    action=logout
                                    check=|_| Ok(())
                                    refused=take_refusal(FormName::Logout)
                                    class="inline"
                                >
                                    <button
                                        type="submit"
                                        class="secondary"
                                        disabled=move || logout.pending().get()
                                    >
                                        "Log out"
                                    </button>
                                </ApiForm>
                            }
                                .into_any()
                        }
                        AuthState::SignedOut => {
                            view! {
                                <A href="/login">"Log in"</A>
                                <A href="/register" attr:class="button">"Create account"</A>
                            }
                                .into_any()
                        }
                    }}
                </div>
            </nav>
        </header>
    }
}
