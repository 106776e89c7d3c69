use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_query_map;

use crate::api::use_api;
use crate::auth::{after_login, use_auth, with_next};
use crate::components::CredentialsForm;
use crate::model::Credentials;

/// Creates an account, which also signs the person in, then sends them where
/// they were going (`?next=`, a local path only). Someone already signed in
/// goes straight there.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let api = use_api();
    let auth = use_auth();
    // Only a change between signed in and not re-renders the form; while
    // the session is still being checked the form is already usable, and
    // what was typed survives the check's end.
    let signed_in = Memo::new(move |_| auth.state.with(|state| state.user().is_some()));
    let query = use_query_map();
    let next = move || query.with(|query| after_login(query.get_str("next")));
    let register =
        Action::new_local(move |credentials: &Credentials| api.register(credentials.clone()));
    let login_link = move || with_next("/login", &next());

    view! {
        <Title text="Create account"/>
        <h1>"Create account"</h1>
        {move || {
            if signed_in.get() {
                view! { <Redirect path=next()/> }.into_any()
            } else {
                view! {
                    <CredentialsForm submit_label="Create account" new_password=true action=register/>
                    <p>"Already have an account? " <A href=login_link>"Log in instead"</A></p>
                }
                    .into_any()
            }
        }}
    }
}
