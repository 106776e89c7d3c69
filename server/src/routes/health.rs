//! `GET /healthz`: answers once the database does.

use app::model::Health;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sqlx::SqlitePool;

use crate::error::{AppJson, Result};
use crate::state::AppState;
use crate::store;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

async fn health(State(pool): State<SqlitePool>) -> Result<AppJson<Health>> {
    store::ping(&pool).await?;
    Ok(AppJson(Health {
        status: "ok".to_owned(),
    }))
}
