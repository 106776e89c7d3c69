//! Server-side rendering is seeded with who is signed in: the page carries
//! the `AuthState` it was rendered with (serialised for hydration).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::COOKIE;

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};

async fn render_home(app: &crate::helpers::TestApp, access_token: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(app.url("/"));
    if let Some(token) = access_token {
        request = request.header(COOKIE, format!("access_token={token}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_page_rendered_with_a_valid_access_cookie_is_signed_in_as_its_user() {
    // Arrange
    let app = spawn_app().await;
    let email = "pages@example.com";
    let response = app.register(email, PASSWORD).await;
    let access = crate::helpers::Cookies::from(&response)
        .access()
        .value
        .clone();

    // Act
    let html = render_home(&app, Some(&access)).await;

    // Assert
    assert!(html.contains("SignedIn") && html.contains(email));
}

#[tokio::test]
async fn a_page_rendered_without_or_with_a_bad_access_cookie_is_checking_not_signed_out() {
    // Without an access cookie the server cannot tell a stranger from someone
    // whose cookie aged out but whose refresh cookie is good: the browser decides.
    let app = spawn_app().await;

    for token in [None, Some("not.a.token")] {
        let html = render_home(&app, token).await;

        assert!(
            html.contains("Checking") && !html.contains("SignedOut") && !html.contains("SignedIn"),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn a_page_rendered_with_an_expired_access_cookie_is_checking() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.access_token_ttl = Duration::from_secs(1);
        s.token_leeway = Duration::ZERO;
    })
    .await;
    let access = app.signed_in_user().await.access().value.clone();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Act
    let html = render_home(&app, Some(&access)).await;

    // Assert
    assert!(html.contains("Checking") && !html.contains("SignedOut") && !html.contains("SignedIn"));
}
