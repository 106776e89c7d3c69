//! A revocation on one instance reaches `/api` on every other within the
//! contract's 2 seconds (`LISTEN`/`NOTIFY`), also when the listening
//! connection was lost meanwhile (read back on reconnect).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::revocation_feed::APPLICATION_NAME;
use sqlx::PgConnection;

use crate::common::{Cookies, PASSWORD};
use crate::harness::{
    Browser, CONTRACT_DEADLINE, Instance, Instances, assert_api_refuses_within_deadline, instances,
    spawn_instances, within,
};

async fn assert_accepted(at: &Instance, access: &str) {
    let response = at.get_with_access("/api/posts", access).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "/api/posts on {}",
        at.name
    );
}

/// Someone signed in on A: their browser, email and access token, which
/// `/api` on B accepts.
async fn signed_in_on_a(servers: &Instances) -> (Browser, String, String) {
    let browser = Browser::new();
    let (email, cookies) = browser.register(servers.a()).await;
    let access = cookies.access().value.clone();
    assert_accepted(servers.b(), &access).await;
    (browser, email, access)
}

/// The same person on another device, logged in on A: its browser and
/// access token, which `/api` on B accepts.
async fn another_device_on_a(servers: &Instances, email: &str) -> (Browser, String) {
    let device = Browser::new();
    let login = device.login(servers.a(), email, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let access = Cookies::from(&login).access().value.clone();
    assert_accepted(servers.b(), &access).await;
    (device, access)
}

#[tokio::test]
async fn after_a_logout_on_a_the_api_on_b_refuses_the_sessions_token_within_two_seconds() {
    // Arrange
    let servers = spawn_instances(2).await;
    let (browser, _, access) = signed_in_on_a(&servers).await;

    // Act
    let logout = browser.post(servers.a(), "/auth/logout").await;

    // Assert
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_api_refuses_within_deadline(servers.b(), &access).await;
}

#[tokio::test]
async fn every_other_kind_of_revocation_on_a_reaches_the_api_on_b() {
    // Arrange: four people, each about to lose a session in another way.
    let servers = instances(2).env("MAX_SESSIONS_PER_USER", "2").spawn().await;
    let a = servers.a();
    let (everywhere, _, everywhere_access) = signed_in_on_a(&servers).await;
    let (owner, owner_email, _) = signed_in_on_a(&servers).await;
    let (_, revoked_device_access) = another_device_on_a(&servers, &owner_email).await;
    let (changer, changer_email, _) = signed_in_on_a(&servers).await;
    let (_, signed_out_device_access) = another_device_on_a(&servers, &changer_email).await;
    let (_, busy_email, least_recently_used_access) = signed_in_on_a(&servers).await;
    another_device_on_a(&servers, &busy_email).await;

    // Act and assert, each in turn: logout everywhere; revoking another
    // session; a password change; a third session past the cap of two.
    let logout_all = everywhere.post(a, "/auth/logout-all").await;
    assert_eq!(logout_all.status(), StatusCode::NO_CONTENT);
    assert_api_refuses_within_deadline(servers.b(), &everywhere_access).await;

    let sessions: Value = owner.get(a, "/auth/sessions").await.json().await.unwrap();
    let other = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = owner.delete(a, &format!("/auth/sessions/{other}")).await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_api_refuses_within_deadline(servers.b(), &revoked_device_access).await;

    let body = json!({ "current_password": PASSWORD, "new_password": "a new and long passphrase" });
    let change = changer.post_json(a, "/auth/password", &body).await;
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    assert_api_refuses_within_deadline(servers.b(), &signed_out_device_access).await;

    another_device_on_a(&servers, &busy_email).await;
    assert_api_refuses_within_deadline(servers.b(), &least_recently_used_access).await;
}

#[tokio::test]
async fn a_revocation_made_while_b_lost_its_listening_connection_is_read_back_when_it_reconnects() {
    // Arrange: a session both accept, and no new connection to the
    // database allowed, so that the listeners cannot come back before the
    // revocation (the instances' pools keep the connections they have).
    let servers = spawn_instances(2).await;
    let (browser, _, access) = signed_in_on_a(&servers).await;
    let mut admin = servers.admin().await;
    allow_connections(&mut admin, &servers, false).await;

    // Act: end every listener's connection; once they are gone, log out
    // on A, whose notification then reaches no one.
    let listeners = listener_pids(&mut admin, &servers).await;
    assert_eq!(listeners.len(), 2, "one listener per instance");
    for pid in &listeners {
        sqlx::query("select pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let gone = within(Duration::from_secs(10), async || {
        listener_pids(&mut admin, &servers)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "the terminated listeners are gone");
    let logout = browser.post(servers.a(), "/auth/logout").await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    // B cannot have heard of it: only the read on reconnect can tell it.
    assert_accepted(servers.b(), &access).await;
    allow_connections(&mut admin, &servers, true).await;

    // Assert
    assert_api_refuses_within_deadline(servers.b(), &access).await;
    let back = within(CONTRACT_DEADLINE, async || {
        let back = listener_pids(&mut admin, &servers).await;
        (back.len() == 2).then_some(back)
    })
    .await
    .expect("both listeners reconnected");
    assert!(back.iter().all(|pid| !listeners.contains(pid)));
}

/// The server processes of the instances' revocation listeners.
async fn listener_pids(admin: &mut PgConnection, servers: &Instances) -> Vec<i32> {
    sqlx::query_scalar(
        "select pid from pg_stat_activity where datname = $1 and application_name = $2",
    )
    .bind(servers.database_name())
    .bind(APPLICATION_NAME)
    .fetch_all(admin)
    .await
    .unwrap()
}

async fn allow_connections(admin: &mut PgConnection, servers: &Instances, allow: bool) {
    let statement = format!(
        "alter database {} with allow_connections {allow}",
        servers.database_name()
    );
    sqlx::query(&statement).execute(admin).await.unwrap();
}
