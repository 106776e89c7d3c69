//! Pieces of UI used by more than one page.

mod checking_session;
mod credentials_form;
mod navbar;
mod post_form;

pub use checking_session::*;
pub use credentials_form::*;
pub use navbar::*;
pub use post_form::*;
