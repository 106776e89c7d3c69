//! `/api/posts`: the protected resource, standing for any API behind the
//! auth server. It trusts the access token alone; no database read for auth.

use app::domain::{PostBody, PostTitle};
use app::model::{NewPost, Post, PostResponse, PostsResponse};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::Utc;
use uuid::Uuid;

use crate::auth::extractor::AuthUser;
use crate::error::{AppJson, Result};
use crate::state::AppState;
use crate::store::Store;

/// Mounted under `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route("/posts", get(list_posts).post(create_post))
}

async fn list_posts(auth: AuthUser, State(store): State<Store>) -> Result<AppJson<PostsResponse>> {
    let posts = store.list_posts_of_user(auth.user_id).await?;
    Ok(AppJson(PostsResponse { posts }))
}

async fn create_post(
    auth: AuthUser,
    State(store): State<Store>,
    AppJson(new_post): AppJson<NewPost>,
) -> Result<(StatusCode, AppJson<PostResponse>)> {
    let title = PostTitle::parse(&new_post.title)?;
    let body = PostBody::parse(&new_post.body)?;
    let post = Post {
        id: Uuid::new_v4(),
        title: title.as_ref().to_owned(),
        body: body.as_ref().to_owned(),
        created_at: Utc::now(),
    };
    store.insert_post(auth.user_id, &post).await?;
    Ok((StatusCode::CREATED, AppJson(PostResponse { post })))
}
