//! The abuse defences of `docs/contract.md` "Throttling and abuse" and "CSRF",
//! seen from clients: behind a proxy, against lockout of the owner, and the
//! limits on registrations, unknown refreshes and sessions.

use reqwest::header::{ORIGIN, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::forwarding_proxy::{client_at, spawn_proxy};
use std::time::Duration;

use server::client_addr::TrustedProxies;
use server::config::Settings;

use crate::helpers::{PASSWORD, TestDb, assert_error, json_body, spawn_app, spawn_app_with};

const NEW_PASSWORD: &str = "a brand new long password";

async fn login_at(client: &Client, base: &str, email: &str, password: &str) -> Response {
    client
        .post(format!("{base}/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The test proxy (`spawn_proxy`) connects from 127.0.0.1.
fn trust_the_local_proxy(settings: &mut Settings) {
    settings.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
}

async fn register_at(client: &Client, base: &str, email: &str) -> Response {
    client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failures_leave_anothers_login_alone() {
    // Arrange: everyone reaches the server through one proxy.
    let app = spawn_app_with(|s| {
        trust_the_local_proxy(s);
        s.login_max_failures = 3;
    })
    .await;
    let proxy = spawn_proxy(&app.address).await;
    let (guesser, owner) = (client_at([127, 0, 0, 2]), client_at([127, 0, 0, 3]));
    register_at(&owner, &proxy, "ada@example.com").await;

    // Act: the guesser fails against other accounts until refused.
    for i in 0..3 {
        let email = format!("nobody{i}@example.com");
        let failed = login_at(&guesser, &proxy, &email, "wrong password").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = login_at(&guesser, &proxy, "nobody9@example.com", "wrong password").await;
    let owner_login = login_at(&owner, &proxy, "ada@example.com", PASSWORD).await;

    // Assert
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(owner_login.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_trusted_proxies_everyone_behind_the_proxy_shares_one_allowance() {
    // The same traffic as above, with the setting left out: this is what
    // the setting is for (and shows the test above can fail).
    let app = spawn_app_with(|s| s.login_max_failures = 3).await;
    let proxy = spawn_proxy(&app.address).await;
    let (guesser, owner) = (client_at([127, 0, 0, 2]), client_at([127, 0, 0, 3]));
    register_at(&owner, &proxy, "ada@example.com").await;
    for i in 0..3 {
        let email = format!("nobody{i}@example.com");
        login_at(&guesser, &proxy, &email, "wrong password").await;
    }

    let owner_login = login_at(&client(), &proxy, "ada@example.com", PASSWORD).await;

    assert_error(owner_login, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

fn client() -> Client {
    crate::helpers::client()
}

#[tokio::test]
async fn a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    // Arrange: a trusted proxy exists, but this client talks to the server
    // directly and claims a new address on every try.
    let app = spawn_app_with(|s| {
        trust_the_local_proxy(s);
        s.login_max_failures = 3;
    })
    .await;
    let direct = client_at([127, 0, 0, 2]);
    let guess = |i: u8| {
        direct
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(
                &json!({ "email": format!("nobody{i}@example.com"), "password": "wrong password" }),
            )
            .send()
    };

    // Act
    for i in 0..3 {
        assert_eq!(guess(i).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let fourth = guess(3).await.unwrap();

    // Assert: all four counted against 127.0.0.2.
    assert_error(fourth, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn an_attacker_cannot_lock_the_owner_out_of_their_own_account() {
    // Arrange: V signed up (and so signed in) on their laptop.
    let app = spawn_app_with(trust_the_local_proxy).await;
    let proxy = spawn_proxy(&app.address).await;
    let laptop = client_at([127, 0, 0, 2]);
    let registered = register_at(&laptop, &proxy, "v@example.com").await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let device = registered
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|h| h.to_str().unwrap().to_owned())
        .find(|h| h.starts_with("device="))
        .expect("a device cookie is set on sign-in");
    assert!(device.contains("HttpOnly"), "{device}");

    // Act: ten wrong passwords against V from another address...
    let attacker = client_at([127, 0, 0, 66]);
    for _ in 0..10 {
        let failed = login_at(&attacker, &proxy, "v@example.com", "guess guess").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let attacker_again = login_at(&attacker, &proxy, "v@example.com", PASSWORD).await;
    // ...V, signed in, changes the password...
    let change = laptop
        .post(format!("{proxy}/auth/password"))
        .json(&json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    // ...and signs in again on the laptop, and on a phone never used before.
    let laptop_login = login_at(&laptop, &proxy, "v@example.com", NEW_PASSWORD).await;
    let phone = client_at([127, 0, 0, 3]);
    let phone_login = login_at(&phone, &proxy, "v@example.com", NEW_PASSWORD).await;

    // Assert
    assert_error(
        attacker_again,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        laptop_login.status(),
        StatusCode::OK,
        "the remembered device"
    );
    assert_error(phone_login, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_remembered_devices_own_failures_still_count_against_it() {
    let app = spawn_app_with(|s| s.login_max_failures = 3).await;
    app.register("ada@example.com", PASSWORD).await;
    let other_device = client_at([127, 0, 0, 2]);

    for _ in 0..3 {
        app.login("ada@example.com", "wrong password").await;
    }
    let same_device = app.login("ada@example.com", PASSWORD).await;
    let elsewhere = login_at(&other_device, &app.address, "ada@example.com", PASSWORD).await;

    assert_error(same_device, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "the device's failures were not the account's"
    );
}

#[tokio::test]
async fn other_peoples_failures_never_refuse_a_password_change_but_its_own_are_limited() {
    // Arrange: the account is locked by someone else's guesses.
    let app = spawn_app_with(|s| s.login_max_failures = 2).await;
    app.register("ada@example.com", PASSWORD).await;
    let attacker = client_at([127, 0, 0, 66]);
    for _ in 0..2 {
        login_at(&attacker, &app.address, "ada@example.com", "guess guess").await;
    }
    let change = |current: &'static str| {
        app.client
            .post(app.url("/auth/password"))
            .json(&json!({ "current_password": current, "new_password": NEW_PASSWORD }))
            .send()
    };

    // Act
    let wrong: Vec<_> = [change("wrong one!").await, change("wrong two!").await]
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let third = change(PASSWORD).await.unwrap();

    // Assert: two of its own failures, then refused for this session.
    assert_eq!(wrong, [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED]);
    assert_error(third, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_registration_flood_from_one_address_is_refused_past_the_limit() {
    // Arrange
    let app = spawn_app_with(|s| s.register_max_per_window = 3).await;
    let other_address = client_at([127, 0, 0, 2]);
    register_at(&other_address, &app.address, "ada@example.com").await;

    // Act
    let mut statuses = Vec::new();
    for i in 0..3 {
        let response = app.register(&format!("bot{i}@example.com"), PASSWORD).await;
        statuses.push(response.status());
    }
    let flood = app.register("bot9@example.com", PASSWORD).await;
    let login_elsewhere = login_at(&other_address, &app.address, "ada@example.com", PASSWORD).await;

    // Assert
    assert_eq!(statuses, [StatusCode::CREATED; 3]);
    assert!(flood.headers().contains_key("retry-after"));
    assert_error(flood, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(login_elsewhere.status(), StatusCode::OK);
    assert_eq!(app.count("users").await, 4, "the refused one wrote nothing");
}

#[tokio::test]
async fn refreshes_with_unknown_tokens_are_limited_per_address() {
    let app = spawn_app_with(|s| s.unknown_refresh_max_per_window = 3).await;
    let signed_in = app.signed_in_user().await;

    for i in 0..3 {
        let response = app.refresh_with(&format!("made-up-token-{i}")).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    let fourth = app.refresh_with("made-up-token-9").await;
    let elsewhere = client_at([127, 0, 0, 2])
        .post(app.url("/auth/refresh"))
        .header(
            "cookie",
            format!("refresh_token={}", signed_in.refresh().value),
        )
        .send()
        .await
        .unwrap();

    assert_error(fourth, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(elsewhere.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_login_past_the_session_cap_revokes_the_least_recently_used_session() {
    // Arrange: three sessions, of which the first was used last.
    let app = spawn_app_with(|s| s.max_sessions_per_user = 3).await;
    app.register("ada@example.com", PASSWORD).await;
    let tablet = app.device("ada@example.com", PASSWORD, "Tablet").await;
    let phone = app.device("ada@example.com", PASSWORD, "Phone").await;
    let used = app
        .client
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), StatusCode::OK);

    // Act
    let watch = app.device("ada@example.com", PASSWORD, "Watch").await;

    // Assert: the tablet's session (least recently used) is gone.
    let refresh = |client: &Client| client.post(app.url("/auth/refresh")).send();
    assert_error(
        refresh(&tablet).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    for client in [&app.client, &phone, &watch] {
        assert_eq!(refresh(client).await.unwrap().status(), StatusCode::OK);
    }
    let list: Value = json_body(watch.get(app.url("/auth/sessions"))).await;
    let agents: Vec<_> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(agents.len(), 3, "{agents:?}");
    assert!(!agents.contains(&"Tablet".to_owned()), "{agents:?}");
}

#[tokio::test]
async fn with_a_public_origin_only_that_origin_may_post() {
    let app = spawn_app_with(|s| s.public_origin = Some("https://app.example.com".into())).await;
    let post = |origin: Option<String>, fetch_site: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/auth/login"))
            .json(&json!({ "email": "ada@example.com", "password": PASSWORD }));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };

    let ours = post(Some("https://app.example.com".into()), None)
        .await
        .unwrap();
    let host_only = post(Some(app.address.clone()), None).await.unwrap();
    let cross_site = post(None, Some("cross-site")).await.unwrap();
    let same_origin = post(None, Some("same-origin")).await.unwrap();

    assert_error(ours, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_error(host_only, StatusCode::FORBIDDEN, "cross_origin_request").await;
    assert_error(cross_site, StatusCode::FORBIDDEN, "cross_origin_request").await;
    assert_error(same_origin, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn emails_are_one_account_in_every_unicode_spelling() {
    let app = spawn_app().await;
    let composed = "jos\u{e9}@example.com";
    let decomposed = "jose\u{301}@example.com";
    app.register(composed, PASSWORD).await;

    let login = app.login(decomposed, PASSWORD).await;
    let twin = app.register(decomposed, PASSWORD).await;
    let invisible = app.register("ada\u{200b}@example.com", PASSWORD).await;

    assert_eq!(login.status(), StatusCode::OK);
    assert_error(twin, StatusCode::CONFLICT, "email_taken").await;
    assert_error(invisible, StatusCode::BAD_REQUEST, "invalid_email").await;
}

#[tokio::test]
async fn a_refresh_that_waited_for_the_write_lock_is_not_taken_for_reuse() {
    // Arrange: a one-second grace window, and the database's write lock
    // held by another connection.
    let app = spawn_app_with(|s| s.refresh_reuse_grace = Duration::from_secs(1)).await;
    let signed_in = app.signed_in_user().await;
    let token = signed_in.refresh().value.clone();
    // (On PostgreSQL, where writers lock rows rather than the database,
    // the refresh tokens' table stands for it.)
    let blocker = hold_write_lock(&app.db).await;

    // Act: the first tab's refresh waits behind the lock for longer than
    // the grace window (the server's clock is real: this one sleep is the
    // point of the test), then rotates; the second tab's refresh of the
    // same token comes right after that rotation.
    let first = tokio::spawn({
        let app_url = app.url("/auth/refresh");
        let token = token.clone();
        async move {
            Client::new()
                .post(app_url)
                .header("cookie", format!("refresh_token={token}"))
                .send()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    blocker.release().await;
    let first = first.await.unwrap();
    let second = app.refresh_with(&token).await;

    // Assert: measured from the rotation, the second is within grace.
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK, "{:?}", second.text().await);
}

#[tokio::test]
async fn logging_out_keeps_the_device_remembered() {
    let app = spawn_app_with(|s| s.login_max_failures = 2).await;
    app.register("ada@example.com", PASSWORD).await;
    let logout = app.logout().await;
    let attacker = client_at([127, 0, 0, 66]);
    for _ in 0..2 {
        login_at(&attacker, &app.address, "ada@example.com", "guess guess").await;
    }

    let back = app.login("ada@example.com", PASSWORD).await;

    assert_eq!(logout.headers()["clear-site-data"], "\"cache\"");
    assert!(
        logout
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("device=")),
        "the device cookie is not cleared"
    );
    assert_eq!(back.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_html_forms_remember_the_device_and_judge_origins_by_the_public_origin() {
    // Arrange: an account locked by someone else's guesses, and a browser
    // that signed up through the register form.
    let app = spawn_app_with(|s| {
        s.login_max_failures = 2;
        s.public_origin = Some("https://app.example.com".into());
    })
    .await;
    let form = |path: &'static str, origin: &'static str, password: &'static str| {
        app.client
            .post(app.url(path))
            .header(ORIGIN, origin)
            .form(&[("email", "ada@example.com"), ("password", password)])
            .send()
    };
    let registered = form("/register", "https://app.example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    app.logout().await;
    let attacker = client_at([127, 0, 0, 66]);
    for _ in 0..2 {
        login_at(&attacker, &app.address, "ada@example.com", "guess guess").await;
    }

    // Act
    let from_host_origin = form("/login", "http://127.0.0.1", PASSWORD).await.unwrap();
    let remembered = form("/login", "https://app.example.com", PASSWORD)
        .await
        .unwrap();

    // Assert
    assert_eq!(from_host_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        remembered.status(),
        StatusCode::SEE_OTHER,
        "the form's device cookie"
    );
}

/// A transaction on its own connection that keeps the refresh path's
/// writes waiting until it is released.
enum WriteLock {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

async fn hold_write_lock(db: &TestDb) -> WriteLock {
    match db {
        TestDb::Sqlite(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("begin immediate")
                .execute(&mut *conn)
                .await
                .unwrap();
            WriteLock::Sqlite(conn)
        }
        TestDb::Postgres(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("begin").execute(&mut *conn).await.unwrap();
            sqlx::query("lock table refresh_tokens in exclusive mode")
                .execute(&mut *conn)
                .await
                .unwrap();
            WriteLock::Postgres(conn)
        }
    }
}

impl WriteLock {
    async fn release(self) {
        match self {
            Self::Sqlite(mut conn) => {
                sqlx::query("rollback").execute(&mut *conn).await.unwrap();
            }
            Self::Postgres(mut conn) => {
                sqlx::query("rollback").execute(&mut *conn).await.unwrap();
            }
        }
    }
}
