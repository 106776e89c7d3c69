use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::ClientError;
use crate::domain::Password;
use crate::model::ChangePassword;

/// Changes the password. The new one is held to the server's own rules before
/// sending; only the server can tell whether the current one is right, and its
/// refusal is shown in the same place.
#[component]
pub fn ChangePasswordForm(
    /// Sends the change; its value is the server's answer.
    change: Action<ChangePassword, Result<(), ClientError>>,
) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let local_problem = RwSignal::new(None::<String>);
    let pending = change.pending();

    // A changed password leaves nothing of either behind in the form.
    Effect::new(move |_| {
        if matches!(change.value().get(), Some(Ok(()))) {
            current.set(String::new());
            new.set(String::new());
        }
    });

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        match check(current.get_untracked(), &new.get_untracked()) {
            Ok(body) => {
                local_problem.set(None);
                change.dispatch(body);
            }
            Err(problem) => local_problem.set(Some(problem)),
        }
    };

    let problem = move || {
        local_problem.get().or_else(|| {
            change
                .value()
                .get()
                .and_then(Result::err)
                .map(|error| error.to_string())
        })
    };
    let done = move || {
        (local_problem.with(Option::is_none) && matches!(change.value().get(), Some(Ok(()))))
            .then_some("Password changed. Every other session has been signed out.")
    };

    view! {
        <form method="post" novalidate on:submit=on_submit aria-labelledby="password-heading">
            <label>
                "Current password"
                <input
                    type="password"
                    name="current_password"
                    autocomplete="current-password"
                    required
                    bind:value=current
                />
            </label>
            <label>
                "New password"
                <input
                    type="password"
                    name="new_password"
                    autocomplete="new-password"
                    required
                    bind:value=new
                />
            </label>
            {move || problem().map(|message| view! { <p role="alert" class="error">{message}</p> })}
            // Always there, so screen readers are listening when it fills.
            <p role="status" class="status">{done}</p>
            <button type="submit" disabled=move || pending.get()>
                "Change password"
            </button>
        </form>
    }
}

/// What can be checked before sending: a current password typed (an old one
/// may predate today's rules, so only that) and a new one the server would
/// accept.
fn check(current_password: String, new_password: &str) -> Result<ChangePassword, String> {
    if current_password.is_empty() {
        return Err("Enter your current password.".to_owned());
    }
    let new_password =
        Password::parse(new_password).map_err(|problem| format!("New password: {problem}"))?;
    Ok(ChangePassword {
        current_password,
        new_password: new_password.expose().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_password_is_held_to_the_servers_rules() {
        assert_eq!(
            check("old one".into(), "short").unwrap_err(),
            "New password: Use at least 8 characters."
        );
        assert!(
            check("old one".into(), "password")
                .unwrap_err()
                .contains("most common")
        );
        let change = check("old one".into(), "a perfectly fine passphrase").unwrap();
        assert_eq!(change.current_password, "old one");
        assert_eq!(change.new_password, "a perfectly fine passphrase");
    }

    #[test]
    fn the_current_password_only_has_to_be_typed() {
        assert_eq!(
            check(String::new(), "a perfectly fine passphrase").unwrap_err(),
            "Enter your current password."
        );
        // Short, and common: it may predate the rules. Only the server judges it.
        assert!(check("1234".into(), "a perfectly fine passphrase").is_ok());
    }
}
