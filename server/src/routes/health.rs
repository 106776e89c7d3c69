//! `GET /healthz`: answers once the database does.

use app::model::Health;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::error::{AppJson, Result};
use crate::state::AppState;
use crate::store::Store;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

async fn health(State(store): State<Store>) -> Result<AppJson<Health>> {
    store.ping().await?;
    Ok(AppJson(Health {
        status: "ok".to_owned(),
    }))
}
