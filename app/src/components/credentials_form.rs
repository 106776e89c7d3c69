use leptos::prelude::*;

use super::{ApiForm, Fields};
use crate::api::ClientError;
use crate::domain::{Email, Password};
use crate::first_render::refilled;
use crate::model::{Credentials, User};
use crate::server_context::FormRefusal;

/// Which of the two email-and-password forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsPurpose {
    LogIn,
    Register,
}

impl CredentialsPurpose {
    fn address(self) -> &'static str {
        match self {
            Self::LogIn => "/login",
            Self::Register => "/register",
        }
    }

    fn submit_label(self) -> &'static str {
        match self {
            Self::LogIn => "Log in",
            Self::Register => "Create account",
        }
    }
}

/// The email-and-password form of the login and register pages. A new
/// account's email and password are checked with the validators the server
/// uses, so those mistakes are caught before a round trip and worded as the
/// server words them; a login is only judged by the server (an old password
/// may predate today's rules).
#[component]
pub fn CredentialsForm(
    purpose: CredentialsPurpose,
    /// Sends the credentials; its value is the server's answer.
    action: Action<Credentials, Result<User, ClientError>>,
    /// Where to go afterwards, posted along as the hidden `next` field.
    #[prop(into)]
    next: Signal<String>,
    /// The server's refusal, when this page was rendered again because of it.
    refused: Option<FormRefusal>,
) -> impl IntoView {
    let email = refilled(refused.as_ref(), "email");
    let pending = action.pending();
    let check = move |fields: &Fields| credentials_from(purpose, fields);
    view! {
        <ApiForm address=purpose.address() action check refused>
            <input type="hidden" name="next" value=next/>
            <label>
                "Email"
                <input type="email" name="email" autocomplete="username" required value=email/>
            </label>
            <label>
                "Password"
                <input
                    type="password"
                    name="password"
                    autocomplete=match purpose {
                        CredentialsPurpose::LogIn => "current-password",
                        CredentialsPurpose::Register => "new-password",
                    }
                    required
                />
            </label>
            <button type="submit" disabled=move || pending.get()>
                {purpose.submit_label()}
            </button>
        </ApiForm>
    }
}

fn credentials_from(purpose: CredentialsPurpose, fields: &Fields) -> Result<Credentials, String> {
    let (email, password) = (fields.get("email"), fields.get("password"));
    match purpose {
        CredentialsPurpose::LogIn => Ok(Credentials {
            email: email.to_owned(),
            password: password.to_owned(),
        }),
        CredentialsPurpose::Register => {
            // In the server's order: the email first, then the password.
            let email = Email::parse(email).map_err(|problem| problem.to_string())?;
            Password::parse(password).map_err(|problem| problem.to_string())?;
            Ok(Credentials {
                email: email.into_inner(),
                password: password.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(email: &str, password: &str) -> Fields {
        Fields::from_pairs([("email", email), ("password", password)])
    }

    #[test]
    fn a_new_account_is_held_to_the_servers_rules_in_its_words() {
        let register = |email, password| {
            credentials_from(CredentialsPurpose::Register, &fields(email, password))
        };
        assert_eq!(
            register("not an email", "a perfectly fine passphrase").unwrap_err(),
            "Enter a valid email address, like name@example.com."
        );
        assert_eq!(
            register("ada@example.com", "short").unwrap_err(),
            "Use at least 8 characters."
        );
        let credentials = register(" Ada@Example.com ", "a perfectly fine passphrase").unwrap();
        assert_eq!(credentials.email, "ada@example.com");
    }

    #[test]
    fn a_login_is_left_to_the_server() {
        let credentials =
            credentials_from(CredentialsPurpose::LogIn, &fields("anything", "1234")).unwrap();
        assert_eq!(
            (credentials.email.as_str(), credentials.password.as_str()),
            ("anything", "1234")
        );
    }
}
