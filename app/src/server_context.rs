//! What the server hands to rendering for one request, beside who is signed
//! in ([`crate::auth::ServerAuth`]): the data a page shows, read before the
//! page is rendered so that the first HTML carries it, and the refusal of a
//! form that was posted without JavaScript. The server provides these per
//! request; the browser never constructs them, it receives them serialised
//! into the page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{ApiError, Post, SessionInfo};

/// The data of the page being rendered, read by the server for a signed-in
/// person before rendering.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePreload {
    /// On `/posts`: the person's posts, newest first.
    pub posts: Option<Vec<Post>>,
    /// On `/account`: their live sessions, newest first.
    pub sessions: Option<Vec<SessionInfo>>,
}

/// The pages' forms, each of which also works as a plain HTML form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormName {
    Register,
    Login,
    Logout,
    Publish,
    RevokeSession,
    LogoutAll,
    ChangePassword,
}

/// A form posted without JavaScript that the server refused. The page is
/// rendered again with `error.message` beside the form, worded exactly as
/// the hydrated app shows the same refusal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormRefusal {
    pub form: FormName,
    pub error: ApiError,
    /// What the person had typed, to fill the form in again. Never a
    /// password.
    pub values: BTreeMap<String, String>,
}
