use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::use_api;
use crate::components::PostForm;
use crate::first_render::{PageData, take_preloaded_posts, take_refusal};
use crate::model::NewPost;
use crate::server_context::FormName;

/// The protected resource: the signed-in person's posts, and a form for a new
/// one. Only reached through `ProtectedRoute`, so someone is signed in.
///
/// The list is in the first HTML (the server preloads it); in the app it is
/// loaded through `/api/posts` when the page is reached by a client-side
/// navigation, and again after each post published.
#[component]
pub fn PostsPage() -> impl IntoView {
    let api = use_api();
    let posts = PageData::new(take_preloaded_posts(), move || api.posts());
    // Not after a failure: a session that just ended has nothing to list.
    let publish = Action::new_local(move |post: &NewPost| {
        let post = post.clone();
        async move {
            let answer = api.create_post(post).await;
            if answer.is_ok() {
                posts.reload();
            }
            answer
        }
    });

    view! {
        <Title text="Your posts"/>
        <h1>"Your posts"</h1>
        <PostForm publish refused=take_refusal(FormName::Publish)/>
        <section aria-labelledby="posts-heading">
            <h2 id="posts-heading">"Published"</h2>
            {move || match posts.get() {
                None => view! { <p class="muted">"Loading your posts…"</p> }.into_any(),
                Some(Ok(posts)) if posts.is_empty() => {
                    view! { <p class="muted">"No posts yet."</p> }.into_any()
                }
                Some(Ok(posts)) => {
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
                Some(Err(error)) => {
                    view! { <p role="alert" class="error">{error.to_string()}</p> }.into_any()
                }
            }}
        </section>
    }
}
