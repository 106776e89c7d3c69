//! A session lives in the database, not in the instance that started it:
//! it refreshes anywhere, and the reuse of a rotated token ends it
//! everywhere.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Cookies, PASSWORD, assert_error};
use crate::harness::{Browser, assert_api_refuses_within_deadline, instances, spawn_instances};

#[tokio::test]
async fn a_session_logged_in_on_a_refreshes_on_b_and_both_know_it() {
    // Arrange
    let servers = spawn_instances(2).await;
    let browser = Browser::new();
    let (email, _) = browser.register(servers.a()).await;
    let login = browser.login(servers.a(), &email, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let logged_in = Cookies::from(&login);

    // Act
    let refresh = browser.post(servers.b(), "/auth/refresh").await;

    // Assert
    assert_eq!(refresh.status(), StatusCode::OK);
    let refreshed = Cookies::from(&refresh);
    assert_ne!(refreshed.refresh().value, logged_in.refresh().value);
    for server in servers.all() {
        let me = browser.get(server, "/auth/me").await;
        assert_eq!(me.status(), StatusCode::OK, "/auth/me on {}", server.name);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["user"]["email"], email.as_str());
        let posts = browser.get(server, "/api/posts").await;
        assert_eq!(
            posts.status(),
            StatusCode::OK,
            "/api/posts on {}",
            server.name
        );
    }
}

#[tokio::test]
async fn a_token_rotated_on_a_and_reused_on_b_ends_the_session_on_both() {
    // Arrange: no grace window, so the reuse is one at once.
    let servers = instances(2)
        .env("REFRESH_REUSE_GRACE_SECS", "0")
        .spawn()
        .await;
    let browser = Browser::new();
    let (_, registered) = browser.register(servers.a()).await;
    let stolen = registered.refresh().value.clone();
    let rotation = browser.post(servers.a(), "/auth/refresh").await;
    assert_eq!(rotation.status(), StatusCode::OK);
    let current = Cookies::from(&rotation);

    // Act
    let reuse = servers.b().refresh_with(&stolen).await;

    // Assert
    assert_error(reuse, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    for server in servers.all() {
        let refresh = server.refresh_with(&current.refresh().value).await;
        assert_error(refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        let me = server
            .get_with_access("/auth/me", &current.access().value)
            .await;
        assert_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // B revoked it, and `/api` on A hears of it.
    assert_api_refuses_within_deadline(servers.a(), &current.access().value).await;
}
