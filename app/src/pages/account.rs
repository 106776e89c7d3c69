use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::use_api;

/// Who you are, as the server says right now, and what you have written.
/// Protected, so someone is signed in. Sessions and password change come
/// later.
///
/// Both come from the API when the page opens (browser only), at the same
/// time: after a long pause that is two requests finding the access token
/// expired together, which the client answers with a single refresh.
#[component]
pub fn AccountPage() -> impl IntoView {
    let api = use_api();
    let me = LocalResource::new(move || api.me());
    let posts = LocalResource::new(move || api.posts());

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
                                    <dd>{user.created_at.format("%-d %B %Y").to_string()}</dd>
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
    }
}
