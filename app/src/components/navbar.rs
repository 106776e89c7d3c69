use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::{AuthState, use_auth};

/// The bar on every page: the signed-in person's email, or the ways in.
#[component]
pub fn NavBar() -> impl IntoView {
    let auth = use_auth();
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
                            view! { <span class="navbar-email">{user.email}</span> }.into_any()
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
