//! The one way the app talks to `/auth` and `/api`: refreshes expired access
//! tokens behind the caller's back, once per tab however many requests need it,
//! and keeps the auth context true while doing so.
//!
//! [`ApiClient`] is what components use; [`protocol`] is its logic with no
//! browser in it (tested on the host and in WASM).

mod client;
pub mod protocol;

#[cfg(feature = "hydrate")]
mod browser;

pub use client::{ApiClient, provide_api_client, use_api};
pub use protocol::ClientError;
