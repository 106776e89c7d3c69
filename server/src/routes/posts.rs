//! `/api/posts`: the protected resource, standing for any API behind the
//! auth server. It trusts the access token alone; no database read for auth.

use app::model::{NewPost, PostResponse, PostsResponse};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::auth::extractor::AuthUser;
use crate::error::{AppJson, Result};
use crate::service;
use crate::state::AppState;

/// Mounted under `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/posts", get(list_posts).post(create_post))
}

async fn list_posts(
    auth: AuthUser,
    State(state): State<AppState>,
) -> Result<AppJson<PostsResponse>> {
    let posts = service::list_posts(&state, auth.user_id).await?;
    Ok(AppJson(PostsResponse { posts }))
}

async fn create_post(
    auth: AuthUser,
    State(state): State<AppState>,
    AppJson(new_post): AppJson<NewPost>,
) -> Result<(StatusCode, AppJson<PostResponse>)> {
    let post = service::publish(&state, auth.user_id, &new_post.title, &new_post.body).await?;
    Ok((StatusCode::CREATED, AppJson(PostResponse { post })))
}
