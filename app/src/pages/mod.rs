//! One component per route.

mod account;
mod home;
mod login;
mod not_found;
mod posts;
mod register;

pub use account::*;
pub use home::*;
pub use login::*;
pub use not_found::*;
pub use posts::*;
pub use register::*;
