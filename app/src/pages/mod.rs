//! One component per route.

mod account;
mod credentials;
mod home;
mod not_found;
mod posts;

pub use account::*;
pub use credentials::*;
pub use home::*;
pub use not_found::*;
pub use posts::*;
