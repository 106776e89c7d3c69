//! A revocation on one instance reaches `/api` on every other within the
//! contract's 2 seconds (`LISTEN`/`NOTIFY`), also when the listening
//! connection was lost meanwhile (read back on reconnect).

use std::time::Duration;

use reqwest::StatusCode;
use server::revocation_feed::APPLICATION_NAME;
use sqlx::PgConnection;

use crate::common::assert_error;
use crate::harness::{Browser, CONTRACT_DEADLINE, Instance, Instances, spawn_instances, within};

/// `/api` on `at` refuses `access` as a revoked session's token, now or
/// within the contract's deadline.
async fn assert_refused_within_deadline(at: &Instance, access: &str) {
    let refused = within(CONTRACT_DEADLINE, async || {
        let response = at.get_with_access("/api/posts", access).await;
        (response.status() != StatusCode::OK).then_some(response)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "/api/posts on {} still accepts the revoked session's token after {CONTRACT_DEADLINE:?}",
            at.name
        )
    });
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn assert_accepted(at: &Instance, access: &str) {
    let response = at.get_with_access("/api/posts", access).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "/api/posts on {}",
        at.name
    );
}

/// A browser signed in on A, and its access token, which `/api` on B
/// accepts.
async fn signed_in_on_a(servers: &Instances) -> (Browser, String) {
    let browser = Browser::new();
    let (_, cookies) = browser.register(servers.a()).await;
    let access = cookies.access().value.clone();
    assert_accepted(servers.b(), &access).await;
    (browser, access)
}

#[tokio::test]
async fn a_revocation_made_while_b_lost_its_listening_connection_is_read_back_when_it_reconnects() {
    // Arrange: a session both accept, and no new connection to the
    // database allowed, so that the listeners cannot come back before the
    // revocation (the instances' pools keep the connections they have).
    let servers = spawn_instances(2).await;
    let (browser, access) = signed_in_on_a(&servers).await;
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
    assert_refused_within_deadline(servers.b(), &access).await;
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
