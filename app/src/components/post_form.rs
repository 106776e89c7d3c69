use leptos::prelude::*;

use super::{ApiForm, Fields};
use crate::api::ClientError;
use crate::domain::{PostBody, PostTitle};
use crate::first_render::refilled;
use crate::model::{NewPost, Post};
use crate::server_context::FormRefusal;

/// Writes a new post. Checked with the server's own rules before sending; a
/// published post leaves an empty form for the next one.
#[component]
pub fn PostForm(
    /// Sends the post; its value is the server's answer.
    publish: Action<NewPost, Result<Post, ClientError>>,
    /// The server's refusal, when this page was rendered again because of it.
    refused: Option<FormRefusal>,
) -> impl IntoView {
    let title = refilled(refused.as_ref(), "title");
    let body = refilled(refused.as_ref(), "body");
    let pending = publish.pending();
    view! {
        <ApiForm
            address="/posts"
            action=publish
            check=new_post
            refused
            clear_on_success=&["title", "body"]
        >
            <label>
                "Title"
                <input type="text" name="title" required value=title/>
            </label>
            // Named by the span alone: a label's name would include what the
            // text area holds.
            <label>
                <span id="post-body-label">"Body"</span>
                <textarea name="body" rows="4" aria-labelledby="post-body-label">
                    {body}
                </textarea>
            </label>
            <button type="submit" disabled=move || pending.get()>
                "Publish"
            </button>
        </ApiForm>
    }
}

/// In the server's order: the title, then the body.
fn new_post(fields: &Fields) -> Result<NewPost, String> {
    let title = PostTitle::parse(fields.get("title")).map_err(|problem| problem.to_string())?;
    let body = PostBody::parse(fields.get("body")).map_err(|problem| problem.to_string())?;
    Ok(NewPost {
        title: title.as_ref().to_owned(),
        body: body.as_ref().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_is_held_to_the_servers_rules_in_its_words() {
        let post = |title: &str, body: &str| {
            new_post(&Fields::from_pairs([("title", title), ("body", body)]))
        };
        assert_eq!(post("", "text").unwrap_err(), "Give the post a title.");
        assert!(post("A title", &"b".repeat(10_001)).is_err());
        let ok = post("A title", "").unwrap();
        assert_eq!((ok.title.as_str(), ok.body.as_str()), ("A title", ""));
    }
}
