use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn me_answers_the_user_of_a_valid_access_cookie() {
    // Arrange
    let app = spawn_app().await;
    let cookies = app.signed_in_user().await;

    // Act
    let response = app
        .get_with_access("/auth/me", &cookies.access().value)
        .await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["user"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@example.com")
    );
}

#[tokio::test]
async fn me_without_an_access_cookie_is_unauthenticated_with_no_challenge() {
    let app = spawn_app().await;

    let response = app.get("/auth/me").await;

    assert!(response.headers().get("www-authenticate").is_none());
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_malformed_or_forged_access_token_is_invalid_token_with_no_challenge() {
    // Arrange
    let app = spawn_app().await;
    let real = app.signed_in_user().await.access().value.clone();
    let (head, rest) = real.split_once('.').unwrap();
    let (claims, signature) = rest.split_once('.').unwrap();
    let mut forged_signature = signature.to_owned();
    let last = forged_signature.pop().unwrap();
    forged_signature.push(if last == 'A' { 'B' } else { 'A' });

    for token in [
        "garbage".to_owned(),
        format!("{head}.{claims}.{forged_signature}"),
        format!("{head}.{claims}."),
        "a.b.c".to_owned(),
    ] {
        // Act
        let response = app.get_with_access("/auth/me", &token).await;

        // Assert
        assert!(response.headers().get("www-authenticate").is_none());
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn an_expired_access_token_is_token_expired_with_the_challenge_header() {
    // Arrange
    let app = spawn_app().await;
    let fresh = app.signed_in_user().await.access().value.clone();
    assert_eq!(
        app.get_with_access("/auth/me", &fresh).await.status(),
        StatusCode::OK
    );

    // Act
    let response = app
        .get_with_access("/auth/me", &app.expired_copy_of(&fresh).await)
        .await;

    // Assert
    assert_eq!(response.headers()["www-authenticate"], "token_expired");
    assert_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}
