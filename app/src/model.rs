//! The types that cross the wire between the server and any client,
//! exactly as `docs/contract.md` spells them.

use serde::{Deserialize, Serialize};

/// An id: a UUID, a string on the wire. The server works with `uuid::Uuid`.
/// The browser only shows ids and puts them back into URLs, so there it keeps
/// the string as it arrived, and the uuid crate stays out of the WASM bundle.
#[cfg(not(target_arch = "wasm32"))]
pub type Id = uuid::Uuid;
/// An id: a UUID, a string on the wire (see the server's definition).
#[cfg(target_arch = "wasm32")]
pub type Id = String;

/// A moment, an RFC 3339 string in UTC on the wire. The server computes with
/// `chrono`. The browser only shows times (`components::format_time`, with the
/// browser's own `Date`), so there it keeps the string as it arrived, and
/// chrono's parser and formatter stay out of the WASM bundle.
#[cfg(not(target_arch = "wasm32"))]
pub type Timestamp = chrono::DateTime<chrono::Utc>;
/// A moment, an RFC 3339 string in UTC (see the server's definition).
#[cfg(target_arch = "wasm32")]
pub type Timestamp = String;

/// A person with an account. Never carries anything secret: no hash, no token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub email: String,
    pub created_at: Timestamp,
}

/// One of a user's posts, the protected resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: Id,
    pub title: String,
    pub body: String,
    pub created_at: Timestamp,
}

/// One login on one device, as `GET /auth/sessions` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: Id,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    /// True for the session whose cookies made this request.
    pub current: bool,
}

/// Body of `POST /auth/register` and `POST /auth/login`. `Debug` leaves the
/// password out, so logging a request body can never leak it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// Body of `POST /auth/password`. `Debug` shows neither password.
#[derive(Clone, Serialize, Deserialize)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePassword")
            .field("current_password", &"<redacted>")
            .field("new_password", &"<redacted>")
            .finish()
    }
}

/// Body of `POST /api/posts`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewPost {
    pub title: String,
    pub body: String,
}

/// `{ "user": User }`, the answer of register, login, me and refresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserResponse {
    pub user: User,
}

/// `{ "post": Post }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostResponse {
    pub post: Post,
}

/// `{ "posts": [Post] }`, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostsResponse {
    pub posts: Vec<Post>,
}

/// `{ "sessions": [SessionInfo] }`, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsResponse {
    pub sessions: Vec<SessionInfo>,
}

/// `{ "status": "ok" }` from `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// The machine-readable half of every error body. Serialised in snake_case,
/// so `ErrorCode::TokenExpired` is `"token_expired"` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidEmail,
    WeakPassword,
    EmailTaken,
    InvalidCredentials,
    RateLimited,
    TokenExpired,
    Unauthenticated,
    InvalidToken,
    RefreshTokenReused,
    InvalidRefreshToken,
    NotFound,
    MethodNotAllowed,
    InvalidPost,
    InvalidBody,
    PayloadTooLarge,
    UnsupportedMediaType,
    CrossOriginRequest,
    /// The request was not answered within the server's time limit.
    RequestTimeout,
    /// The server is too busy to check a password now; retry after `Retry-After`.
    ServerBusy,
    Internal,
    /// A code this build does not know yet; clients treat it as a generic failure.
    #[serde(other)]
    Unknown,
}

/// `{ "error": "snake_case_code", "message": "A sentence a person can read." }`:
/// the one shape of every error of every endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub error: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }
}

/// The value of `WWW-Authenticate` that tells a client to call `/auth/refresh`.
pub const TOKEN_EXPIRED_CHALLENGE: &str = "token_expired";

/// The one user the unit tests of this crate sign in as.
#[cfg(test)]
pub(crate) fn ada() -> User {
    User {
        id: "00000000-0000-0000-0000-000000000000".parse().unwrap(),
        email: "ada@example.com".into(),
        created_at: "1970-01-01T00:00:00Z".parse().unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_snake_case_on_the_wire() {
        let body = ApiError::new(ErrorCode::RefreshTokenReused, "x");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["error"], "refresh_token_reused");
    }

    #[test]
    fn request_bodies_never_show_passwords_in_debug_output() {
        let login = Credentials {
            email: "ada@example.com".into(),
            password: "hunter2-but-longer".into(),
        };
        let change = ChangePassword {
            current_password: "old-secret-value".into(),
            new_password: "new-secret-value".into(),
        };
        let shown = format!("{login:?} {change:?}");
        assert!(shown.contains("ada@example.com"));
        for secret in ["hunter2", "old-secret", "new-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn an_unknown_code_from_a_newer_server_still_parses() {
        let body: ApiError =
            serde_json::from_str(r#"{"error":"brand_new_code","message":"m"}"#).unwrap();
        assert_eq!(body.error, ErrorCode::Unknown);
    }
}
