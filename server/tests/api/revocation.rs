//! `/api` checks the access token without a database read, yet refuses a
//! revoked session's token at once (contract v2, `GET /api/posts`), and
//! still after a restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Cookies, PASSWORD, TestApp, assert_api_accepts, assert_error, spawn_app, spawn_app_with,
};

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

/// `/api` refuses each of the `refused` access tokens and accepts each of
/// the `accepted`, and does so again after a restart, which reads the
/// revoked sessions back from the store.
async fn assert_refused_also_after_a_restart(app: TestApp, refused: &[&str], accepted: &[&str]) {
    assert_refused_and_accepted(&app, refused, accepted).await;
    let app = app.restart().await;
    assert_refused_and_accepted(&app, refused, accepted).await;
}

async fn assert_refused_and_accepted(app: &TestApp, refused: &[&str], accepted: &[&str]) {
    for access in refused {
        assert_refused(app, access).await;
    }
    for access in accepted {
        assert_api_accepts(app, access).await;
    }
}

/// Ada, signed in on two devices besides the one she registered on.
async fn ada_on_a_phone_and_a_laptop(app: &TestApp) -> (Cookies, Cookies) {
    app.register("ada@example.com", PASSWORD).await;
    let phone = login_elsewhere(app, "ada@example.com").await;
    let laptop = login_elsewhere(app, "ada@example.com").await;
    (phone, laptop)
}

/// `request`, sent from the device whose cookies these are (by its access
/// cookie alone).
fn from_device(request: reqwest::RequestBuilder, device: &Cookies) -> reqwest::RequestBuilder {
    let cookie = format!("access_token={}", device.access().value);
    request.header(reqwest::header::COOKIE, cookie)
}

#[tokio::test]
async fn after_logout_the_sessions_access_token_is_refused_by_the_api_also_after_a_restart() {
    // Arrange
    let app = spawn_app().await;
    let access = app.signed_in_user().await.access().value.clone();
    assert_api_accepts(&app, &access).await;

    // Act
    let response = app.logout().await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    assert_refused_also_after_a_restart(app, &[&access], &[]).await;
}

#[tokio::test]
async fn after_logout_everywhere_every_sessions_access_token_is_refused_by_the_api() {
    // Arrange
    let app = spawn_app().await;
    let (phone, laptop) = ada_on_a_phone_and_a_laptop(&app).await;
    app.register("grace@example.com", PASSWORD).await;
    let grace = login_elsewhere(&app, "grace@example.com").await;

    // Act
    let request = reqwest::Client::new().post(app.url("/auth/logout-all"));
    let response = from_device(request, &laptop).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    let refused = [&*phone.access().value, &laptop.access().value];
    assert_refused_also_after_a_restart(app, &refused, &[&grace.access().value]).await;
}

#[tokio::test]
async fn a_revoked_sessions_access_token_is_refused_by_the_api_and_the_others_keep_working() {
    // Arrange
    let app = spawn_app().await;
    let (phone, laptop) = ada_on_a_phone_and_a_laptop(&app).await;
    let phone_session = session_id_of(&app, &phone.access().value).await;

    // Act
    let request =
        reqwest::Client::new().delete(app.url(&format!("/auth/sessions/{phone_session}")));
    let response = from_device(request, &laptop).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    let (refused, accepted) = (&phone.access().value, &laptop.access().value);
    assert_refused_also_after_a_restart(app, &[refused], &[accepted]).await;
}

#[tokio::test]
async fn after_a_password_change_the_other_sessions_access_tokens_are_refused_by_the_api() {
    // Arrange
    let app = spawn_app().await;
    let (phone, laptop) = ada_on_a_phone_and_a_laptop(&app).await;

    // Act
    let request = reqwest::Client::new()
        .post(app.url("/auth/password"))
        .json(&json!({
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
        }));
    let response = from_device(request, &laptop).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Assert
    let (refused, accepted) = (&phone.access().value, &laptop.access().value);
    assert_refused_also_after_a_restart(app, &[refused], &[accepted]).await;
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
    let refused = [&*signed_in.access().value, &newest_access];
    assert_refused_also_after_a_restart(app, &refused, &[&other.access().value]).await;
}

#[tokio::test]
async fn a_session_revoked_by_the_session_cap_is_refused_by_the_api() {
    // Arrange
    let app = spawn_app_with(|s| s.max_sessions_per_user = 1).await;
    let first = Cookies::from(&app.register("ada@example.com", PASSWORD).await);
    assert_api_accepts(&app, &first.access().value).await;

    // Act: a login past the cap revokes the least recently used session.
    let second = login_elsewhere(&app, "ada@example.com").await;

    // Assert
    let (refused, accepted) = (&first.access().value, &second.access().value);
    assert_refused_also_after_a_restart(app, &[refused], &[accepted]).await;
}
