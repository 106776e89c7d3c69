use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::ClientError;
use crate::domain::{PostBody, PostTitle};
use crate::model::{NewPost, Post};

/// Writes a new post. Checked with the server's own rules before sending.
#[component]
pub fn PostForm(
    /// Sends the post; its value is the server's answer.
    publish: Action<NewPost, Result<Post, ClientError>>,
) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let local_problem = RwSignal::new(None::<String>);
    let pending = publish.pending();

    // A published post leaves an empty form for the next one.
    Effect::new(move |_| {
        if matches!(publish.value().get(), Some(Ok(_))) {
            title.set(String::new());
            body.set(String::new());
        }
    });

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let checked = PostTitle::parse(&title.get_untracked()).and_then(|title| {
            PostBody::parse(&body.get_untracked()).map(|body| NewPost {
                title: title.as_ref().to_owned(),
                body: body.as_ref().to_owned(),
            })
        });
        match checked {
            Ok(post) => {
                local_problem.set(None);
                publish.dispatch(post);
            }
            Err(problem) => local_problem.set(Some(problem.to_string())),
        }
    };

    let message = move || {
        local_problem.get().or_else(|| {
            publish
                .value()
                .get()
                .and_then(Result::err)
                .map(|error| error.to_string())
        })
    };

    view! {
        <form method="post" novalidate on:submit=on_submit>
            <label>
                "Title"
                <input type="text" name="title" required bind:value=title/>
            </label>
            <label>
                "Body"
                <textarea name="body" rows="4" bind:value=body></textarea>
            </label>
            {move || message().map(|message| view! { <p role="alert" class="error">{message}</p> })}
            <button type="submit" disabled=move || pending.get()>
                "Publish"
            </button>
        </form>
    }
}
