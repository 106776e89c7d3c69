//! The auth state and every way it changes, as plain data and pure functions,
//! so the transitions are tested on the host.

use serde::{Deserialize, Serialize};

use crate::model::User;

/// Who is signed in, as far as this page knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthState {
    /// Not known yet: the page was rendered for a request that was not a
    /// navigation (a prefetch, a fetch) whose access token had expired, so
    /// the server left the refresh to the browser. Pages show a neutral
    /// "checking your session" state, never the signed-out UI, until
    /// `/auth/me` settles it. A navigation never renders this: the server
    /// refreshes it on the way (`GET /auth/refresh?next=…`).
    Checking,
    SignedIn(User),
    SignedOut,
}

impl AuthState {
    pub fn user(&self) -> Option<&User> {
        match self {
            Self::SignedIn(user) => Some(user),
            _ => None,
        }
    }

    /// The shape `ProtectedRoute` wants: `None` while checking, so protected
    /// pages wait instead of bouncing a signed-in person to the login page.
    pub fn may_enter(&self) -> Option<bool> {
        match self {
            Self::SignedIn(_) => Some(true),
            Self::SignedOut => Some(false),
            Self::Checking => None,
        }
    }

    /// The state after `event`.
    pub fn after(&self, event: &AuthEvent) -> Self {
        match event {
            AuthEvent::Confirmed(user)
            | AuthEvent::LoggedIn(user)
            | AuthEvent::FromOtherTab(TabMessage::SignedIn { user }) => {
                Self::SignedIn(user.clone())
            }
            AuthEvent::LoggedOut
            | AuthEvent::SessionEnded
            | AuthEvent::NoSession
            | AuthEvent::FromOtherTab(TabMessage::SignedOut) => Self::SignedOut,
            // Offline is not signed out: keep what we had (and keep checking).
            AuthEvent::Unreachable => self.clone(),
        }
    }
}

/// Something that tells us who is signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthEvent {
    /// `/auth/me` or `/auth/refresh` answered with this user.
    Confirmed(User),
    /// This tab logged in or registered.
    LoggedIn(User),
    /// This tab logged out.
    LoggedOut,
    /// The server refused to refresh: the session was revoked, expired, or its
    /// refresh token reused.
    SessionEnded,
    /// The check of a "checking" page found nobody signed in without any
    /// refresh being refused (no access cookie after all). Unlike
    /// [`AuthEvent::SessionEnded`] this is no news for other tabs: a page
    /// loading in one tab must not sign out another that is logging in.
    NoSession,
    /// The server could not be asked.
    Unreachable,
    /// Another tab of this site said so.
    FromOtherTab(TabMessage),
}

impl AuthEvent {
    /// What to tell the other tabs, if anything. What came from another tab
    /// is never sent on (no echoes), and a mere confirmation is no news.
    pub fn news_for_other_tabs(&self) -> Option<TabMessage> {
        match self {
            Self::LoggedIn(user) => Some(TabMessage::SignedIn { user: user.clone() }),
            Self::LoggedOut | Self::SessionEnded => Some(TabMessage::SignedOut),
            Self::Confirmed(_) | Self::NoSession | Self::Unreachable | Self::FromOtherTab(_) => {
                None
            }
        }
    }
}

/// A message between tabs of this site over a `BroadcastChannel`. It never
/// carries a token (the page has none to give): only who is signed in now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TabMessage {
    SignedIn { user: User },
    SignedOut,
}

impl TabMessage {
    pub fn to_json(&self) -> String {
        // An enum of strings and a `User` of strings: this cannot fail, and
        // an empty message would silently leave the other tabs behind.
        serde_json::to_string(self).expect("a tab message serialises to JSON")
    }

    /// `None` for anything that is not one of ours.
    pub fn from_json(raw: &str) -> Option<Self> {
        serde_json::from_str(raw).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ada;

    #[test]
    fn checking_becomes_the_truth_once_known() {
        assert_eq!(
            AuthState::Checking.after(&AuthEvent::Confirmed(ada())),
            AuthState::SignedIn(ada())
        );
        assert_eq!(
            AuthState::Checking.after(&AuthEvent::SessionEnded),
            AuthState::SignedOut
        );
    }

    #[test]
    fn being_offline_signs_nobody_out() {
        for state in [
            AuthState::Checking,
            AuthState::SignedIn(ada()),
            AuthState::SignedOut,
        ] {
            assert_eq!(state.after(&AuthEvent::Unreachable), state);
        }
    }

    #[test]
    fn other_tabs_can_sign_this_one_in_and_out() {
        let signed_in =
            AuthState::SignedOut.after(&AuthEvent::FromOtherTab(TabMessage::SignedIn {
                user: ada(),
            }));
        assert_eq!(signed_in, AuthState::SignedIn(ada()));
        assert_eq!(
            signed_in.after(&AuthEvent::FromOtherTab(TabMessage::SignedOut)),
            AuthState::SignedOut
        );
    }

    #[test]
    fn protected_pages_wait_while_checking() {
        assert_eq!(AuthState::Checking.may_enter(), None);
        assert_eq!(AuthState::SignedOut.may_enter(), Some(false));
        assert_eq!(AuthState::SignedIn(ada()).may_enter(), Some(true));
    }

    #[test]
    fn only_this_tabs_own_changes_are_news_for_the_others() {
        assert_eq!(
            AuthEvent::LoggedIn(ada()).news_for_other_tabs(),
            Some(TabMessage::SignedIn { user: ada() })
        );
        assert_eq!(
            AuthEvent::LoggedOut.news_for_other_tabs(),
            Some(TabMessage::SignedOut)
        );
        assert_eq!(
            AuthEvent::SessionEnded.news_for_other_tabs(),
            Some(TabMessage::SignedOut)
        );
        assert_eq!(AuthEvent::Confirmed(ada()).news_for_other_tabs(), None);
        assert_eq!(AuthEvent::NoSession.news_for_other_tabs(), None);
        assert_eq!(
            AuthEvent::FromOtherTab(TabMessage::SignedOut).news_for_other_tabs(),
            None
        );
    }

    #[test]
    fn tab_messages_round_trip_and_ignore_strangers() {
        let message = TabMessage::SignedIn { user: ada() };
        assert_eq!(TabMessage::from_json(&message.to_json()), Some(message));
        assert_eq!(TabMessage::SignedOut.to_json(), r#"{"type":"signed_out"}"#);
        assert_eq!(TabMessage::from_json(r#"{"type":"something_else"}"#), None);
        assert_eq!(TabMessage::from_json("not json"), None);
    }
}
