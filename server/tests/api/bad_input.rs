use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, spawn_app};

#[tokio::test]
async fn a_body_that_is_not_json_is_invalid_body() {
    let app = spawn_app().await;
    for body in ["", "not json", "{\"email\":", "\u{0}\u{1}", "[]", "null"] {
        let response = app
            .client
            .post(app.url("/auth/register"))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_invalid_body() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({ "email": "ada@example.com" }),
        json!({ "email": 1, "password": PASSWORD }),
        json!({ "email": ["ada@example.com"], "password": PASSWORD }),
    ] {
        let response = app.post_json("/auth/login", &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
}

/// serde's derive reads a struct from a JSON array of its fields in order;
/// the contract wants an object, so an array is the wrong shape everywhere.
#[tokio::test]
async fn an_array_of_the_right_values_is_invalid_body_at_every_endpoint_and_changes_nothing() {
    // Arrange: an account, signed in, whose password and posts must not change.
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let new_password = "a new and long password";
    let cases = [
        ("/auth/register", json!(["grace@example.com", PASSWORD])),
        ("/auth/login", json!(["ada@example.com", PASSWORD])),
        ("/auth/password", json!([PASSWORD, new_password])),
        ("/api/posts", json!(["A title", "A body"])),
    ];

    for (path, body) in cases {
        // Act
        let response = app.post_json(path, &body).await;

        // Assert
        assert!(
            response.headers().get("set-cookie").is_none(),
            "{path} set a cookie"
        );
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
    assert_eq!(app.count("users").await, 1, "no account was created");
    assert_eq!(app.count("sessions").await, 1, "no one was logged in");
    assert_eq!(app.count("posts").await, 0, "no post was published");
    let old_password = crate::helpers::client()
        .post(app.url("/auth/login"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old_password.status(),
        StatusCode::OK,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_unsupported_media_type() {
    let app = spawn_app().await;
    let body = json!({ "email": "ada@example.com", "password": PASSWORD }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .client
            .post(app.url("/auth/register"))
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
}

#[tokio::test]
async fn a_body_over_16_kib_is_payload_too_large_on_any_route() {
    // Arrange
    let app = spawn_app().await;
    let huge = json!({ "email": "ada@example.com", "password": "p".repeat(17 * 1024) });

    for path in [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/api/posts",
    ] {
        // Act
        let response = app.post_json(path, &huge).await;

        // Assert
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
}

#[tokio::test]
async fn a_chunked_body_over_16_kib_without_a_length_is_payload_too_large() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Arrange: reqwest always sends a length, so speak HTTP/1.1 by hand.
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let mut request = format!(
        "POST /auth/register HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..17 {
        request.push_str(&format!("400\r\n{}\r\n", " ".repeat(1024)));
    }
    request.push_str("0\r\n\r\n");

    // Act
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();

    // Assert
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("\"error\":\"payload_too_large\""),
        "{response}"
    );
}

#[tokio::test]
async fn huge_fields_within_the_limit_are_refused_cleanly() {
    let app = spawn_app().await;
    let long = "a".repeat(15 * 1024);
    let cases = [
        (
            json!({ "email": format!("{long}@example.com"), "password": PASSWORD }),
            "invalid_email",
        ),
        (
            json!({ "email": "ada@example.com", "password": long }),
            "weak_password",
        ),
    ];
    for (body, code) in cases {
        let response = app.post_json("/auth/register", &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    let login = app
        .post_json(
            "/auth/login",
            &json!({ "email": "ada@example.com", "password": "a".repeat(15 * 1024) }),
        )
        .await;
    assert_error(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn unicode_anywhere_is_handled() {
    let app = spawn_app().await;

    let registered = app.register("zoë@exämple.com", "pässwörd ünïcödé 🔐").await;
    let login = app.login("ZOË@exämple.com", "pässwörd ünïcödé 🔐").await;
    let odd = app
        .register("\u{202e}@\u{0}.com", "\u{fffd}".repeat(8).as_str())
        .await;

    assert_eq!(registered.status(), StatusCode::CREATED);
    assert_eq!(login.status(), StatusCode::OK);
    assert_error(odd, StatusCode::BAD_REQUEST, "invalid_email").await;
}

#[tokio::test]
async fn no_input_produces_a_server_error() {
    let app = spawn_app().await;
    let bodies = [
        "",
        "{}",
        "[]",
        "1",
        "\"s\"",
        "{\"email\":null,\"password\":null}",
        "{\"title\":null}",
        "{\"title\":\"t\",\"body\":\"b\",\"extra\":1}",
        "{\"email\":\"a@b.co\",\"password\":\"\\ud800\"}",
        "\u{feff}{}",
    ];
    let paths = [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/me",
        "/api/posts",
        "/auth/nope",
        "/api/nope",
    ];
    for path in paths {
        for body in bodies {
            for content_type in ["application/json", "text/plain"] {
                let response = app
                    .client
                    .post(app.url(path))
                    .header(CONTENT_TYPE, content_type)
                    .header("cookie", "access_token=x.y.z; refresh_token=%%%")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                assert!(
                    status.as_u16() < 500,
                    "{path} {body:?} {content_type}: {status}"
                );
                if status != StatusCode::NO_CONTENT
                    && status != StatusCode::CREATED
                    && status != StatusCode::OK
                {
                    let json: Value = response.json().await.unwrap();
                    assert!(json["error"].is_string(), "{path}: {json}");
                }
            }
        }
    }
}

#[tokio::test]
async fn an_unknown_route_under_auth_or_api_is_a_json_404() {
    let app = spawn_app().await;
    for path in [
        "/api/nope",
        "/api",
        "/auth/nope",
        "/auth",
        "/api/posts/1/extra",
        "/api/",
        "/auth/",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::GET, "/auth/login"),
        (reqwest::Method::DELETE, "/api/posts"),
        (reqwest::Method::PUT, "/auth/refresh"),
    ];
    for (method, path) in cases {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert!(
            response.headers().contains_key("allow"),
            "{path}: 405 names the allowed methods"
        );
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

#[tokio::test]
async fn a_state_changing_request_from_another_origin_is_refused() {
    // Arrange
    let app = spawn_app().await;
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });

    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        // Act
        let response = app
            .client
            .post(app.url("/auth/register"))
            .header(ORIGIN, origin)
            .json(&credentials)
            .send()
            .await
            .unwrap();

        // Assert
        assert_error(response, StatusCode::FORBIDDEN, "cross_origin_request").await;
    }
    let same_origin = app
        .client
        .post(app.url("/auth/register"))
        .header(ORIGIN, app.address.as_str())
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), StatusCode::CREATED);
}
