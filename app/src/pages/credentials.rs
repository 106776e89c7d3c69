use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_query_map;

use crate::api::use_api;
use crate::auth::{after_login, use_auth, with_next};
use crate::components::{CredentialsForm, CredentialsPurpose};
use crate::first_render::{refilled, take_refusal};
use crate::model::Credentials;
use crate::server_context::FormName;

/// Logs a person in, then sends them back where they came from (`?next=`,
/// a local path only).
#[component]
pub fn LoginPage() -> impl IntoView {
    view! { <CredentialsPage purpose=CredentialsPurpose::LogIn/> }
}

/// Creates an account, which also signs the person in, then sends them where
/// they were going (`?next=`, a local path only).
#[component]
pub fn RegisterPage() -> impl IntoView {
    view! { <CredentialsPage purpose=CredentialsPurpose::Register/> }
}

/// Both pages: the form, and a link to the other one that keeps `next`.
/// Someone already signed in, here or by another tab, goes straight on.
#[component]
fn CredentialsPage(purpose: CredentialsPurpose) -> impl IntoView {
    let api = use_api();
    let auth = use_auth();
    let (title, form_name, other_page, other_text, other_link) = match purpose {
        CredentialsPurpose::LogIn => (
            "Log in",
            FormName::Login,
            "/register",
            "No account yet? ",
            "Create one",
        ),
        CredentialsPurpose::Register => (
            "Create account",
            FormName::Register,
            "/login",
            "Already have an account? ",
            "Log in instead",
        ),
    };
    let refused = take_refusal(form_name);
    // A page rendered again after a refused plain form was posted to
    // `/login`, whose address has no query: the form sent `next` along.
    let refused_next = refused
        .as_ref()
        .map(|refusal| refilled(Some(refusal), "next"));
    let query = use_query_map();
    let next = Signal::derive(move || match &refused_next {
        Some(next) => after_login(Some(next)),
        None => query.with(|query| after_login(query.get_str("next"))),
    });
    let action = Action::new_local(move |credentials: &Credentials| {
        let credentials = credentials.clone();
        async move {
            match purpose {
                CredentialsPurpose::LogIn => api.login(credentials).await,
                CredentialsPurpose::Register => api.register(credentials).await,
            }
        }
    });
    // Only a change between signed in and not re-renders the form, so that
    // what was typed survives a confirmation of who is signed in.
    let signed_in = Memo::new(move |_| auth.state.with(|state| state.user().is_some()));
    let refused = StoredValue::new(refused);

    view! {
        <Title text=title/>
        <h1>{title}</h1>
        {move || {
            if signed_in.get() {
                view! { <Redirect path=next.get()/> }.into_any()
            } else {
                let refused = refused.try_update_value(Option::take).flatten();
                view! {
                    <CredentialsForm purpose action next refused/>
                    <p>{other_text} <A href=move || with_next(other_page, &next.get())>{other_link}</A></p>
                }
                    .into_any()
            }
        }}
    }
}
