use leptos::prelude::*;

use super::{ApiForm, Fields};
use crate::api::ClientError;
use crate::domain::Password;
use crate::model::ChangePassword;
use crate::server_context::FormRefusal;

/// Changes the password. The new one is held to the server's own rules
/// before sending, worded as the server words them; only the server can
/// tell whether the current one is right.
#[component]
pub fn ChangePasswordForm(
    /// Sends the change; its value is the server's answer.
    change: Action<ChangePassword, Result<(), ClientError>>,
    /// The server's refusal, when this page was rendered again because of it.
    refused: Option<FormRefusal>,
) -> impl IntoView {
    let pending = change.pending();
    let done = move || {
        matches!(change.value().get(), Some(Ok(())))
            .then_some("Password changed. Every other session has been signed out.")
    };
    view! {
        // A changed password leaves nothing of either behind in the form.
        <ApiForm
            address="/account/password"
            action=change
            check=password_change
            refused
            clear_on_success=&["current_password", "new_password"]
            labelled_by="password-heading"
        >
            <label>
                "Current password"
                <input
                    type="password"
                    name="current_password"
                    autocomplete="current-password"
                    required
                />
            </label>
            <label>
                "New password"
                <input type="password" name="new_password" autocomplete="new-password" required/>
            </label>
            // Always there, so screen readers are listening when it fills.
            <p role="status" class="status">{done}</p>
            <button type="submit" disabled=move || pending.get()>
                "Change password"
            </button>
        </ApiForm>
    }
}

/// The server checks the new password first, then the current one; only the
/// first can be judged here, and it is worded as the server words it (the
/// form has two passwords, so the sentence says which).
fn password_change(fields: &Fields) -> Result<ChangePassword, String> {
    let new_password = fields.get("new_password");
    Password::parse(new_password).map_err(|problem| format!("New password: {problem}"))?;
    Ok(ChangePassword {
        current_password: fields.get("current_password").to_owned(),
        new_password: new_password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(current: &str, new: &str) -> Result<ChangePassword, String> {
        password_change(&Fields::from_pairs([
            ("current_password", current),
            ("new_password", new),
        ]))
    }

    #[test]
    fn the_new_password_is_held_to_the_servers_rules_in_its_words() {
        assert_eq!(
            change("old one", "short").unwrap_err(),
            "New password: Use at least 8 characters."
        );
        assert!(
            change("old one", "password")
                .unwrap_err()
                .contains("most common")
        );
        let ok = change("old one", "a perfectly fine passphrase").unwrap();
        assert_eq!(ok.current_password, "old one");
        assert_eq!(ok.new_password, "a perfectly fine passphrase");
    }

    #[test]
    fn the_current_password_is_judged_by_the_server_alone() {
        // Empty, short, common: it may predate the rules, or be wrong. The
        // server says which, in the one message for both.
        assert!(change("", "a perfectly fine passphrase").is_ok());
        assert!(change("1234", "a perfectly fine passphrase").is_ok());
    }
}
