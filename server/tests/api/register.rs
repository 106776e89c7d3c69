use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Cookies, PASSWORD, assert_error, spawn_app};

#[tokio::test]
async fn registering_answers_201_with_the_user_and_signs_them_in() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.register("ada@example.com", PASSWORD).await;

    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = Cookies::from(&response);
    let body: Value = response.json().await.unwrap();
    let user = body["user"].as_object().unwrap();
    assert_eq!(user["email"], "ada@example.com");
    assert!(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
    assert_eq!(user.len(), 3, "nothing secret: {body}");
    assert!(!cookies.access().value.is_empty());
    assert!(!cookies.refresh().value.is_empty());
    assert_eq!(app.get("/auth/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_cookies_carry_exactly_the_contract_attributes() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let cookies = app.signed_in_user().await;

    // Assert
    let access = cookies.access();
    assert!(
        access.has("HttpOnly") && access.has("SameSite=Lax"),
        "{access:?}"
    );
    assert_eq!(access.attribute("Path"), Some("/"));
    // The access cookie lives as long as the session (30 days by default),
    // not as long as the token inside it.
    assert_eq!(access.attribute("Max-Age"), Some("2592000"));
    assert!(!access.has("Secure"), "COOKIE_SECURE=false in tests");
    let refresh = cookies.refresh();
    assert!(
        refresh.has("HttpOnly") && refresh.has("SameSite=Lax"),
        "{refresh:?}"
    );
    assert_eq!(refresh.attribute("Path"), Some("/auth"));
    assert_eq!(refresh.attribute("Max-Age"), Some("2592000"));
    // 256 bits, URL-safe base64 without padding.
    assert_eq!(refresh.value.len(), 43);
    assert!(
        refresh
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
}

#[tokio::test]
async fn cookies_are_secure_when_configured() {
    let app = crate::helpers::spawn_app_with(|s| s.cookie_secure = true).await;

    let response = app.register("ada@example.com", PASSWORD).await;

    let cookies = Cookies::from(&response);
    assert!(cookies.access().has("Secure"));
    assert!(cookies.refresh().has("Secure"));
}

#[tokio::test]
async fn an_implausible_email_is_invalid_email() {
    let app = spawn_app().await;
    for email in ["", "ada", "ada@example", "ada@exa mple.com", "@example.com"] {
        let response = app.register(email, PASSWORD).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_email").await;
    }
}

#[tokio::test]
async fn a_short_long_or_common_password_is_weak_password() {
    let app = spawn_app().await;
    for password in ["short", &"x".repeat(129), "password1", "Password1"] {
        let response = app.register("ada@example.com", password).await;
        assert_error(response, StatusCode::BAD_REQUEST, "weak_password").await;
    }
}

#[tokio::test]
async fn an_email_already_registered_in_any_case_is_email_taken() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;

    // Act
    let response = app
        .register("  ADA@Example.com ", "another good password")
        .await;

    // Assert
    assert_error(response, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn emails_are_stored_trimmed_and_lower_cased() {
    let app = spawn_app().await;

    let response = app.register("  Grace.Hopper@Example.COM ", PASSWORD).await;

    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "grace.hopper@example.com");
    let login = app.login("grace.hopper@EXAMPLE.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
}
