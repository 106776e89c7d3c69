use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_query_map;

use crate::api::use_api;
use crate::auth::{after_login, use_auth, with_next};
use crate::components::CredentialsForm;
use crate::model::Credentials;

/// Logs a person in, then sends them back where they came from (`?next=`,
/// a local path only). Someone already signed in, here or by another tab,
/// goes straight there.
#[component]
pub fn LoginPage() -> impl IntoView {
    let api = use_api();
    let auth = use_auth();
    // Only a change between signed in and not re-renders the form; while
    // the session is still being checked the form is already usable, and
    // what was typed survives the check's end.
    let signed_in = Memo::new(move |_| auth.state.with(|state| state.user().is_some()));
    let query = use_query_map();
    let next = move || query.with(|query| after_login(query.get_str("next")));
    let login = Action::new_local(move |credentials: &Credentials| api.login(credentials.clone()));
    let register_link = move || with_next("/register", &next());

    view! {
        <Title text="Log in"/>
        <h1>"Log in"</h1>
        {move || {
            if signed_in.get() {
                view! { <Redirect path=next()/> }.into_any()
            } else {
                view! {
                    <CredentialsForm submit_label="Log in" new_password=false action=login/>
                    <p>"No account yet? " <A href=register_link>"Create one"</A></p>
                }
                    .into_any()
            }
        }}
    }
}
