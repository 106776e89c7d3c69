//! The signing key ring seen from outside: the JWKS document, EdDSA
//! tokens, and `server keys rotate` (the real binary) while the server
//! serves, with nobody signed out.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::Value;
use server::auth::keys::SigningAlg;
use server::auth::tokens::{Claims, ISSUER};

use crate::common::{added_kid, header_of};
use crate::helpers::{
    Cookies, TestApp, assert_api_accepts, assert_error, output_within, spawn_app, spawn_app_with,
    spawn_two_apps_at_once,
};

/// `server <args>` with exactly this server's settings (its data folder,
/// its database) plus `vars`, as an operator would run it beside it.
fn run_server_binary(app: &TestApp, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let settings = app.settings();
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .args(args)
        .env_clear()
        // No `.env` of the workspace is read from here.
        .current_dir(app.data_dir.path())
        .env("DATA_DIR", app.data_dir.path())
        .env("DATABASE_URL", settings.database_url.expose())
        .env(
            "KEY_RELOAD_SECS",
            settings.key_reload_interval.as_secs().to_string(),
        )
        .env("RUST_LOG", "warn");
    for (name, value) in vars {
        command.env(name, value);
    }
    output_within(&mut command, Duration::from_secs(60))
}

/// The `kid` and algorithm in an access token's header.
async fn jwks(app: &TestApp) -> JwkSet {
    app.get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap()
}

/// Polls `condition` every 100 ms for up to 10 s: for what another process
/// does on its own schedule (reading the ring every `KEY_RELOAD_SECS`).
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut condition: F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_jwks_is_an_empty_public_set_with_hmac_keys() {
    // Arrange
    let app = spawn_app().await;
    app.signed_in_user().await;

    // Act
    let response = app.get("/.well-known/jwks.json").await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=60");
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "keys": [] }));
    let post = app.post_json("/.well-known/jwks.json", &Value::Null).await;
    assert_error(post, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn the_jwks_lets_another_service_verify_an_eddsa_token_without_a_secret() {
    // Arrange
    let app = spawn_app_with(|s| s.signing_alg = SigningAlg::EdDsa).await;
    let access = app.signed_in_user().await.access().value.clone();

    // Act
    let body: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();

    // Assert
    let (kid, alg) = header_of(&access);
    assert_eq!(alg, Algorithm::EdDSA);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kid"], kid.as_str());
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &Value::from("OKP"),
            &Value::from("Ed25519"),
            &Value::from("EdDSA"),
            &Value::from("sig")
        )
    );
    assert!(key.get("d").is_none(), "never the private half");
    let set: JwkSet = serde_json::from_value(body.clone()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    let verified = jsonwebtoken::decode::<Claims>(
        &access,
        &DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap(),
        &validation,
    );
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn an_eddsa_server_signs_in_serves_the_api_refreshes_and_says_token_expired() {
    // Arrange
    let app = spawn_app_with(|s| s.signing_alg = SigningAlg::EdDsa).await;
    let signed_in = app.signed_in_user().await;
    let access = signed_in.access().value.clone();

    // Act / Assert: the API, a refresh, the API again with the new token.
    assert_api_accepts(&app, &access).await;
    let refreshed = app.refresh_with(&signed_in.refresh().value).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let new_access = Cookies::from(&refreshed).access().value.clone();
    assert_eq!(header_of(&new_access).1, Algorithm::EdDSA);
    assert_api_accepts(&app, &new_access).await;
    assert_eq!(
        app.get_with_access("/auth/me", &new_access).await.status(),
        StatusCode::OK
    );
    let expired = app.expired_copy_of(&new_access).await;
    let response = app.get_with_access("/api/posts", &expired).await;
    assert_eq!(response.headers()["www-authenticate"], "token_expired");
    assert_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}

#[tokio::test]
async fn a_token_keeps_working_across_server_keys_rotate_and_the_new_key_takes_over() {
    // Arrange: a server that reads the ring every second (so that the new
    // key is read, and starts signing two seconds after it was added).
    let app = spawn_app_with(|s| s.key_reload_interval = Duration::from_secs(1)).await;
    let signed_in = app.signed_in_user().await;
    let old_access = signed_in.access().value.clone();
    let (old_kid, _) = header_of(&old_access);

    // Act: the operator's command, with the server's own settings.
    let output = run_server_binary(&app, &["keys", "rotate"], &[("SIGNING_ALG", "EdDSA")]);

    // Assert: it says what it added...
    let new_kid = added_kid(&output);
    assert_ne!(new_kid, old_kid);
    // ... the token signed before goes on working...
    assert_api_accepts(&app, &old_access).await;
    // ... the new public key is published before it signs anything...
    eventually("the JWKS lists the new key", async || {
        jwks(&app).await.find(&new_kid).is_some()
    })
    .await;
    // ... and then it signs the tokens a refresh gives.
    let mut refresh = signed_in.refresh().value.clone();
    let mut new_access = String::new();
    eventually("a refresh signs with the new key", async || {
        let response = app.refresh_with(&refresh).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookies = Cookies::from(&response);
        refresh = cookies.refresh().value.clone();
        new_access = cookies.access().value.clone();
        header_of(&new_access) == (new_kid.clone(), Algorithm::EdDSA)
    })
    .await;
    assert_api_accepts(&app, &new_access).await;
    // The old key verifies until its tokens have expired.
    assert_api_accepts(&app, &old_access).await;
}

#[tokio::test]
async fn a_restarted_server_keeps_verifying_the_tokens_of_a_key_rotated_out() {
    // Rotating twice: the first key no longer signs, but its tokens live.
    let app = spawn_app().await;
    let signed_in = app.signed_in_user().await;
    for _ in 0..2 {
        let output = run_server_binary(&app, &["keys", "rotate"], &[]);
        assert!(output.status.success());
    }

    let app = app.restart().await;

    assert_eq!(
        app.get_with_access("/api/posts", &signed_in.access().value)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotate_refuses_a_configured_key_with_a_sentence() {
    let app = spawn_app().await;

    let output = run_server_binary(
        &app,
        &["keys", "rotate"],
        &[("JWT_SECRET", "0123456789abcdef0123456789abcdef")],
    );

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains("0123456789abcdef"), "never the key itself");
}

#[tokio::test]
async fn an_unknown_signing_alg_or_command_stops_the_binary_with_a_sentence() {
    let app = spawn_app().await;

    let bad_alg = run_server_binary(&app, &[], &[("SIGNING_ALG", "RS256")]);
    let bad_command = run_server_binary(&app, &["keys", "spin"], &[]);

    assert_eq!(bad_alg.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_alg.stderr);
    assert!(stderr.contains("SIGNING_ALG"), "{stderr}");
    assert_eq!(bad_command.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_command.stderr).contains("keys rotate"));
}

#[tokio::test]
async fn two_instances_starting_at_once_on_an_empty_store_share_one_signing_key() {
    // Arrange / Act
    let (a, b) = spawn_two_apps_at_once().await;

    // Assert: one key, whichever backend keeps it...
    let keys = if a.on_sqlite() {
        std::fs::read_dir(a.data_dir.path().join("signing_keys"))
            .unwrap()
            .count() as i64
    } else {
        a.count("signing_keys").await
    };
    assert_eq!(keys, 1);
    // ... so a token signed by one is good on the other.
    let access = a.signed_in_user().await.access().value.clone();
    assert_eq!(
        b.get_with_access("/api/posts", &access).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_eddsa_token_checked_before_is_refused_by_the_api_once_its_session_is_revoked() {
    // Arrange: the token has been through /api (and so is remembered).
    let app = spawn_app_with(|s| s.signing_alg = SigningAlg::EdDsa).await;
    let access = app.signed_in_user().await.access().value.clone();
    assert_api_accepts(&app, &access).await;

    // Act
    let logout = app.logout().await;

    // Assert
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let response = app.get_with_access("/api/posts", &access).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
