use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{ClientError, use_api};
use crate::components::{ChangePasswordForm, SessionList, format_date};
use crate::model::{ChangePassword, ErrorCode, Id};

/// Who you are, as the server says right now, what you have written, where
/// you are signed in, and the ways to end those sessions or change the
/// password. Protected, so someone is signed in.
///
/// Everything comes from the API when the page opens (browser only), at the
/// same time: after a long pause that is several requests finding the access
/// token expired together, which the client answers with a single refresh.
///
/// Ending this session (log out everywhere, or a refresh refused because
/// another device revoked it) signs the context out, and `ProtectedRoute`
/// then sends the person to log in, with the way back here.
#[component]
pub fn AccountPage() -> impl IntoView {
    let api = use_api();
    let me = LocalResource::new(move || api.me());
    let posts = LocalResource::new(move || api.posts());

    // The list is reloaded after each change that ends sessions, so it shows
    // the server's truth rather than the page's guess.
    let sessions_changed = Trigger::new();
    let sessions = LocalResource::new(move || {
        sessions_changed.track();
        api.sessions()
    });
    let revoke = Action::new_local(move |id: &Id| {
        let id = Id::clone(id);
        async move {
            let answer = match api.revoke_session(id).await {
                // Gone already (it expired, or another device ended it): what
                // the person asked for is true, and the list was stale.
                Err(ClientError::Api(error)) if error.error == ErrorCode::NotFound => Ok(()),
                answer => answer,
            };
            if answer.is_ok() {
                sessions_changed.notify();
            }
            answer
        }
    });
    let change_password = Action::new_local(move |change: &ChangePassword| {
        let change = change.clone();
        async move {
            let answer = api.change_password(change).await;
            if answer.is_ok() {
                sessions_changed.notify();
            }
            answer
        }
    });
    let logout_all = Action::new_local(move |_: &()| api.logout_all());

    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading your account…"</p> }>
            {move || {
                me.get()
                    .map(|loaded| match loaded {
                        Ok(user) => {
                            view! {
                                <dl class="card">
                                    <dt>"Email"</dt>
                                    <dd>{user.email}</dd>
                                    <dt>"Member since"</dt>
                                    <dd>{format_date(&user.created_at)}</dd>
                                </dl>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
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
                            view! {
                                <p>{count} " " <A href="/posts">"See your posts"</A></p>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
                        }
                    })
            }}
        </Transition>

        <section aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading your sessions…"</p> }>
                {move || {
                    sessions
                        .get()
                        .map(|loaded| match loaded {
                            Ok(sessions) => view! { <SessionList sessions revoke/> }.into_any(),
                            Err(error) => {
                                view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
                            }
                        })
                }}
            </Transition>
            {move || {
                revoke
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <p role="alert" class="error">{error.to_string()}</p> })
            }}
            <p class="muted">
                "Lost a device, or used a shared computer? End every session, this one included."
            </p>
            <button
                type="button"
                class="danger"
                disabled=move || logout_all.pending().get()
                on:click=move |_| {
                    logout_all.dispatch(());
                }
            >
                "Log out everywhere"
            </button>
            {move || {
                logout_all
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <p role="alert" class="error">{error.to_string()}</p> })
            }}
        </section>

        <section aria-labelledby="password-heading">
            <h2 id="password-heading">"Change your password"</h2>
            <p class="muted">"Every other session is signed out when it changes; this one stays."</p>
            <ChangePasswordForm change=change_password/>
        </section>
    }
}
