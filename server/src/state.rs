//! What every handler may need, cloned into each request.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::auth::cookies::AuthCookies;
use crate::auth::device::DeviceCookies;
use crate::auth::password::PasswordHasher;
use crate::auth::revoked::RevokedSessions;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::Throttles;
use crate::auth::tokens::TokenService;
use crate::middleware::OriginPolicy;
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
    pub throttle: Arc<Throttles>,
    /// Signs and reads the device cookie that exempts a person's own
    /// devices from their account's lockout.
    pub devices: DeviceCookies,
    /// `MAX_SESSIONS_PER_USER`.
    pub max_sessions_per_user: u32,
    /// Which origin may send state-changing requests (`PUBLIC_ORIGIN`).
    pub origin_policy: Arc<OriginPolicy>,
    pub revoked: Arc<RevokedSessions>,
}
