//! Black-box tests of the HTTP contract: each starts the real server on a
//! free port with its own SQLite file and talks to it over HTTP.

mod bad_input;
mod database;
mod fuzz;
mod headers;
mod helpers;
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
mod sessions;
