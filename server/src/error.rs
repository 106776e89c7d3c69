//! The one error type of every handler, turned into the contract's JSON body
//! `{ "error", "message" }` at the edge. Internal causes are logged with
//! their chain and never shown.

use std::time::Duration;

use app::model::{ApiError, ErrorCode, TOKEN_EXPIRED_CHALLENGE};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// `Result` with this module's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request can fail with. Each variant's doc names its status
/// and wire code.
#[derive(thiserror::Error)]
pub enum Error {
    /// 400 `invalid_email`, with the validator's message.
    #[error("{0}")]
    InvalidEmail(String),
    /// 400 `weak_password`, with the validator's message.
    #[error("{0}")]
    WeakPassword(String),
    /// 400 `invalid_post`, with the validator's message.
    #[error("{0}")]
    InvalidPost(String),
    /// 400 `invalid_body`: not JSON, or JSON of the wrong shape.
    #[error("The request body is not valid JSON of the expected shape.")]
    InvalidBody,
    /// 413 `payload_too_large`: over the 16 KiB body limit.
    #[error("The request body is too large.")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: the body is not `application/json`.
    #[error("Send the body as application/json.")]
    UnsupportedMediaType,
    /// 409 `email_taken`.
    #[error("An account with this email already exists.")]
    EmailTaken,
    /// 401 `invalid_credentials`: one answer for an unknown email and a wrong
    /// password, so that it reveals neither.
    #[error("The email or password is wrong.")]
    InvalidCredentials,
    /// 429 `rate_limited`, with `Retry-After`.
    #[error("Too many failed attempts. Try again later.")]
    RateLimited { retry_after: Duration },
    /// 401 `token_expired`, with `WWW-Authenticate: token_expired`: the
    /// client's signal to call `/auth/refresh`.
    #[error("The access token has expired.")]
    TokenExpired,
    /// 401 `unauthenticated`: no access token.
    #[error("Sign in to continue.")]
    Unauthenticated,
    /// 401 `invalid_token`: a malformed or forged access token.
    #[error("The access token is not valid.")]
    InvalidToken,
    /// 401 `refresh_token_reused`: a rotated refresh token came back after
    /// the grace window; the session has been revoked.
    #[error("This session was ended because its refresh token was used twice.")]
    RefreshTokenReused,
    /// 401 `invalid_refresh_token`: missing, unknown or expired token, or a
    /// revoked or expired session.
    #[error("The session is no longer valid. Sign in again.")]
    InvalidRefreshToken,
    /// 403 `cross_origin_request`.
    #[error("Requests from another origin are not allowed.")]
    CrossOriginRequest,
    /// 404 `not_found`.
    #[error("Nothing here.")]
    NotFound,
    /// 408 `request_timeout`: not answered within `REQUEST_TIMEOUT_SECS`.
    #[error("The request took too long. Try again.")]
    RequestTimeout,
    /// 503 `server_busy`, with `Retry-After`: too many passwords are
    /// waiting to be hashed.
    #[error("The server is busy. Try again in a moment.")]
    ServerBusy { retry_after: Duration },
    /// 405 `method_not_allowed`.
    #[error("This method is not allowed here.")]
    MethodNotAllowed,
    /// 500 `internal`: the store failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// 500 `internal`: anything else that is our fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidEmail(_)
            | Self::WeakPassword(_)
            | Self::InvalidPost(_)
            | Self::InvalidBody => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::InvalidCredentials
            | Self::TokenExpired
            | Self::Unauthenticated
            | Self::InvalidToken
            | Self::RefreshTokenReused
            | Self::InvalidRefreshToken => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::CrossOriginRequest => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::ServerBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidEmail(_) => ErrorCode::InvalidEmail,
            Self::WeakPassword(_) => ErrorCode::WeakPassword,
            Self::InvalidPost(_) => ErrorCode::InvalidPost,
            Self::InvalidBody => ErrorCode::InvalidBody,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::EmailTaken => ErrorCode::EmailTaken,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::RefreshTokenReused => ErrorCode::RefreshTokenReused,
            Self::InvalidRefreshToken => ErrorCode::InvalidRefreshToken,
            Self::CrossOriginRequest => ErrorCode::CrossOriginRequest,
            Self::NotFound => ErrorCode::NotFound,
            Self::RequestTimeout => ErrorCode::RequestTimeout,
            Self::ServerBusy { .. } => ErrorCode::ServerBusy,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::Database(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Walks the `source()` chain so a log line shows the root cause.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl Error {
    /// The status and body the JSON API answers with. A plain-HTML form
    /// shows the same refusal beside the form, with the same status.
    /// Internal errors are logged here, once, and hidden.
    pub fn to_api_error(&self) -> (StatusCode, ApiError) {
        let status = self.status_code();
        let message = if matches!(self, Self::Database(_) | Self::Internal(_)) {
            tracing::error!(error = ?self, "request failed");
            "Something went wrong on our side. Try again later.".to_owned()
        } else {
            self.to_string()
        };
        (status, ApiError::new(self.code(), message))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, body) = self.to_api_error();
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::TokenExpired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(TOKEN_EXPIRED_CHALLENGE),
                );
            }
            Self::RateLimited { retry_after } | Self::ServerBusy { retry_after } => {
                // Round up: retrying a fraction of a second early would fail.
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        response
    }
}

/// The validators' refusals, so that handlers parse with a plain `?`; the
/// message is the validator's own.
impl From<app::domain::InvalidEmail> for Error {
    fn from(error: app::domain::InvalidEmail) -> Self {
        Self::InvalidEmail(error.to_string())
    }
}

impl From<app::domain::WeakPassword> for Error {
    fn from(error: app::domain::WeakPassword) -> Self {
        Self::WeakPassword(error.to_string())
    }
}

impl From<app::domain::InvalidPost> for Error {
    fn from(error: app::domain::InvalidPost) -> Self {
        Self::InvalidPost(error.to_string())
    }
}

/// Turns a database refusal the caller expects into the error it means
/// (after launchbadge/realworld-axum-sqlx's `on_constraint`).
pub trait ResultExt<T> {
    /// Maps a unique-constraint violation to `error`; any other failure
    /// stays a database error.
    fn on_unique_violation(self, error: Error) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_unique_violation(self, error: Error) -> Result<T> {
        self.map_err(|failure| match failure {
            sqlx::Error::Database(ref db) if db.is_unique_violation() => error,
            other => Error::Database(other),
        })
    }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Self::InvalidBody,
            // A body that failed to arrive: the client's connection, not us.
            _ => Self::InvalidBody,
        }
    }
}

/// `axum::Json`, but its rejections are our [`Error`], so a bad body gets the
/// contract's JSON error instead of axum's plain-text one, and the body must
/// be a JSON object: serde's derive would also read a struct from an array
/// of its fields in order (`["a@example.com", "password"]`), which the
/// contract counts as the wrong shape, and serde has no setting to refuse it.
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        // The body is read first so that it can be looked at after axum's
        // `Json` has checked the content type and deserialized it.
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
                _ => Error::InvalidBody,
            })?;
        let is_object = bytes
            .iter()
            .find(|byte| !JSON_WHITESPACE.contains(byte))
            .is_some_and(|&first| first == b'{');
        let request = Request::from_parts(parts, Body::from(bytes));
        let Json(value) = Json::<T>::from_request(request, state).await?;
        if is_object {
            Ok(Self(value))
        } else {
            Err(Error::InvalidBody)
        }
    }
}

/// What JSON allows before a value (RFC 8259, section 2).
const JSON_WHITESPACE: &[u8] = b" \t\n\r";

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// Turns a panic in a handler into the contract's `500 internal` instead of a
/// dropped connection (used with tower-http's `CatchPanicLayer`). The panic
/// is logged with its message; the client learns nothing of it.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    Error::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Fallback of `/auth` and `/api`: an unknown route is a JSON 404.
pub async fn not_found() -> Error {
    Error::NotFound
}

/// A known route with the wrong method is a JSON 405.
pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn boom() -> &'static str {
        panic!("secret detail")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_internal_without_details() {
        // Arrange
        let app = Router::new()
            .route("/", get(boom))
            .layer(CatchPanicLayer::custom(panic_response));

        // Act
        let response = app
            .oneshot(http::Request::new(Body::empty()))
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().contains("secret detail"));
    }

    #[tokio::test]
    async fn a_store_error_is_500_internal_and_hides_its_cause() {
        let response = Error::Database(sqlx::Error::RowNotFound).into_response();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().to_lowercase().contains("row"));
    }

    #[test]
    fn the_debug_form_walks_the_cause_chain() {
        let error = Error::Internal(anyhow::anyhow!("root cause").context("outer"));

        let debug = format!("{error:?}");

        assert!(
            debug.contains("outer") && debug.contains("caused by: root cause"),
            "{debug}"
        );
    }
}
