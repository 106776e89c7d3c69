//! The browser's idea of who is signed in. Tokens never appear here: they live
//! in HttpOnly cookies that no script can read.

mod context;

pub use context::{AuthContext, AuthState, ServerAuth, provide_auth_context, use_auth};
