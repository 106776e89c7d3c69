use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::use_api;
use crate::components::PostForm;
use crate::model::NewPost;

/// The protected resource: the signed-in person's posts, and a form for a new
/// one. Only reached through `ProtectedRoute`, so someone is signed in.
///
/// The list is a `LocalResource`: it loads in the browser only, so rendering
/// on the server never calls the API client (which has no cookies to send).
#[component]
pub fn PostsPage() -> impl IntoView {
    let api = use_api();
    // Reloads after each post published, so the list is the server's truth.
    // Not after a failure: a session that just ended has nothing to list.
    let published = Trigger::new();
    let publish = Action::new_local(move |post: &NewPost| {
        let post = post.clone();
        async move {
            let answer = api.create_post(post).await;
            if answer.is_ok() {
                published.notify();
            }
            answer
        }
    });
    let posts = LocalResource::new(move || {
        published.track();
        api.posts()
    });

    view! {
        <Title text="Your posts"/>
        <h1>"Your posts"</h1>
        <PostForm publish/>
        <section aria-labelledby="posts-heading">
            <h2 id="posts-heading">"Published"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading your posts…"</p> }>
                {move || {
                    posts
                        .get()
                        .map(|loaded| match loaded {
                            Ok(posts) if posts.is_empty() => {
                                view! { <p class="muted">"No posts yet."</p> }.into_any()
                            }
                            Ok(posts) => {
                                view! {
                                    <ul class="posts" aria-label="Your posts">
                                        {posts
                                            .into_iter()
                                            .map(|post| {
                                                view! {
                                                    <li class="card">
                                                        <h3>{post.title}</h3>
                                                        <p>{post.body}</p>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}
