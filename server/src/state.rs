//! What every handler may need, cloned into each request.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::auth::cookies::AuthCookies;
use crate::auth::password::PasswordHasher;
use crate::auth::revoked::RevokedSessions;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenService;
use crate::store::Store;

/// The router's state. `FromRef` lets a handler or extractor take just the
/// part it needs (`State<Store>`, `Arc<TokenService>`, ...).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub tokens: Arc<TokenService>,
    pub sessions: Sessions,
    pub passwords: PasswordHasher,
    pub cookies: AuthCookies,
    pub throttle: Arc<LoginThrottle>,
    pub revoked: Arc<RevokedSessions>,
}
