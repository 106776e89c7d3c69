//! The pages' forms, posted as plain HTML (`application/x-www-form-urlencoded`)
//! before the WASM has loaded or without JavaScript at all. Each calls the
//! same flow of `service` as its JSON endpoint and answers `303` to the
//! next page, or renders the form's page again with the refusal beside the
//! form ([`FormRefusal`]), with the status the JSON API would give.
//!
//! Forms that need a session read the access cookie as pages do; the
//! refresh cookie (`Path=/auth`) never reaches them, so an expired token is
//! sent through `/auth/refresh` back to the page, and the post is not
//! replayed.

use std::collections::BTreeMap;

use app::auth::{after_login, login_with_return, with_next};
use app::server_context::{FormName, FormRefusal};
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::extractor::AuthUser;
use crate::error::Error;
use crate::middleware::{BODY_LIMIT_BYTES, is_cross_origin, reject_oversized_body};
use crate::pages::{PageAuth, render_refused_form};
use crate::routes::auth::{clear_cache, see_other, with_sign_in_cookies};
use crate::service::{self, LiveSession, Revoked, SignedIn, Visitor};
use crate::state::AppState;

/// Where the pages' forms post, merged beside the pages (the
/// `GET` of `/login`, `/register` and `/posts` is the page itself).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/register",
            post(sign_in).layer(Extension(SignInForm::Register)),
        )
        .route("/login", post(sign_in).layer(Extension(SignInForm::Login)))
        .route("/logout", post(logout))
        .route("/posts", post(publish))
        .route("/account/sessions/revoke", post(revoke_session))
        .route("/account/logout-all", post(logout_all))
        .route("/account/password", post(change_password))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(reject_oversized_body))
        .layer(middleware::from_fn(refuse_cross_origin_form))
}

/// Fields are optional on the wire: a field left out is refused by the
/// flow's own validation, with the message the person would see anyway.
#[derive(Default, Deserialize)]
#[serde(default)]
struct CredentialsForm {
    email: String,
    password: String,
    next: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PostForm {
    title: String,
    body: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RevokeForm {
    id: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// A body that is not a form at all is the JSON API's `400 invalid_body`
/// (or `415`); no page has such a form, so there is nothing to re-render.
type Posted<T> = Result<Form<T>, FormRejection>;

fn fields<T>(posted: Posted<T>) -> Result<T, Detour> {
    posted.map(|Form(form)| form).map_err(|rejection| {
        Detour::from(match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType,
            StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
            _ => Error::InvalidBody,
        })
    })
}

/// A form that was not acted on, with the answer already decided: a
/// redirect to log in or to refresh, or an error. Boxed: it is the rare
/// path, and a `Response` is large.
struct Detour(Box<Response>);

impl From<Response> for Detour {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl From<Error> for Detour {
    fn from(error: Error) -> Self {
        error.into_response().into()
    }
}

impl IntoResponse for Detour {
    fn into_response(self) -> Response {
        *self.0
    }
}

type Answer = Result<Response, Detour>;

/// Register or login: the flow's answer, and on a refusal the form's page
/// again with the email and `next` refilled (never the password).
async fn sign_in(
    State(state): State<AppState>,
    Extension(sign_in): Extension<SignInForm>,
    visitor: Visitor,
    headers: HeaderMap,
    jar: CookieJar,
    form: Posted<CredentialsForm>,
) -> Answer {
    let CredentialsForm {
        email,
        password,
        next,
    } = fields(form)?;
    Ok(
        match sign_in.flow(&state, &visitor, &email, password).await {
            Ok(signed) => {
                let (jar, _) = with_sign_in_cookies(&state, jar, visitor.device, signed);
                let next = after_login(Some(next.as_str()).filter(|next| !next.is_empty()));
                (jar, see_other(&next)).into_response()
            }
            Err(error) => {
                let (path, name) = sign_in.page(&next);
                let page = FormPage::new(&state, headers, path, name);
                page.refuse(error, vec![("email", email), ("next", next)])
                    .await
            }
        },
    )
}

/// Logout ends the session of the refresh cookie, which only `/auth` sees:
/// `307` keeps the method and the (empty) form body, so the browser posts
/// the same form to `/auth/logout`, which answers a form with `303` to `/`.
async fn logout() -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [
            (header::LOCATION, HeaderValue::from_static("/auth/logout")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

async fn publish(
    State(state): State<AppState>,
    SignedInForm(session, form, page): SignedInForm<PostForm>,
) -> Response {
    match service::publish(&state, session.user.id, &form.title, &form.body).await {
        Ok(_) => see_other(PostForm::PAGE),
        Err(error) => {
            let values = vec![("title", form.title), ("body", form.body)];
            page.refuse(error, values).await
        }
    }
}

async fn revoke_session(
    State(state): State<AppState>,
    jar: CookieJar,
    SignedInForm(session, form, page): SignedInForm<RevokeForm>,
) -> Response {
    match service::revoke_session(&state, &session, &form.id).await {
        Ok(Revoked::ThisSession) => signed_out(&state, jar),
        Ok(Revoked::Another) => see_other(RevokeForm::PAGE),
        Err(error) => page.refuse(error, vec![]).await,
    }
}

/// The form has no fields, so its body is not read at all.
async fn logout_all(State(state): State<AppState>, headers: HeaderMap, jar: CookieJar) -> Answer {
    let page = FormPage::new(&state, headers, "/account".into(), FormName::LogoutAll);
    let session = page.session().await?;
    Ok(match service::logout_all(&state, &session).await {
        Ok(()) => signed_out(&state, jar),
        Err(error) => page.refuse(error, vec![]).await,
    })
}

async fn change_password(
    State(state): State<AppState>,
    SignedInForm(session, form, page): SignedInForm<PasswordForm>,
) -> Response {
    let auth = AuthUser {
        user_id: session.user.id,
        session_id: session.session_id,
    };
    match service::change_password(&state, auth, form.current_password, &form.new_password).await {
        Ok(()) => see_other(PasswordForm::PAGE),
        Err(error) => page.refuse(error, vec![]).await,
    }
}

/// The page a form is on, to answer it from: where a refusal renders again
/// and which of the page's forms it was.
struct FormPage {
    state: AppState,
    headers: HeaderMap,
    path: String,
    form: FormName,
}

impl FormPage {
    fn new(state: &AppState, headers: HeaderMap, path: String, form: FormName) -> Self {
        Self {
            state: state.clone(),
            headers,
            path,
            form,
        }
    }

    /// The live session the form acts for, or where to send the person
    /// instead: to log in (no cookie, or a refused one, whose cookies are
    /// cleared), or through the navigation refresh back to the form's page
    /// (an expired token; the post is not replayed).
    async fn session(&self) -> Result<LiveSession, Detour> {
        let page = self.path.as_str();
        Err(match PageAuth::of(&self.state, &self.headers).await {
            PageAuth::SignedIn(session) => return Ok(session),
            PageAuth::Expired => see_other(&with_next("/auth/refresh", page)).into(),
            PageAuth::Stranger => see_other(&login_with_return(page)).into(),
            PageAuth::Refused => (
                self.state.cookies.clear_both(CookieJar::new()),
                see_other(&login_with_return(page)),
            )
                .into_response()
                .into(),
            PageAuth::Unknown => {
                Error::Internal(anyhow::anyhow!("could not check the session of a form")).into()
            }
        })
    }

    /// The page again, with the refusal the JSON API would give (same
    /// status, same message) and the non-secret values refilled.
    async fn refuse(&self, error: Error, values: Vec<(&str, String)>) -> Response {
        let (status, error) = error.to_api_error();
        let refusal = FormRefusal {
            form: self.form,
            error,
            values: values
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.to_owned(), value))
                .collect::<BTreeMap<_, _>>(),
        };
        render_refused_form(&self.state, &self.headers, &self.path, status, refusal).await
    }
}

/// A form of a signed-in person's page, and the page it is on.
trait SignedInPageForm: DeserializeOwned {
    const PAGE: &'static str;
    const NAME: FormName;
}

impl SignedInPageForm for PostForm {
    const PAGE: &'static str = "/posts";
    const NAME: FormName = FormName::Publish;
}

impl SignedInPageForm for RevokeForm {
    const PAGE: &'static str = "/account";
    const NAME: FormName = FormName::RevokeSession;
}

impl SignedInPageForm for PasswordForm {
    const PAGE: &'static str = "/account";
    const NAME: FormName = FormName::ChangePassword;
}

/// The two forms that sign a person in, which differ only in the page
/// they are on and the flow of `service` they call; each route says which
/// it is (`Extension`).
#[derive(Clone, Copy)]
enum SignInForm {
    Register,
    Login,
}

impl SignInForm {
    fn page(self, next: &str) -> (String, FormName) {
        match self {
            Self::Register => (with_next("/register", next), FormName::Register),
            Self::Login => (with_next("/login", next), FormName::Login),
        }
    }

    async fn flow(
        self,
        state: &AppState,
        visitor: &Visitor,
        email: &str,
        password: String,
    ) -> Result<SignedIn, Error> {
        match self {
            Self::Register => service::register(state, visitor, email, &password).await,
            Self::Login => service::login(state, visitor, email, password).await,
        }
    }
}

/// A signed-in person's form, extracted only once the session is known to
/// be live (see [`FormPage::session`]) and the body is a form: the session,
/// the form's fields, and the page to refuse it on.
struct SignedInForm<T>(LiveSession, T, FormPage);

impl<T: SignedInPageForm + Send> FromRequest<AppState> for SignedInForm<T> {
    type Rejection = Detour;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Detour> {
        let headers = request.headers().clone();
        let page = FormPage::new(state, headers, T::PAGE.into(), T::NAME);
        let session = page.session().await?;
        let form = fields(Form::<T>::from_request(request, state).await)?;
        Ok(Self(session, form, page))
    }
}

/// This session (or all of them) ended: cookies cleared, home, and the
/// pages the browser cached for the signed-in person dropped.
fn signed_out(state: &AppState, jar: CookieJar) -> Response {
    (clear_cache(), state.cookies.clear_both(jar), see_other("/")).into_response()
}

/// The CSRF rule of the JSON API, answered with a page: a person whose
/// form was refused sees why, not a JSON body.
async fn refuse_cross_origin_form(request: Request, next: Next) -> Response {
    if is_cross_origin(&request) {
        return (StatusCode::FORBIDDEN, Html(CROSS_ORIGIN_PAGE)).into_response();
    }
    next.run(request).await
}

const CROSS_ORIGIN_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Refused</title></head><body><h1>Refused</h1>\
<p>This form was sent from another site. Requests from another origin are not allowed.</p>\
<p><a href=\"/\">Go to the home page</a></p></body></html>\n";
