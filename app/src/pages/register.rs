use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_query_map;

use crate::api::use_api;
use crate::auth::{AuthState, after_login, use_auth, with_next};
use crate::components::{CheckingSession, CredentialsForm};
use crate::model::Credentials;

/// Creates an account, which also signs the person in, then sends them where
/// they were going (`?next=`, a local path only). Someone already signed in
/// goes straight there.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let api = use_api();
    let auth = use_auth();
    let query = use_query_map();
    let next = move || query.with(|query| after_login(query.get_str("next")));
    let register =
        Action::new_local(move |credentials: &Credentials| api.register(credentials.clone()));
    let login_link = move || with_next("/login", &next());

    view! {
        <Title text="Create account"/>
        <h1>"Create account"</h1>
        {move || match auth.state.get() {
            AuthState::SignedIn(_) => view! { <Redirect path=next()/> }.into_any(),
            AuthState::Checking => view! { <CheckingSession/> }.into_any(),
            AuthState::SignedOut => {
                view! {
                    <CredentialsForm submit_label="Create account" new_password=true action=register/>
                    <p>"Already have an account? " <A href=login_link>"Log in instead"</A></p>
                }
                    .into_any()
            }
        }}
    }
}
