//! Domain types that validate when parsed. They are compiled into both the
//! server and the browser, so a form rejects exactly what the server would.

mod email;
mod password;
mod post;

pub use email::{Email, InvalidEmail};
pub use password::{Password, WeakPassword};
pub use post::{InvalidPost, PostBody, PostTitle};
