use reqwest::StatusCode;
use reqwest::header::USER_AGENT;
use serde_json::Value;

use crate::helpers::{Cookies, PASSWORD, assert_error, spawn_app};

async fn sessions_of(client: &reqwest::Client, app: &crate::helpers::TestApp) -> Vec<Value> {
    let response = client.get(app.url("/auth/sessions")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_session_list_shows_live_sessions_newest_first_with_user_agent_and_current() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let laptop = app.device("ada@example.com", PASSWORD, "Laptop/1.0").await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone/2.0").await;

    // Act
    let seen_by_phone = sessions_of(&phone, &app).await;
    let seen_by_laptop = sessions_of(&laptop, &app).await;

    // Assert
    assert_eq!(seen_by_phone.len(), 3, "register, laptop, phone");
    let agents: Vec<_> = seen_by_phone
        .iter()
        .map(|s| s["user_agent"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(agents[0].as_deref(), Some("Phone/2.0"));
    assert_eq!(agents[1].as_deref(), Some("Laptop/1.0"));
    for session in &seen_by_phone {
        for field in ["id", "created_at", "last_used_at", "expires_at"] {
            assert!(session[field].is_string(), "{field}: {session}");
        }
        assert!(session.as_object().unwrap().len() == 6, "{session}");
    }
    let current = |list: &[Value]| -> Vec<bool> {
        list.iter()
            .map(|s| s["current"].as_bool().unwrap())
            .collect()
    };
    assert_eq!(current(&seen_by_phone), [true, false, false]);
    assert_eq!(current(&seen_by_laptop), [false, true, false]);
}

#[tokio::test]
async fn a_refresh_moves_last_used_at() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let before = sessions_of(&app.client, &app).await[0]["last_used_at"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let refreshed = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);

    let after = sessions_of(&app.client, &app).await[0]["last_used_at"].clone();
    assert!(
        after.as_str().unwrap() > before.as_str().unwrap(),
        "{before} {after}"
    );
}

#[tokio::test]
async fn revoking_another_session_ends_it_and_keeps_this_one() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;
    let phone_session = sessions_of(&phone, &app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act
    let response = app
        .client
        .delete(app.url(&format!("/auth/sessions/{phone_session}")))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        Cookies::from(&response).0.is_empty(),
        "this device keeps its cookies"
    );
    let listed = sessions_of(&app.client, &app).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);
    // The phone's access token is still well signed, but its session is gone.
    let phone_list = phone.get(app.url("/auth/sessions")).send().await.unwrap();
    assert_error(phone_list, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let phone_refresh = phone.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_error(
        phone_refresh,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    // Revoking it again is still 204: DELETE is idempotent.
    let again = app
        .client
        .delete(app.url(&format!("/auth/sessions/{phone_session}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn revoking_the_current_session_clears_its_cookies() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let id = sessions_of(&app.client, &app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let response = app
        .client
        .delete(app.url(&format!("/auth/sessions/{id}")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = Cookies::from(&response);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
    let me = app.get("/auth/me").await;
    assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn someone_elses_session_or_an_unknown_id_is_not_found_and_left_alone() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let grace = app.device("ada@example.com", PASSWORD, "x").await;
    let grace_session = sessions_of(&grace, &app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mallory = crate::helpers::client();
    let registered = mallory
        .post(app.url("/auth/register"))
        .json(&serde_json::json!({ "email": "mallory@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);

    for id in [
        grace_session.as_str(),
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
        "%ZZ",
        "..%2F..%2Fetc",
        "ünïcode",
    ] {
        // Act
        let response = mallory
            .delete(app.url(&format!("/auth/sessions/{id}")))
            .send()
            .await
            .unwrap();

        // Assert
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(sessions_of(&grace, &app).await.len(), 2, "untouched");
}

#[tokio::test]
async fn logout_all_revokes_every_session_and_clears_the_cookies() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;

    // Act
    let response = app
        .client
        .post(app.url("/auth/logout-all"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = Cookies::from(&response);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
    for client in [&app.client, &phone] {
        let refresh = client.post(app.url("/auth/refresh")).send().await.unwrap();
        assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    }
    let live: i64 = app
        .scalar("select count(*) from sessions where revoked_at is null")
        .await;
    assert_eq!(live, 0);
    assert_eq!(app.count("sessions").await, 2, "revoked, not yet swept");
}

#[tokio::test]
async fn session_endpoints_need_a_valid_access_token() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::GET, "/auth/sessions"),
        (
            reqwest::Method::DELETE,
            "/auth/sessions/00000000-0000-0000-0000-000000000000",
        ),
        (reqwest::Method::POST, "/auth/logout-all"),
        (reqwest::Method::POST, "/auth/password"),
    ];
    for (method, path) in cases {
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .header(USER_AGENT, "x")
            .json(&serde_json::json!({ "current_password": PASSWORD, "new_password": "another long password" }))
            .send()
            .await
            .unwrap();
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

        let forged = reqwest::Client::new()
            .request(method, app.url(path))
            .header("cookie", "access_token=eyJhbGciOiJub25lIn0.e30.")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_error(forged, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn an_expired_access_token_gets_token_expired_on_session_endpoints() {
    let app = crate::helpers::spawn_app().await;
    let fresh = app.signed_in_user().await.access().value.clone();
    let access = app.expired_copy_of(&fresh).await;

    let response = app.get_with_access("/auth/sessions", &access).await;

    assert_eq!(response.headers()["www-authenticate"], "token_expired");
    assert_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}
