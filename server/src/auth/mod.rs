//! Authentication: password hashing, the two kinds of token, the cookies that
//! carry them, the extractor that checks them, and the session flows
//! (start, refresh, end) built from those parts.

/// The two auth cookies and their attributes.
pub mod cookies;
/// The signed device cookie that keeps a person's own devices out of
/// their account's lockout.
pub mod device;
/// Who is asking: `AuthUser` for the API, `LiveUser` for the account.
pub mod extractor;
/// The signing key generated in the data folder when none is configured.
pub mod keys;
/// argon2id hashing off the async threads, with a dummy hash for timing.
pub mod password;
/// Sessions revoked within one access token lifetime, refused by `/api`.
pub mod revoked;
/// Start, refresh (rotation, grace, reuse detection) and end of sessions.
pub mod sessions;
/// Bounded sliding-window limits: failed logins, registrations, unknown refreshes.
pub mod throttle;
/// JWT access tokens and opaque refresh tokens.
pub mod tokens;
