//! Black-box tests of the HTTP contract: each starts the real server on a
//! free port with its own database (SQLite, or PostgreSQL with
//! `TEST_POSTGRES_URL`) and talks to it over HTTP.

mod abuse;
mod assets;
mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod cookies;
mod database;
mod forms;
mod forwarding_proxy;
mod fuzz;
mod headers;
mod helpers;
mod keys;
mod limits;
mod login;
mod logout;
mod me;
mod pages;
mod password;
mod posts;
mod refresh;
mod register;
mod restart;
mod revocation;
mod sessions;
mod slow_clients;
