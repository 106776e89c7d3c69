//! The HTTP API, one module per resource, each with its own `router()`.

/// `/auth`: register, login, me, refresh, logout.
pub mod auth;
/// The plain-HTML forms of the pages, posted without JavaScript.
pub mod forms;
/// `/healthz`.
pub mod health;
/// `/.well-known/jwks.json`, the public keys that verify access tokens.
pub mod jwks;
/// `/api/posts`, the protected resource.
pub mod posts;
