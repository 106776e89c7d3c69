use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::User;

/// Who is signed in, as far as this page knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthState {
    /// Not known yet: the access token had expired when the page was rendered
    /// and the browser has not refreshed it yet. Pages show a neutral
    /// "checking your session" state, never the signed-out UI.
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
}

/// What the server learned from the request's access cookie before rendering.
/// The server provides it per request; the browser never constructs it.
#[derive(Clone, Debug)]
pub struct ServerAuth(pub AuthState);

/// The auth context, provided once at the root of the app.
#[derive(Clone, Copy, Debug)]
pub struct AuthContext {
    pub state: RwSignal<AuthState>,
}

/// Seeds the context from what the server knew while rendering; the same value
/// is serialised into the page so that hydration starts from it.
pub fn provide_auth_context() -> AuthContext {
    let initial = SharedValue::new(|| {
        use_context::<ServerAuth>()
            .map(|ServerAuth(state)| state)
            .unwrap_or(AuthState::Checking)
    });
    let context = AuthContext {
        state: RwSignal::new(initial.into_inner()),
    };
    provide_context(context);
    context
}

pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}
