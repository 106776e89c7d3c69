//! Contract v2 cookies: the access cookie lives as long as the session (the
//! token inside it still expires after `ACCESS_TOKEN_TTL_SECS`), the refresh
//! cookie as long as its token, and neither past the session's end.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Cookies, assert_error, spawn_app_with};
use crate::pages::expiring_in_a_second;

fn max_age(cookie: &crate::helpers::SetCookie) -> u64 {
    cookie.attribute("Max-Age").unwrap().parse().unwrap()
}

#[tokio::test]
async fn at_login_the_access_cookie_lives_as_long_as_the_session() {
    // Arrange: a refresh token that ends before the session.
    let app = spawn_app_with(|s| {
        s.session_max_age = Duration::from_secs(7200);
        s.refresh_token_ttl = Duration::from_secs(600);
    })
    .await;

    // Act
    let cookies = app.signed_in_user().await;

    // Assert
    assert_eq!(max_age(cookies.access()), 7200);
    assert_eq!(max_age(cookies.refresh()), 600);
}

#[tokio::test]
async fn the_refresh_cookie_never_outlives_the_session() {
    let app = spawn_app_with(|s| {
        s.session_max_age = Duration::from_secs(3600);
        s.refresh_token_ttl = Duration::from_secs(86400);
    })
    .await;

    let cookies = app.signed_in_user().await;

    assert_eq!(max_age(cookies.access()), 3600);
    assert_eq!(max_age(cookies.refresh()), 3600);
}

#[tokio::test]
async fn after_a_refresh_both_cookies_count_down_to_the_same_session_end() {
    // Arrange: a session with two seconds less to live than at login.
    let app = spawn_app_with(|s| {
        s.session_max_age = Duration::from_secs(3600);
        s.refresh_token_ttl = Duration::from_secs(86400);
    })
    .await;
    app.signed_in_user().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Act
    let response = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();

    // Assert: rotation never extends the session.
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = Cookies::from(&response);
    for cookie in [cookies.access(), cookies.refresh()] {
        let age = max_age(cookie);
        assert!((3590..=3598).contains(&age), "{cookie:?}");
    }
}

#[tokio::test]
async fn the_browser_keeps_sending_an_expired_token_and_hears_token_expired() {
    // Arrange: the cookie outlives the one-second token inside it.
    let app = spawn_app_with(expiring_in_a_second).await;
    app.signed_in_user().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Act
    let response = app.get("/auth/me").await;

    // Assert
    assert_eq!(response.headers()["www-authenticate"], "token_expired");
    assert_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}
