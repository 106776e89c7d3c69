//! Pieces of UI the pages are built from, each with its own state.

mod api_form;
mod change_password_form;
mod checking_session;
mod credentials_form;
mod navbar;
mod post_form;
mod session_list;
mod time;

pub use api_form::*;
pub use change_password_form::*;
pub use checking_session::*;
pub use credentials_form::*;
pub use navbar::*;
pub use post_form::*;
pub use session_list::*;
pub use time::*;
