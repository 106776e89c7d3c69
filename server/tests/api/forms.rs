//! The pages' forms posted as plain HTML (`application/x-www-form-urlencoded`),
//! as a browser does before the WASM has loaded or without JavaScript:
//! `303` on success, or the form's page again with the JSON API's status
//! and message.

use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Cookies, PASSWORD, TestApp, assert_error, client, spawn_app, spawn_app_with};
use crate::pages::expiring_in_a_second;

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The message the JSON API gives for the same refusal, as the page shows
/// it (text escaped as HTML).
async fn json_message(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["message"]
        .as_str()
        .unwrap()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A refused form: the page again, with the JSON API's status and message.
async fn assert_refused(response: Response, status: StatusCode, message: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(response.headers()[CACHE_CONTROL], "private, no-store");
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("'nonce-"), "the page's own policy: {csp}");
    let html = response.text().await.unwrap();
    assert!(
        html.contains(message),
        "{message:?} not in the page:\n{html}"
    );
    html
}

#[tokio::test]
async fn the_register_form_signs_in_and_goes_on_to_next() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = post_form(
        &app,
        "/register",
        &[
            ("email", "form@example.com"),
            ("password", PASSWORD),
            ("next", "/posts"),
        ],
    )
    .await;

    // Assert
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/posts");
    let cookies = Cookies::from(&response);
    assert_eq!(cookies.access().attribute("Max-Age"), Some("2592000"));
    assert_eq!(cookies.refresh().attribute("Path"), Some("/auth"));
    let me: Value = app.get("/auth/me").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "form@example.com");
}

#[tokio::test]
async fn a_refused_register_form_shows_the_json_apis_message_and_keeps_the_email() {
    // Arrange
    let app = spawn_app().await;
    app.register("taken@example.com", PASSWORD).await;
    let cases = [
        ("weak@example.com", "short", StatusCode::BAD_REQUEST),
        ("not an email", PASSWORD, StatusCode::BAD_REQUEST),
        ("taken@example.com", PASSWORD, StatusCode::CONFLICT),
    ];

    for (email, password, status) in cases {
        let expected = json_message(
            client()
                .post(app.url("/auth/register"))
                .json(&json!({ "email": email, "password": password }))
                .send()
                .await
                .unwrap(),
        )
        .await;

        // Act
        let response = client()
            .post(app.url("/register"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();

        // Assert
        assert!(Cookies::from(&response).0.is_empty(), "{email}");
        let html = assert_refused(response, status, &expected).await;
        assert!(html.contains(email), "the email is filled in again");
        assert!(
            password == "short" || !html.contains(password),
            "never the password"
        );
    }
}

#[tokio::test]
async fn the_login_form_signs_in_and_never_leaves_the_site() {
    let app = spawn_app().await;
    app.register("login-form@example.com", PASSWORD).await;

    for (next, location) in [("/account", "/account"), ("//evil.example", "/"), ("", "/")] {
        let response = client()
            .post(app.url("/login"))
            .form(&[
                ("email", "login-form@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(response.headers()[LOCATION], location, "{next}");
        assert!(!Cookies::from(&response).access().value.is_empty());
    }
}

#[tokio::test]
async fn a_wrong_password_on_the_login_form_is_401_with_the_apis_message() {
    let app = spawn_app().await;
    app.register("wrong@example.com", PASSWORD).await;
    let expected = json_message(app.login("wrong@example.com", "not the password").await).await;

    let response = client()
        .post(app.url("/login"))
        .form(&[
            ("email", "wrong@example.com"),
            ("password", "not the password"),
            ("next", "/posts"),
        ])
        .send()
        .await
        .unwrap();

    let html = assert_refused(response, StatusCode::UNAUTHORIZED, &expected).await;
    assert!(html.contains("wrong@example.com"));
    assert!(!html.contains("not the password"));
}

#[tokio::test]
async fn the_publish_form_posts_and_returns_to_the_list() {
    // Arrange
    let app = spawn_app().await;
    app.signed_in_user().await;

    // Act
    let response = post_form(
        &app,
        "/posts",
        &[("title", "From a form"), ("body", "No JS")],
    )
    .await;

    // Assert
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/posts");
    let posts: Value = app.get("/api/posts").await.json().await.unwrap();
    assert_eq!(posts["posts"][0]["title"], "From a form");
    assert_eq!(posts["posts"][0]["body"], "No JS");
}

#[tokio::test]
async fn an_empty_title_re_renders_the_posts_page_with_the_message_and_the_body() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let expected = json_message(
        app.post_json("/api/posts", &json!({ "title": "", "body": "kept text" }))
            .await,
    )
    .await;

    let response = post_form(&app, "/posts", &[("title", ""), ("body", "kept text")]).await;

    let html = assert_refused(response, StatusCode::BAD_REQUEST, &expected).await;
    assert!(html.contains("kept text"));
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn a_form_that_needs_a_session_sends_a_stranger_to_log_in() {
    let app = spawn_app().await;

    for (path, page) in [
        ("/posts", "/posts"),
        ("/account/password", "/account"),
        ("/account/logout-all", "/account"),
        ("/account/sessions/revoke", "/account"),
    ] {
        let response = post_form(&app, path, &[]).await;

        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            response.headers()[LOCATION].to_str().unwrap(),
            format!("/login?next={page}"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_form_posted_with_an_expired_token_goes_through_the_navigation_refresh() {
    let app = spawn_app_with(expiring_in_a_second).await;
    app.signed_in_user().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let response = post_form(&app, "/posts", &[("title", "Late"), ("body", "")]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/auth/refresh?next=/posts");
    assert_eq!(app.count("posts").await, 0, "the post is not replayed");
}

#[tokio::test]
async fn the_logout_form_ends_the_session_through_auth_logout() {
    // Arrange
    let app = spawn_app().await;
    let refresh = app.signed_in_user().await.refresh().value.clone();

    // Act: the browser follows the 307 with the same method and body.
    let first = post_form(&app, "/logout", &[]).await;
    let location = first.headers()[LOCATION].to_str().unwrap().to_owned();
    let second = post_form(&app, &location, &[]).await;

    // Assert
    assert_eq!(first.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location, "/auth/logout");
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.headers()[LOCATION], "/");
    assert_eq!(second.headers()["clear-site-data"], "\"cache\"");
    let cookies = Cookies::from(&second);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
    assert_error(
        app.refresh_with(&refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn the_revoke_form_ends_another_device_or_this_one() {
    // Arrange
    let app = spawn_app().await;
    let email = "revoke-form@example.com";
    app.register(email, PASSWORD).await;
    let other = app.device(email, PASSWORD, "other device").await;
    let sessions: Value = app.get("/auth/sessions").await.json().await.unwrap();
    let id_of = |current: bool| {
        sessions["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == current)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Act
    let unknown = post_form(&app, "/account/sessions/revoke", &[("id", "nope")]).await;
    let another = post_form(&app, "/account/sessions/revoke", &[("id", &id_of(false))]).await;
    let this = post_form(&app, "/account/sessions/revoke", &[("id", &id_of(true))]).await;

    // Assert
    assert_refused(unknown, StatusCode::NOT_FOUND, "Nothing here.").await;
    assert_eq!(another.status(), StatusCode::SEE_OTHER);
    assert_eq!(another.headers()[LOCATION], "/account");
    let other_me = other.get(app.url("/auth/me")).send().await.unwrap();
    assert_error(other_me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(this.status(), StatusCode::SEE_OTHER);
    assert_eq!(this.headers()[LOCATION], "/");
    assert!(Cookies::from(&this).access().is_cleared());
}

#[tokio::test]
async fn the_logout_all_form_ends_every_session() {
    let app = spawn_app().await;
    let email = "all-form@example.com";
    app.register(email, PASSWORD).await;
    let other = app.device(email, PASSWORD, "other device").await;

    let response = post_form(&app, "/account/logout-all", &[]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/");
    assert_eq!(response.headers()["clear-site-data"], "\"cache\"");
    assert!(Cookies::from(&response).refresh().is_cleared());
    let other_me = other.get(app.url("/auth/me")).send().await.unwrap();
    assert_error(other_me, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn the_password_form_changes_it_or_says_why_not() {
    // Arrange
    let app = spawn_app().await;
    let email = "password-form@example.com";
    app.register(email, PASSWORD).await;
    let wrong = json_message(
        app.post_json(
            "/auth/password",
            &json!({ "current_password": "not it at all", "new_password": "a new long password" }),
        )
        .await,
    )
    .await;
    let weak = json_message(
        app.post_json(
            "/auth/password",
            &json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await,
    )
    .await;

    // Act
    let refused_wrong = post_form(
        &app,
        "/account/password",
        &[
            ("current_password", "not it at all"),
            ("new_password", "a new long password"),
        ],
    )
    .await;
    let refused_weak = post_form(
        &app,
        "/account/password",
        &[("current_password", PASSWORD), ("new_password", "short")],
    )
    .await;
    let changed = post_form(
        &app,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a new long password"),
        ],
    )
    .await;

    // Assert
    let html = assert_refused(refused_wrong, StatusCode::UNAUTHORIZED, &wrong).await;
    assert!(!html.contains("not it at all") && !html.contains("a new long password"));
    assert_refused(refused_weak, StatusCode::BAD_REQUEST, &weak).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(changed.headers()[LOCATION], "/account");
    assert_eq!(
        client()
            .post(app.url("/auth/login"))
            .json(&json!({ "email": email, "password": "a new long password" }))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cross_origin_form_post_is_refused_with_a_page_saying_so() {
    let app = spawn_app().await;
    app.register("csrf-form@example.com", PASSWORD).await;

    for path in ["/login", "/posts", "/account/logout-all", "/logout"] {
        let response = app
            .client
            .post(app.url(path))
            .header(ORIGIN, "https://evil.example")
            .form(&[("title", "forged")])
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            response.text().await.unwrap().contains("another origin"),
            "{path}"
        );
    }
    assert_eq!(app.count("posts").await, 0);
    assert_eq!(app.get("/auth/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_page_form_with_a_revoked_session_sends_the_person_to_log_in_and_clears_cookies() {
    let app = spawn_app().await;
    let email = "revoked-form@example.com";
    let access = Cookies::from(&app.register(email, PASSWORD).await)
        .access()
        .value
        .clone();
    let other = app.device(email, PASSWORD, "other device").await;
    other
        .post(app.url("/auth/logout-all"))
        .send()
        .await
        .unwrap();

    let response = client()
        .post(app.url("/posts"))
        .header(COOKIE, format!("access_token={access}"))
        .form(&[("title", "after revoke"), ("body", "")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=/posts");
    assert!(Cookies::from(&response).access().is_cleared());
    assert_eq!(app.count("posts").await, 0);
}
