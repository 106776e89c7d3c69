//! Several instances of the server on one PostgreSQL database (issue 10):
//! each test starts real `server` processes sharing a fresh database, and
//! a browser that alternates between them with one cookie jar, as behind a
//! load balancer. PostgreSQL only: without `TEST_POSTGRES_URL` every test
//! fails and says how to run it (`scripts/test` does).
//!
//! Not run by a bare `cargo test` (`test = false` in `server/Cargo.toml`);
//! `cargo test -p server --features app/ssr --test instances` runs it.

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod keys;
mod revocation;
mod sessions;
mod throttle;
