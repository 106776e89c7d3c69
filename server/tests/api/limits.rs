//! Every length limit, at the limit and one past it, and the cross-origin
//! guard on every state-changing endpoint.

use reqwest::header::{ORIGIN, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, json_body, spawn_app};

#[tokio::test]
async fn an_email_may_have_254_characters_and_a_local_part_64() {
    let app = spawn_app().await;
    let local = "a".repeat(64);
    let domain = format!("{}.com", "d".repeat(254 - 64 - 1 - 4));
    let longest = format!("{local}@{domain}");
    assert_eq!(longest.len(), 254);

    let ok = app.register(&longest, PASSWORD).await;
    let too_long = app.register(&format!("a{longest}"), PASSWORD).await;
    let local_too_long = app
        .register(&format!("{}@example.com", "a".repeat(65)), PASSWORD)
        .await;

    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_error(too_long, StatusCode::BAD_REQUEST, "invalid_email").await;
    assert_error(local_too_long, StatusCode::BAD_REQUEST, "invalid_email").await;
}

#[tokio::test]
async fn a_password_is_8_to_128_characters_counted_as_characters_not_bytes() {
    let app = spawn_app().await;
    // Four bytes each: 128 of them are 512 bytes, still one password.
    let longest = "🔐".repeat(128);
    let shortest = "ßñ€🔐ßñ€🔐";

    let long = app.register("long@example.com", &longest).await;
    let short = app.register("short@example.com", shortest).await;
    let too_long = app.register("toolong@example.com", &"🔐".repeat(129)).await;
    let too_short = app.register("tooshort@example.com", "ßñ€🔐ßñ€").await;

    assert_eq!(long.status(), StatusCode::CREATED);
    assert_eq!(short.status(), StatusCode::CREATED);
    assert_error(too_long, StatusCode::BAD_REQUEST, "weak_password").await;
    assert_error(too_short, StatusCode::BAD_REQUEST, "weak_password").await;
    assert_eq!(
        app.login("long@example.com", &longest).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn passwords_are_taken_exactly_as_given() {
    let app = spawn_app().await;
    let password = "  spaces, NUL \u{0} and\ttabs  ";
    app.register("ada@example.com", password).await;

    let exact = app.login("ada@example.com", password).await;
    let trimmed = app.login("ada@example.com", password.trim()).await;
    // NFC and NFD spellings of "é" are different passwords.
    app.register("zoe@example.com", "caf\u{e9} au lait").await;
    let other_form = app.login("zoe@example.com", "cafe\u{301} au lait").await;

    assert_eq!(exact.status(), StatusCode::OK);
    assert_error(trimmed, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_error(other_form, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_login_with_a_password_longer_than_any_allowed_is_invalid_credentials() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;

    let response = app.login("ada@example.com", &"x".repeat(129)).await;

    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_post_title_is_1_to_200_characters_and_a_body_up_to_10000() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let cases = [
        // 10 000 characters fit in the 16 KiB body limit only if most of
        // them are ASCII: the body limit comes first (see server/README).
        (
            json!({ "title": "é".repeat(200), "body": format!("{}{}", "ü".repeat(3_000), "b".repeat(7_000)) }),
            None,
        ),
        (
            json!({ "title": "é".repeat(201), "body": "" }),
            Some("invalid_post"),
        ),
        (
            json!({ "title": "t", "body": "ü".repeat(10_001) }),
            Some("payload_too_large"),
        ),
        (json!({ "title": "", "body": "" }), Some("invalid_post")),
    ];
    for (body, refusal) in cases {
        let response = app.post_json("/api/posts", &body).await;
        match refusal {
            None => assert_eq!(response.status(), StatusCode::CREATED),
            // 10 001 two-byte characters are over 16 KiB before the length is checked.
            Some("payload_too_large") => {
                assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
            }
            Some(code) => {
                assert_error(response, StatusCode::BAD_REQUEST, code).await;
            }
        }
    }
    let ascii_over = app
        .post_json(
            "/api/posts",
            &json!({ "title": "t", "body": "b".repeat(10_001) }),
        )
        .await;
    assert_error(ascii_over, StatusCode::BAD_REQUEST, "invalid_post").await;
    assert_eq!(app.count("posts").await, 1);
}

#[tokio::test]
async fn a_user_agent_is_kept_cut_to_256_characters() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let device = app
        .device("ada@example.com", PASSWORD, &"Ä".repeat(8_000))
        .await;

    let list: Value = json_body(device.get(app.url("/auth/sessions"))).await;

    let agent = list["sessions"][0]["user_agent"].as_str().unwrap();
    assert_eq!(agent.chars().count(), 256);
}

#[tokio::test]
async fn a_huge_session_id_is_not_found() {
    let app = spawn_app().await;
    app.signed_in_user().await;

    let response = app
        .client
        .delete(app.url(&format!("/auth/sessions/{}", "a".repeat(8_000))))
        .send()
        .await
        .unwrap();

    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn every_state_changing_endpoint_refuses_another_origin_and_changes_nothing() {
    // Arrange: a signed-in user with a second session to aim at.
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;
    let sessions: Value = json_body(phone.get(app.url("/auth/sessions"))).await;
    let phone_id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });
    let change = json!({ "current_password": PASSWORD, "new_password": "a new long password" });
    let post = json!({ "title": "t", "body": "b" });
    let cases = [
        (
            Method::POST,
            "/auth/register".to_owned(),
            credentials.clone(),
        ),
        (Method::POST, "/auth/login".to_owned(), credentials),
        (Method::POST, "/auth/refresh".to_owned(), json!(null)),
        (Method::POST, "/auth/logout".to_owned(), json!(null)),
        (Method::DELETE, "/auth/logout".to_owned(), json!(null)),
        (Method::POST, "/auth/logout-all".to_owned(), json!(null)),
        (
            Method::DELETE,
            format!("/auth/sessions/{phone_id}"),
            json!(null),
        ),
        (Method::POST, "/auth/password".to_owned(), change),
        (Method::POST, "/api/posts".to_owned(), post),
    ];
    let before = app.snapshot().await;

    for (method, path, body) in cases {
        for origin in [
            "http://evil.example",
            "null",
            "https://127.0.0.1.evil.example",
        ] {
            // Act
            let response = app
                .client
                .request(method.clone(), app.url(&path))
                .header(ORIGIN, origin)
                .header(USER_AGENT, "csrf")
                .json(&body)
                .send()
                .await
                .unwrap();

            // Assert
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{method} {path}"
            );
            assert_error(response, StatusCode::FORBIDDEN, "cross_origin_request").await;
        }
    }
    let after = app.snapshot().await;
    assert_eq!(before, after);
    // Reads are not state-changing: a cross-origin GET gets its answer (and
    // the browser's CORS rules keep it from the other site's script).
    let read = app
        .client
        .get(app.url("/auth/sessions"))
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert!(read.headers().get("access-control-allow-origin").is_none());
}
