use leptos::prelude::*;

use super::state::{AuthEvent, AuthState};
use super::tabs;

/// What the server learned from the request's access cookie before rendering.
/// The server provides it per request; the browser never constructs it.
#[derive(Clone, Debug)]
pub struct ServerAuth(pub AuthState);

/// The auth context, provided once at the root of the app.
///
/// Pages read [`AuthContext::state`]. Only the API client and the auth forms
/// change it, and only through [`AuthContext::apply`], so every change goes
/// through the one tested state machine and reaches the other tabs.
#[derive(Clone, Copy, Debug)]
pub struct AuthContext {
    pub state: ReadSignal<AuthState>,
    write: WriteSignal<AuthState>,
}

impl AuthContext {
    /// Moves to the state after `event`, and tells the other tabs if it is
    /// news for them.
    pub(crate) fn apply(&self, event: AuthEvent) {
        let next = self.state.with_untracked(|state| state.after(&event));
        // Setting an equal value would still re-render every reader: a
        // confirmation of who is signed in must not make the page flicker.
        if self.state.with_untracked(|state| *state != next) {
            self.write.set(next);
        }
        if let Some(news) = event.news_for_other_tabs() {
            tabs::announce(&news);
        }
    }

    /// For `ProtectedRoute`: `None` while checking.
    pub fn may_enter(&self) -> Option<bool> {
        self.state.with(AuthState::may_enter)
    }
}

/// Seeds the context from what the server knew while rendering; the same value
/// is serialised into the page so that hydration starts from it. In the
/// browser it also starts listening to the other tabs.
///
/// A render without [`ServerAuth`] (none is known to happen: every page
/// route gets one) is "checking", so that the browser asks rather than
/// guesses.
pub fn provide_auth_context() -> AuthContext {
    let initial = SharedValue::new(|| {
        use_context::<ServerAuth>()
            .map(|ServerAuth(state)| state)
            .unwrap_or(AuthState::Checking)
    });
    let (state, write) = signal(initial.into_inner());
    let context = AuthContext { state, write };
    provide_context(context);
    tabs::listen(move |message| context.apply(AuthEvent::FromOtherTab(message)));
    context
}

pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}
