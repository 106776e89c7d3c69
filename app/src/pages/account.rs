use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::use_api;
use crate::auth::use_auth;
use crate::components::{ApiForm, ChangePasswordForm, SessionList, format_date};
use crate::first_render::{PageData, take_preloaded_posts, take_preloaded_sessions, take_refusal};
use crate::model::ChangePassword;
use crate::server_context::FormName;

/// Who you are, what you have written, where you are signed in, and the ways
/// to end those sessions or change the password. Protected, so someone is
/// signed in, and the auth context knows who.
///
/// The sessions are in the first HTML (the server preloads them). What the
/// server did not preload is loaded through the API once the app runs: on a
/// client-side visit after a long pause that is several requests finding the
/// access token expired together, which the client answers with a single
/// refresh.
///
/// Ending this session (log out everywhere, or a refresh refused because
/// another device revoked it) signs the context out, and `ProtectedRoute`
/// then sends the person to log in, with the way back here.
#[component]
pub fn AccountPage() -> impl IntoView {
    let api = use_api();
    let auth = use_auth();
    let posts = PageData::new(take_preloaded_posts(), move || api.posts());
    // Reloaded after each change that ends sessions, so the list shows the
    // server's truth rather than the page's guess.
    let sessions = PageData::new(take_preloaded_sessions(), move || api.sessions());
    let change_password = Action::new_local(move |change: &ChangePassword| {
        let change = change.clone();
        async move {
            let answer = api.change_password(change).await;
            if answer.is_ok() {
                sessions.reload();
            }
            answer
        }
    });
    let logout_all = Action::new_local(move |_: &()| api.logout_all());
    let on_revoked = Callback::new(move |()| sessions.reload());
    let revoke_refused = StoredValue::new(take_refusal(FormName::RevokeSession));

    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        {move || {
            auth.state
                .with(|state| state.user().cloned())
                .map(|user| {
                    view! {
                        <dl class="card">
                            <dt>"Email"</dt>
                            <dd>{user.email}</dd>
                            <dt>"Member since"</dt>
                            <dd>{format_date(&user.created_at)}</dd>
                        </dl>
                    }
                })
        }}
        {move || {
            posts
                .get()
                .map(|loaded| match loaded {
                    Ok(posts) => {
                        let count = match posts.len() {
                            1 => "You have written 1 post.".to_owned(),
                            n => format!("You have written {n} posts."),
                        };
                        view! { <p>{count} " " <A href="/posts">"See your posts"</A></p> }.into_any()
                    }
                    Err(error) => {
                        view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
                    }
                })
        }}

        <section aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            {move || match sessions.get() {
                None => view! { <p class="muted">"Loading your sessions…"</p> }.into_any(),
                Some(Ok(list)) => {
                    let refused = revoke_refused.try_update_value(Option::take).flatten();
                    view! { <SessionList sessions=list on_revoked refused/> }.into_any()
                }
                Some(Err(error)) => {
                    view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
                }
            }}
            <p class="muted">
                "Lost a device, or used a shared computer? End every session, this one included."
            </p>
            <ApiForm
                address="/account/logout-all"
                action=logout_all
                check=|_| Ok(())
                refused=take_refusal(FormName::LogoutAll)
            >
                <button type="submit" class="danger" disabled=move || logout_all.pending().get()>
                    "Log out everywhere"
                </button>
            </ApiForm>
        </section>

        <section aria-labelledby="password-heading">
            <h2 id="password-heading">"Change your password"</h2>
            <p class="muted">"Every other session is signed out when it changes; this one stays."</p>
            <ChangePasswordForm change=change_password refused=take_refusal(FormName::ChangePassword)/>
        </section>
    }
}
