use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Cookies, PASSWORD, assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn logging_in_answers_200_with_the_user_and_both_cookies() {
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;

    // Act
    let response = app.login("ada@example.com", PASSWORD).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = Cookies::from(&response);
    assert!(!cookies.access().value.is_empty());
    assert!(!cookies.refresh().value.is_empty());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
}

#[tokio::test]
async fn each_login_starts_a_new_session() {
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;

    app.login("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", PASSWORD).await;

    let sessions: i64 = app.scalar("select count(*) from sessions").await;
    assert_eq!(sessions, 3, "register and two logins");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer_and_both_pay_for_a_hash() {
    // Timing is checked against a floor only, so a busy machine can never make
    // this fail: argon2id at 19 MiB and two passes takes 13 to 22 ms a hash on
    // this project's 2-core machines and well over 5 ms on any current CPU,
    // while a login that skipped the hash for an unknown email would answer in
    // about a millisecond. (Measuring a hash inside the test does not work: the
    // other tests running beside it inflate that figure more than the logins.)
    const FLOOR: Duration = Duration::from_millis(5);
    // Arrange
    let app = spawn_app().await;
    app.register("ada@example.com", PASSWORD).await;

    // Act
    let mut wrong_password = Duration::MAX;
    let mut unknown_email = Duration::MAX;
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let response = app.login("ada@example.com", "not the password").await;
        wrong_password = wrong_password.min(started.elapsed());
        bodies.push(assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await);

        let started = Instant::now();
        let response = app.login("nobody@example.com", "not the password").await;
        unknown_email = unknown_email.min(started.elapsed());
        bodies.push(assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await);
    }

    // Assert
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
    for (path, fastest) in [
        ("wrong password", wrong_password),
        ("unknown email", unknown_email),
    ] {
        assert!(
            fastest >= FLOOR,
            "{path}: {fastest:?} is too quick to have verified an argon2id hash"
        );
    }
}

#[tokio::test]
async fn too_many_failures_are_rate_limited_with_retry_after() {
    // Arrange
    let app = spawn_app_with(|s| {
        s.login_max_failures = 3;
        s.login_failure_window = Duration::from_secs(60);
    })
    .await;
    app.register("ada@example.com", PASSWORD).await;
    for _ in 0..3 {
        let response = app.login("ada@example.com", "not the password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    // Act: even the right password is refused now.
    let response = app.login("ada@example.com", PASSWORD).await;

    // Assert
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn failures_for_unknown_accounts_are_throttled_per_address_too() {
    let app = spawn_app_with(|s| s.login_max_failures = 2).await;
    app.login("a@example.com", "whatever password").await;
    app.login("b@example.com", "whatever password").await;

    let response = app.login("c@example.com", "whatever password").await;

    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_limit() {
    // Arrange
    let app = spawn_app_with(|s| s.login_max_failures = 3).await;
    app.register("ada@example.com", PASSWORD).await;

    // Act: twelve guesses at once, all before any of them has been checked.
    let guesses = (0..12).map(|i| {
        let client = app.client.clone();
        let url = app.url("/auth/login");
        async move {
            client
                .post(url)
                .json(&serde_json::json!({ "email": "ada@example.com", "password": format!("guess {i}") }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_join_all(guesses).await;

    // Assert
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (3, 9), "{statuses:?}");
}

/// Sleeping only ever proves that *at least* some time has passed, so every
/// assertion here leans that way: a slow machine can make the attacker's
/// knocks arrive late, which the test allows, but never make the owner's
/// login come early. (The throttle's own tests pass its clock in.)
#[tokio::test]
async fn the_lockout_ends_with_the_window_even_if_the_attacker_keeps_trying() {
    // Arrange: two failures lock the account for the window after them.
    const WINDOW: Duration = Duration::from_secs(2);
    let app = spawn_app_with(|s| {
        s.login_max_failures = 2;
        s.login_failure_window = WINDOW;
    })
    .await;
    app.register("ada@example.com", PASSWORD).await;
    let first_failure = Instant::now();
    for _ in 0..2 {
        app.login("ada@example.com", "wrong password").await;
    }
    // The server counted the last failure before this moment.
    let lockout_over = Instant::now() + WINDOW;

    // Act: the attacker keeps hammering until the lockout is nearly over;
    // were refused attempts counted, the last of them would lock the
    // account for most of another window.
    while first_failure.elapsed() < WINDOW - Duration::from_millis(300) {
        let status = app
            .login("ada@example.com", "wrong password")
            .await
            .status();
        if status != StatusCode::TOO_MANY_REQUESTS {
            // Only once the window since the first failure has passed; the
            // knock is then a new failure, so the attacker stops.
            assert!(
                first_failure.elapsed() >= WINDOW,
                "let in while locked: {status}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep_until(lockout_over.into()).await;

    // Assert: ...which did not extend it: the owner gets in.
    let owner = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_successful_login_clears_the_accounts_failures() {
    let app = spawn_app_with(|s| s.login_max_failures = 3).await;
    app.register("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", "wrong password").await;
    app.login("ada@example.com", "wrong password").await;

    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );

    // The account starts over, but the address keeps its two failures, so
    // one more failure from here is allowed and the next is refused.
    let third = app.login("ada@example.com", "wrong password").await;
    assert_eq!(third.status(), StatusCode::UNAUTHORIZED);
    let fourth = app.login("ada@example.com", "wrong password").await;
    assert_error(fourth, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn futures_join_all<F: std::future::Future<Output = StatusCode> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<StatusCode> {
    let mut set = tokio::task::JoinSet::new();
    for future in futures {
        set.spawn(future);
    }
    set.join_all().await
}
