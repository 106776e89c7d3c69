use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Cookies, assert_error, spawn_app, spawn_app_with};

async fn live_refresh_tokens(app: &crate::helpers::TestApp) -> i64 {
    app.scalar(
        "select count(*) from refresh_tokens t join sessions s on s.id = t.session_id
         where t.rotated_at is null and s.revoked_at is null",
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_the_token_and_sets_both_cookies() {
    // Arrange
    let app = spawn_app().await;
    let signed_in = app.signed_in_user().await;

    // Act
    let response = app.refresh_with(&signed_in.refresh().value).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = Cookies::from(&response);
    assert_ne!(cookies.refresh().value, signed_in.refresh().value);
    assert_ne!(cookies.access().value, signed_in.access().value);
    assert_eq!(cookies.refresh().attribute("Path"), Some("/auth"));
    let body: Value = response.json().await.unwrap();
    assert!(body["user"]["email"].is_string());
    let me = app
        .get_with_access("/auth/me", &cookies.access().value)
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let next = app.refresh_with(&cookies.refresh().value).await;
    assert_eq!(
        next.status(),
        StatusCode::OK,
        "the new token rotates in turn"
    );
}

#[tokio::test]
async fn a_rotated_token_within_the_grace_window_gets_only_a_new_access_cookie() {
    // Arrange
    let app = spawn_app().await;
    let old = app.signed_in_user().await.refresh().value.clone();
    let first = app.refresh_with(&old).await;
    let newest = Cookies::from(&first).refresh().value.clone();

    // Act
    let response = app.refresh_with(&old).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = Cookies::from(&response);
    assert_eq!(cookies.0.len(), 1, "only the access cookie: {cookies:?}");
    assert!(!cookies.access().value.is_empty() && !cookies.access().is_cleared());
    assert!(
        cookies.get("refresh_token").is_none(),
        "never cleared nor replaced"
    );
    let me = app
        .get_with_access("/auth/me", &cookies.access().value)
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let winner = app.refresh_with(&newest).await;
    assert_eq!(
        winner.status(),
        StatusCode::OK,
        "the winner's token still works"
    );
}

#[tokio::test]
async fn a_rotated_token_after_the_grace_window_revokes_the_whole_session() {
    // Arrange
    let app = spawn_app_with(|s| s.refresh_reuse_grace = Duration::from_secs(1)).await;
    let old = app.signed_in_user().await.refresh().value.clone();
    let first = app.refresh_with(&old).await;
    let newest = Cookies::from(&first).refresh().value.clone();
    tokio::time::sleep(Duration::from_millis(1600)).await;

    // Act
    let response = app.refresh_with(&old).await;

    // Assert
    let cookies = Cookies::from(&response);
    assert!(
        cookies.access().is_cleared() && cookies.refresh().is_cleared(),
        "{cookies:?}"
    );
    assert_eq!(cookies.refresh().attribute("Path"), Some("/auth"));
    assert_error(response, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let newest_after = app.refresh_with(&newest).await;
    assert_error(
        newest_after,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    let old_again = app.refresh_with(&old).await;
    assert_error(old_again, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn a_missing_or_unknown_refresh_token_is_invalid_and_clears_the_cookies() {
    let app = spawn_app().await;

    let missing = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    let unknown = app.refresh_with("bm90IGEgdG9rZW4gd2UgaXNzdWVk").await;

    for response in [missing, unknown] {
        let cookies = Cookies::from(&response);
        assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
        assert!(response.headers().get("www-authenticate").is_none());
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
}

#[tokio::test]
async fn an_expired_refresh_token_is_invalid() {
    let app = spawn_app_with(|s| s.refresh_token_ttl = Duration::from_secs(1)).await;
    let refresh = app.signed_in_user().await.refresh().value.clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let response = app.refresh_with(&refresh).await;

    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn rotation_never_extends_the_absolute_session_lifetime() {
    // Arrange
    let app = spawn_app_with(|s| s.session_max_age = Duration::from_secs(2)).await;
    let mut refresh = app.signed_in_user().await.refresh().value.clone();

    // Act: keep rotating past the session's end. The loop's own limit is
    // generous so that a slow machine cannot step over the session's end.
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(20) {
        let response = app.refresh_with(&refresh).await;
        if response.status() != StatusCode::OK {
            last = Some(response);
            break;
        }
        refresh = Cookies::from(&response).refresh().value.clone();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Assert
    let response = last.expect("the session ended although it kept being refreshed");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn of_many_concurrent_refreshes_of_one_token_exactly_one_rotates() {
    // Arrange
    const CONCURRENT: usize = 30;
    let app = spawn_app().await;
    let token = app.signed_in_user().await.refresh().value.clone();

    // Act
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT {
        let client = reqwest::Client::new();
        let url = app.url("/auth/refresh");
        let token = token.clone();
        requests.spawn(async move {
            client
                .post(url)
                .header("cookie", format!("refresh_token={token}"))
                .send()
                .await
                .unwrap()
        });
    }
    let responses = requests.join_all().await;

    // Assert
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    let rotated: Vec<_> = responses
        .iter()
        .map(Cookies::from)
        .filter(|cookies| cookies.get("refresh_token").is_some())
        .collect();
    assert_eq!(rotated.len(), 1, "exactly one rotation");
    assert!(
        responses
            .iter()
            .all(|r| !Cookies::from(r).0.iter().any(|c| c.is_cleared()))
    );
    assert_eq!(live_refresh_tokens(&app).await, 1);
    let newest = rotated[0].refresh().value.clone();
    assert_eq!(app.refresh_with(&newest).await.status(), StatusCode::OK);
}
