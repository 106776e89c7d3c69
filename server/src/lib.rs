//! The auth server as a library: `main.rs` and the integration tests both
//! start it through [`startup::Application`].

/// Static files (compressed copies, cache lifetimes) and the 404 page.
pub mod assets;
/// Authentication: passwords, tokens, cookies, the extractor and the session flows.
pub mod auth;
/// Deleting expired and revoked sessions in the background.
pub mod cleanup;
/// The client's address, behind trusted proxies or not.
pub mod client_addr;
/// Settings from the environment.
pub mod config;
/// The error type and its JSON bodies.
pub mod error;
/// Guards shared by the JSON routes (origin check, body size), the request time limit, security headers.
pub mod middleware;
/// Pages rendered for who is really asking, with their data.
pub mod pages;
/// Other instances' revocations, heard over PostgreSQL's `LISTEN`/`NOTIFY`.
pub mod revocation_feed;
/// The HTTP handlers, one module per resource.
pub mod routes;
/// The account and posts flows, shared by the JSON API and the forms.
pub mod service;
/// Building and running the server.
pub mod startup;
/// The router state.
pub mod state;
/// The store's interface; every SQL statement lives in its backend module.
pub mod store;
/// Logging.
pub mod telemetry;
