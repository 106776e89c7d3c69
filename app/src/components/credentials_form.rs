use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::ClientError;
use crate::domain::{Email, Password};
use crate::model::{Credentials, User};

/// The email-and-password form of the login and register pages. It checks
/// what it can with the same validators the server uses, so most mistakes
/// are caught before a round trip; the server's own refusal is shown in the
/// same place.
#[component]
pub fn CredentialsForm(
    /// Names the submit button: "Log in" or "Create account".
    submit_label: &'static str,
    /// Holds the password to the rules for a new one (register). A login only
    /// needs one typed: an old password may predate today's rules.
    new_password: bool,
    /// Sends the credentials; its value is the server's answer.
    action: Action<Credentials, Result<User, ClientError>>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let local_problem = RwSignal::new(None::<String>);
    let pending = action.pending();

    let on_submit = move |event: SubmitEvent| {
        // A real <form> keeps Enter-to-submit; the page never reloads.
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let checked = Email::parse(&email.get_untracked())
            .map_err(|problem| problem.to_string())
            .and_then(|email| {
                let password = password.get_untracked();
                let problem = if new_password {
                    Password::parse(&password)
                        .err()
                        .map(|problem| problem.to_string())
                } else if password.is_empty() {
                    Some("Enter your password.".to_owned())
                } else {
                    None
                };
                match problem {
                    Some(problem) => Err(problem),
                    None => Ok(Credentials {
                        email: email.into_inner(),
                        password,
                    }),
                }
            });
        match checked {
            Ok(credentials) => {
                local_problem.set(None);
                action.dispatch(credentials);
            }
            Err(problem) => local_problem.set(Some(problem)),
        }
    };

    let message = move || {
        local_problem.get().or_else(|| {
            action
                .value()
                .get()
                .and_then(Result::err)
                .map(|error| error.to_string())
        })
    };

    view! {
        // `method="post"`: should the form ever be submitted before the app
        // has loaded, the password must not end up in a URL.
        <form method="post" novalidate on:submit=on_submit>
            <label>
                "Email"
                <input type="email" name="email" autocomplete="username" required bind:value=email/>
            </label>
            <label>
                "Password"
                <input
                    type="password"
                    name="password"
                    autocomplete=if new_password { "new-password" } else { "current-password" }
                    required
                    bind:value=password
                />
            </label>
            {move || message().map(|message| view! { <p role="alert" class="error">{message}</p> })}
            <button type="submit" disabled=move || pending.get()>
                {submit_label}
            </button>
        </form>
    }
}
