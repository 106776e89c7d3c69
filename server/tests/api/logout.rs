use reqwest::StatusCode;

use crate::helpers::{Cookies, assert_error, spawn_app};

#[tokio::test]
async fn logout_answers_204_clears_both_cookies_and_kills_the_refresh_token() {
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        // Arrange
        let app = spawn_app().await;
        let refresh = app.signed_in_user().await.refresh().value.clone();

        // Act
        let response = app
            .client
            .request(method.clone(), app.url("/auth/logout"))
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{method}");
        assert_eq!(response.headers()["clear-site-data"], "\"cache\"");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let cookies = Cookies::from(&response);
        assert!(cookies.access().is_cleared() && cookies.access().attribute("Path") == Some("/"));
        assert!(
            cookies.refresh().is_cleared() && cookies.refresh().attribute("Path") == Some("/auth")
        );
        let after = app.refresh_with(&refresh).await;
        assert_error(after, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        assert_eq!(
            app.get("/auth/me").await.status(),
            StatusCode::UNAUTHORIZED,
            "cookie gone"
        );
    }
}

#[tokio::test]
async fn logout_revokes_the_whole_session_including_tokens_rotated_within_grace() {
    // Arrange
    let app = spawn_app().await;
    let first = app.signed_in_user().await.refresh().value.clone();
    let rotated = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);

    // Act
    app.logout().await;

    // Assert: the revoked check comes before the grace window.
    let response = app.refresh_with(&first).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logout_without_cookies_still_answers_204_and_clears_them() {
    let app = spawn_app().await;

    let response = app.logout().await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = Cookies::from(&response);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
}

#[tokio::test]
async fn logout_with_an_unknown_refresh_token_still_answers_204() {
    let app = spawn_app().await;

    let response = reqwest::Client::new()
        .post(app.url("/auth/logout"))
        .header("cookie", "refresh_token=not-a-token-we-issued")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}
