//! The HTTP API, one module per resource, each with its own `router()`.

/// `/auth`: register, login, me, refresh, logout.
pub mod auth;
/// `/healthz`.
pub mod health;
/// `/api/posts`, the protected resource.
pub mod posts;
