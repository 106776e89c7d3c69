//! Pieces of UI used by more than one page.

mod navbar;

pub use navbar::NavBar;
