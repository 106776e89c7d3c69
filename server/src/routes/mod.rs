//! The HTTP API, one module per resource, each with its own `router()`.

/// `/auth`: register, login, me, refresh, logout.
pub mod auth;
/// The plain-HTML forms of the pages, posted without JavaScript.
pub mod forms;
/// `/healthz`.
pub mod health;
/// `/api/posts`, the protected resource.
pub mod posts;
