//! `/api` checks the access token without a database read, yet refuses a
//! revoked session's token at once (contract v2, `GET /api/posts`), and
//! still after a restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Cookies, PASSWORD, TestApp, assert_error, spawn_app, spawn_app_with};

/// Logs in from another device; returns its cookies.
async fn login_elsewhere(app: &TestApp, email: &str) -> Cookies {
    let response = app.login(email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    Cookies::from(&response)
}

/// The id of the session an access token belongs to, as its owner sees it.
async fn session_id_of(app: &TestApp, access: &str) -> String {
    let sessions: Value = app
        .get_with_access("/auth/sessions", access)
        .await
        .json()
        .await
        .unwrap();
    sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn assert_refused(app: &TestApp, access: &str) {
    let response = app.get_with_access("/api/posts", access).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn assert_accepted(app: &TestApp, access: &str) {
    let response = app.get_with_access("/api/posts", access).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn after_logout_the_sessions_access_token_is_refused_by_the_api_also_after_a_restart() {
    // Arrange
    let app = spawn_app().await;
    let access = app.signed_in_user().await.access().value.clone();
    assert_accepted(&app, &access).await;

    // Act
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    assert_refused(&app, &access).await;
    let app = app.restart().await;
    assert_refused(&app, &access).await;
}

#[tokio::test]
async fn after_logout_everywhere_every_sessions_access_token_is_refused_by_the_api() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = login_elsewhere(&app, "ada@example.com").await;
    let laptop = login_elsewhere(&app, "ada@example.com").await;
    app.register("grace@example.com", PASSWORD).await;
    let grace = login_elsewhere(&app, "grace@example.com").await;

    // Act
    let response = reqwest::Client::new()
        .post(app.url("/auth/logout-all"))
        .header(
            reqwest::header::COOKIE,
            format!("access_token={}", laptop.access().value),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    assert_refused(&app, &phone.access().value).await;
    assert_refused(&app, &laptop.access().value).await;
    assert_accepted(&app, &grace.access().value).await;
    let app = app.restart().await;
    assert_refused(&app, &phone.access().value).await;
    assert_refused(&app, &laptop.access().value).await;
    assert_accepted(&app, &grace.access().value).await;
}

#[tokio::test]
async fn a_revoked_sessions_access_token_is_refused_by_the_api_and_the_others_keep_working() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = login_elsewhere(&app, "ada@example.com").await;
    let laptop = login_elsewhere(&app, "ada@example.com").await;
    let phone_session = session_id_of(&app, &phone.access().value).await;

    // Act
    let response = reqwest::Client::new()
        .delete(app.url(&format!("/auth/sessions/{phone_session}")))
        .header(
            reqwest::header::COOKIE,
            format!("access_token={}", laptop.access().value),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    assert_refused(&app, &phone.access().value).await;
    assert_accepted(&app, &laptop.access().value).await;
    let app = app.restart().await;
    assert_refused(&app, &phone.access().value).await;
    assert_accepted(&app, &laptop.access().value).await;
}

#[tokio::test]
async fn after_a_password_change_the_other_sessions_access_tokens_are_refused_by_the_api() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = login_elsewhere(&app, "ada@example.com").await;
    let laptop = login_elsewhere(&app, "ada@example.com").await;

    // Act
    let response = reqwest::Client::new()
        .post(app.url("/auth/password"))
        .header(
            reqwest::header::COOKIE,
            format!("access_token={}", laptop.access().value),
        )
        .json(&json!({
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    assert_refused(&app, &phone.access().value).await;
    assert_accepted(&app, &laptop.access().value).await;
    let app = app.restart().await;
    assert_refused(&app, &phone.access().value).await;
    assert_accepted(&app, &laptop.access().value).await;
}

#[tokio::test]
async fn after_a_reused_refresh_token_the_sessions_access_tokens_are_refused_by_the_api() {
    // Arrange: no grace, so the second presentation is a reuse at once.
    let app = spawn_app_with(|s| s.refresh_reuse_grace = Duration::ZERO).await;
    let signed_in = app.signed_in_user().await;
    app.register("grace@example.com", PASSWORD).await;
    let other = login_elsewhere(&app, "grace@example.com").await;
    let rotated = app.refresh_with(&signed_in.refresh().value).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let newest_access = Cookies::from(&rotated).access().value.clone();

    // Act
    let reused = app.refresh_with(&signed_in.refresh().value).await;
    assert_error(reused, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;

    // Assert: both the first and the rotated access token of that session.
    assert_refused(&app, &signed_in.access().value).await;
    assert_refused(&app, &newest_access).await;
    assert_accepted(&app, &other.access().value).await;
    let app = app.restart().await;
    assert_refused(&app, &newest_access).await;
    assert_accepted(&app, &other.access().value).await;
}

#[tokio::test]
async fn a_session_revoked_by_the_session_cap_is_refused_by_the_api() {
    // Arrange
    let app = spawn_app_with(|s| s.max_sessions_per_user = 1).await;
    let first = Cookies::from(&app.register("ada@example.com", PASSWORD).await);
    assert_accepted(&app, &first.access().value).await;

    // Act: a login past the cap revokes the least recently used session.
    let second = login_elsewhere(&app, "ada@example.com").await;

    // Assert
    assert_refused(&app, &first.access().value).await;
    assert_accepted(&app, &second.access().value).await;
    let app = app.restart().await;
    assert_refused(&app, &first.access().value).await;
    assert_accepted(&app, &second.access().value).await;
}
