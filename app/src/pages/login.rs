use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_query_map;

use crate::api::use_api;
use crate::auth::{AuthState, after_login, use_auth, with_next};
use crate::components::{CheckingSession, CredentialsForm};
use crate::model::Credentials;

/// Logs a person in, then sends them back where they came from (`?next=`,
/// a local path only). Someone already signed in, here or by another tab,
/// goes straight there.
#[component]
pub fn LoginPage() -> impl IntoView {
    let api = use_api();
    let auth = use_auth();
    let query = use_query_map();
    let next = move || query.with(|query| after_login(query.get_str("next")));
    let login = Action::new_local(move |credentials: &Credentials| api.login(credentials.clone()));
    let register_link = move || with_next("/register", &next());

    view! {
        <Title text="Log in"/>
        <h1>"Log in"</h1>
        {move || match auth.state.get() {
            AuthState::SignedIn(_) => view! { <Redirect path=next()/> }.into_any(),
            AuthState::Checking => view! { <CheckingSession/> }.into_any(),
            AuthState::SignedOut => {
                view! {
                    <CredentialsForm submit_label="Log in" new_password=false action=login/>
                    <p>"No account yet? " <A href=register_link>"Create one"</A></p>
                }
                    .into_any()
            }
        }}
    }
}
