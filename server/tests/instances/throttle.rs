//! The throttle is one allowance for all instances: failures counted on
//! one instance count on every other, a burst spread over them gets the
//! limit once, and when the database cannot count an attempt the attempt
//! is refused rather than let through uncounted.

use std::str::FromStr;

use reqwest::{Response, StatusCode};
use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;

use crate::common::{PASSWORD, assert_error, client};
use crate::harness::{Browser, Instance, Instances, instances};

/// The seconds a `429` says to wait, which must be within the window.
fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn failed_logins_on_a_count_on_b() {
    // Arrange: a limit of three, and an account.
    let servers = instances(2)
        .env("LOGIN_MAX_FAILURES", "3")
        .env("LOGIN_FAILURE_WINDOW_SECS", "600")
        .spawn()
        .await;
    let (email, _) = Browser::new().register(servers.a()).await;
    let guesser = Browser::new();

    // Act: two failures on A, one on B; then the right password on each.
    let mut failures = Vec::new();
    for at in [servers.a(), servers.a(), servers.b()] {
        failures.push(guesser.login(at, &email, "not the password").await.status());
    }
    let on_a = guesser.login(servers.a(), &email, PASSWORD).await;
    let on_b = guesser.login(servers.b(), &email, PASSWORD).await;

    // Assert: three failures in all, so both refuse, and say how long.
    assert_eq!(failures, [StatusCode::UNAUTHORIZED; 3]);
    for (name, response) in [("A", on_a), ("B", on_b)] {
        let wait = retry_after(&response);
        assert!((1..=600).contains(&wait), "{name}: Retry-After {wait}");
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
}

#[tokio::test]
async fn a_burst_of_guesses_spread_over_two_instances_gets_the_limit_once() {
    // Arrange
    let servers = instances(2).env("LOGIN_MAX_FAILURES", "3").spawn().await;
    let (email, _) = Browser::new().register(servers.a()).await;

    // Act: twelve guesses at once, half on each instance.
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..12 {
        let at = if i % 2 == 0 { servers.a() } else { servers.b() };
        let url = at.url("/auth/login");
        let body = json!({ "email": email, "password": format!("guess {i}") });
        guesses.spawn(async move {
            let response = client().post(url).json(&body).send().await.unwrap();
            response.status()
        });
    }
    let statuses = guesses.join_all().await;

    // Assert
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(
        (
            count(StatusCode::UNAUTHORIZED),
            count(StatusCode::TOO_MANY_REQUESTS)
        ),
        (3, 9),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_owners_device_gets_in_on_b_after_guesses_on_both_locked_the_account() {
    // Arrange: the owner signed up on A (so this browser is remembered);
    // a guesser from another address fails on A and on B.
    let servers = instances(2).env("LOGIN_MAX_FAILURES", "2").spawn().await;
    let owner = Browser::new();
    let (email, _) = owner.register(servers.a()).await;
    let guesser = client_at([127, 0, 0, 66]);
    let guess = |at: &Instance| {
        let body = json!({ "email": email, "password": "guess guess" });
        guesser.post(at.url("/auth/login")).json(&body).send()
    };
    let failures = [
        guess(servers.a()).await.unwrap().status(),
        guess(servers.b()).await.unwrap().status(),
    ];

    // Act
    let stranger = guess(servers.b()).await.unwrap();
    let remembered = owner.login(servers.b(), &email, PASSWORD).await;

    // Assert: the account is locked for everyone but the owner's device.
    assert_eq!(failures, [StatusCode::UNAUTHORIZED; 2]);
    assert_error(stranger, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(remembered.status(), StatusCode::OK);
}

#[tokio::test]
async fn when_the_database_cannot_count_an_attempt_the_login_is_refused_not_let_through() {
    // Arrange: a limit of one, and a throttle table the instances cannot
    // reach (as in an outage that spares the rest of the database).
    let servers = instances(2).env("LOGIN_MAX_FAILURES", "1").spawn().await;
    let browser = Browser::new();
    let (email, _) = browser.register(servers.a()).await;
    let mut database = connect_to_the_instances_database(&servers).await;
    rename(&mut database, "throttle", "throttle_away").await;

    // Act: the right password, then the throttle back.
    let during = browser.login(servers.b(), &email, PASSWORD).await;
    rename(&mut database, "throttle_away", "throttle").await;
    let after = browser.login(servers.b(), &email, PASSWORD).await;

    // Assert: refused with the generic 500, which names nothing inside,
    // and nothing counted: the one allowed attempt is still there.
    let body = assert_error(during, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(
        !message.contains("throttle") && !message.contains("relation"),
        "{message}"
    );
    assert_eq!(after.status(), StatusCode::OK);
}

async fn connect_to_the_instances_database(servers: &Instances) -> sqlx::PgConnection {
    let admin = std::env::var("TEST_POSTGRES_URL").expect("the harness checked it");
    let options = PgConnectOptions::from_str(&admin)
        .unwrap()
        .database(servers.database_name());
    sqlx::PgConnection::connect_with(&options).await.unwrap()
}

async fn rename(database: &mut sqlx::PgConnection, from: &str, to: &str) {
    sqlx::query(&format!("alter table {from} rename to {to}"))
        .execute(database)
        .await
        .unwrap();
}

/// A client with a cookie jar of its own, from another loopback address
/// (so its failures count on an address other than the owner's).
fn client_at(local: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .local_address(std::net::IpAddr::from(local))
        .build()
        .unwrap()
}
