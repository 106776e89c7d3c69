use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, json_body, spawn_app};

#[tokio::test]
async fn a_new_post_is_201_and_the_list_is_the_users_own_newest_first() {
    // Arrange
    let app = spawn_app().await;
    app.signed_in_user().await;
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let registered = other
        .post(app.url("/auth/register"))
        .json(&json!({ "email": "other@example.com", "password": crate::helpers::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);

    // Act
    let first = app
        .post_json("/api/posts", &json!({ "title": " First ", "body": "" }))
        .await;
    let second = app
        .post_json(
            "/api/posts",
            &json!({ "title": "Second", "body": "ünïcödé 🎉" }),
        )
        .await;
    let list = app.get("/api/posts").await;

    // Assert
    assert_eq!(first.status(), StatusCode::CREATED);
    for response in [&first, &second, &list] {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["post"]["title"], "First");
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(list.status(), StatusCode::OK);
    let list: Value = list.json().await.unwrap();
    let titles: Vec<_> = list["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["Second", "First"]);
    assert_eq!(list["posts"][0]["body"], "ünïcödé 🎉");
    let others: Value = json_body(other.get(app.url("/api/posts"))).await;
    assert_eq!(others["posts"], json!([]));
}

#[tokio::test]
async fn an_empty_overlong_or_unstorable_post_is_invalid_post_and_stores_nothing() {
    let app = spawn_app().await;
    app.signed_in_user().await;

    for body in [
        json!({ "title": "  ", "body": "" }),
        json!({ "title": "t".repeat(201), "body": "" }),
        json!({ "title": "t", "body": "b".repeat(10_001) }),
        // PostgreSQL cannot store U+0000 in text; both backends refuse it.
        json!({ "title": "a\u{0}b", "body": "" }),
        json!({ "title": "t", "body": "\u{0}" }),
    ] {
        let response = app.post_json("/api/posts", &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_post").await;
    }
    let list: Value = app.get("/api/posts").await.json().await.unwrap();
    assert_eq!(list["posts"], json!([]));
}

#[tokio::test]
async fn posts_need_an_access_token() {
    let app = spawn_app().await;

    let list = app.get("/api/posts").await;
    let create = app
        .post_json("/api/posts", &json!({ "title": "t", "body": "" }))
        .await;

    assert_error(list, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_error(create, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn an_expired_access_token_on_the_api_is_token_expired_with_the_challenge() {
    let app = spawn_app().await;
    let fresh = app.signed_in_user().await.access().value.clone();
    let access = app.expired_copy_of(&fresh).await;

    let response = app.get_with_access("/api/posts", &access).await;

    assert_eq!(response.headers()["www-authenticate"], "token_expired");
    assert_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}

#[tokio::test]
async fn the_health_check_answers_ok() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok" }));
}
