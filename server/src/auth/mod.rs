//! Authentication: password hashing, the two kinds of token, the cookies that
//! carry them, the extractor that checks them, and the session flows
//! (start, refresh, end) built from those parts.

pub mod cookies;
pub mod extractor;
pub mod keys;
pub mod password;
pub mod sessions;
pub mod throttle;
pub mod tokens;
