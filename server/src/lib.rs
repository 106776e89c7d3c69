//! The auth server as a library: `main.rs` and the integration tests both
//! start it through [`startup::Application`].

pub mod startup;
pub mod telemetry;
