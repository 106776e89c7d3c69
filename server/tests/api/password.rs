use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app, spawn_app_with};

const NEW_PASSWORD: &str = "a brand new passphrase ✓";

async fn change(
    client: &reqwest::Client,
    app: &crate::helpers::TestApp,
    current: &str,
    new: &str,
) -> reqwest::Response {
    client
        .post(app.url("/auth/password"))
        .json(&json!({ "current_password": current, "new_password": new }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session_in_the_same_request() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;
    let laptop = app.device("ada@example.com", PASSWORD, "Laptop").await;

    // Act
    let response = change(&app.client, &app, PASSWORD, NEW_PASSWORD).await;

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["cache-control"], "no-store");
    for other in [&phone, &laptop] {
        let refresh = other.post(app.url("/auth/refresh")).send().await.unwrap();
        assert_error(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    let live: i64 = app
        .scalar("select count(*) from sessions where revoked_at is null")
        .await;
    assert_eq!(live, 1, "only the session that changed it");
    let this_one = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(this_one.status(), StatusCode::OK);
    let old = app.login("ada@example.com", PASSWORD).await;
    assert_error(old, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let new = app.login("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_current_password_is_invalid_credentials_and_changes_nothing() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;
    let hash_before: String = app.scalar("select password_hash from users").await;

    for wrong in [
        "not the password",
        "",
        &"x".repeat(129),
        &"x".repeat(10_000),
    ] {
        let response = change(&app.client, &app, wrong, NEW_PASSWORD).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    let hash_after: String = app.scalar("select password_hash from users").await;
    assert_eq!(hash_before, hash_after);
    let refresh = phone.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(refresh.status(), StatusCode::OK, "other sessions live on");
}

#[tokio::test]
async fn a_weak_new_password_is_weak_password() {
    let app = spawn_app().await;
    app.signed_in_user().await;

    for weak in ["short", "password", &"p".repeat(129)] {
        let response = change(&app.client, &app, PASSWORD, weak).await;
        assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    }
    let still = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test]
async fn any_characters_up_to_the_limit_are_a_password() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    // 128 characters, most of them several bytes, with a NUL and a newline.
    let unusual: String = "🔐\u{0}\nñ".chars().cycle().take(128).collect();

    let response = change(&app.client, &app, PASSWORD, &unusual).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login("ada@example.com", &unusual).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_failed_logins() {
    let app = spawn_app_with(|s| s.login_max_failures = 2).await;
    app.signed_in_user().await;

    for _ in 0..2 {
        let response = change(&app.client, &app, "not the password", NEW_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = change(&app.client, &app, PASSWORD, NEW_PASSWORD).await;

    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_revoked_session_cannot_change_the_password() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;
    let logout_all = phone
        .post(app.url("/auth/logout-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout_all.status(), StatusCode::NO_CONTENT);

    // The first client's access token is still well signed and unexpired.
    let response = change(&app.client, &app, PASSWORD, NEW_PASSWORD).await;

    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}
