use std::collections::BTreeMap;

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::api::ClientError;
use crate::server_context::FormRefusal;

/// What a form holds when it is sent: each field's value by name, as the
/// browser would post it. Fields are read when the form is sent, never bound
/// to signals, so that what someone typed before the app loaded survives
/// hydration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        )
    }

    /// The field's value; empty if the form has no such field.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    #[cfg(feature = "hydrate")]
    fn of(form: &web_sys::HtmlFormElement) -> Self {
        use wasm_bindgen::JsCast;
        let mut fields = BTreeMap::new();
        let Ok(data) = web_sys::FormData::new_with_form(form) else {
            return Self(fields);
        };
        if let Ok(Some(entries)) = js_sys::try_iter(&data) {
            for entry in entries.flatten() {
                let pair = entry.unchecked_into::<js_sys::Array>();
                if let (Some(name), Some(value)) =
                    (pair.get(0).as_string(), pair.get(1).as_string())
                {
                    fields.insert(name, value);
                }
            }
        }
        Self(fields)
    }
}

/// Every form of the app, working both ways:
///
/// - as a plain `<form method="post" action=address>`, before the WASM has
///   loaded or without JavaScript: the server answers with the next page, or
///   renders this page again with its refusal, which shows here;
/// - once hydrated, sent through the JSON API instead: `check` reads the
///   fields and holds them to the server's own rules (so its messages are
///   the server's words), then `action` sends them.
///
/// Either way a refusal appears in the same element, with the same text:
/// `<p role="alert" class="error">` at the end of the form.
#[component]
pub fn ApiForm<I, O, C>(
    /// Where the form posts without JavaScript.
    address: &'static str,
    /// Sends the checked input through the JSON API.
    action: Action<I, Result<O, ClientError>>,
    /// Turns the fields into the action's input, or says what is wrong.
    check: C,
    /// The server's refusal of this form, when it rendered the page again
    /// because of it. Shown until the form is sent again.
    #[prop(optional_no_strip)]
    refused: Option<FormRefusal>,
    /// Fields emptied once the action has succeeded (the next post, say).
    #[prop(optional)]
    clear_on_success: &'static [&'static str],
    #[prop(optional)] class: Option<&'static str>,
    #[prop(optional)] labelled_by: Option<&'static str>,
    children: Children,
) -> impl IntoView
where
    I: Send + Sync + 'static,
    O: Send + Sync + 'static,
    C: Fn(&Fields) -> Result<I, String> + 'static,
{
    let form_ref = NodeRef::<html::Form>::new();
    let refused = RwSignal::new(refused.map(|refusal| refusal.error.message));
    let local_problem = RwSignal::new(None::<String>);
    let pending = action.pending();

    let on_submit = move |event: SubmitEvent| {
        // Sent through the API instead; Enter-to-submit and the rest of a
        // real form's behaviour stay.
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        refused.set(None);
        match check(&read_fields(form_ref)) {
            Ok(input) => {
                local_problem.set(None);
                action.dispatch(input);
            }
            Err(problem) => local_problem.set(Some(problem)),
        }
    };

    if !clear_on_success.is_empty() {
        Effect::new(move |_| {
            if action.value().with(|answer| matches!(answer, Some(Ok(_)))) {
                clear_fields(form_ref, clear_on_success);
            }
        });
    }

    let message = move || {
        local_problem
            .get()
            .or_else(|| {
                action.value().with(|answer| {
                    answer
                        .as_ref()
                        .and_then(|answer| answer.as_ref().err())
                        .map(ToString::to_string)
                })
            })
            .or_else(|| refused.get())
    };

    view! {
        <form
            node_ref=form_ref
            method="post"
            action=address
            // The app checks and explains; the browser's own bubbles would
            // say it differently from the server.
            novalidate
            class=class
            aria-labelledby=labelled_by
            on:submit=on_submit
        >
            {children()}
            {move || message().map(|message| view! { <p role="alert" class="error">{message}</p> })}
        </form>
    }
}

#[cfg(feature = "hydrate")]
fn read_fields(form: NodeRef<html::Form>) -> Fields {
    form.get_untracked()
        .map(|form| Fields::of(&form))
        .unwrap_or_default()
}

/// Forms are only sent in the browser.
#[cfg(not(feature = "hydrate"))]
fn read_fields(_form: NodeRef<html::Form>) -> Fields {
    Fields::default()
}

#[cfg(feature = "hydrate")]
fn clear_fields(form: NodeRef<html::Form>, names: &[&str]) {
    use wasm_bindgen::JsCast;
    let Some(form) = form.get_untracked() else {
        return;
    };
    for name in names {
        let Some(field) = form.get_with_name(name) else {
            continue;
        };
        if let Some(input) = field.dyn_ref::<web_sys::HtmlInputElement>() {
            input.set_value("");
        } else if let Some(text) = field.dyn_ref::<web_sys::HtmlTextAreaElement>() {
            text.set_value("");
        }
    }
}

#[cfg(not(feature = "hydrate"))]
fn clear_fields(_form: NodeRef<html::Form>, _names: &[&str]) {}
