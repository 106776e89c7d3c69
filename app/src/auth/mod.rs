//! The browser's idea of who is signed in. Tokens never appear here: they live
//! in HttpOnly cookies that no script can read.

mod context;
mod redirect;
mod state;
mod tabs;

pub use context::{AuthContext, ServerAuth, provide_auth_context, use_auth};
pub use redirect::{after_login, local_path, login_with_return, with_next};
pub use state::{AuthEvent, AuthState, TabMessage};
