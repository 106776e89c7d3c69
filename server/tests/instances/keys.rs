//! The key ring shared by several instances: `server keys rotate` run
//! beside them, as an operator would, signs no one out, and the tokens the
//! new key signs are accepted everywhere.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Cookies, added_kid, header_of, output_within};
use crate::harness::{Browser, instances, within};

/// Every instance reads the ring each second here (a new key then signs
/// two seconds after it was added): how long a poll for the new key may take.
const KEY_DEADLINE: Duration = Duration::from_secs(15);

/// The `kid` and algorithm of an access token.
#[tokio::test]
async fn a_key_rotated_while_two_instances_serve_signs_no_one_out_and_both_accept_its_tokens() {
    // Arrange: two instances sharing the ring through the database.
    let servers = instances(2).env("KEY_RELOAD_SECS", "1").spawn().await;
    let browser = Browser::new();
    let (_, registered) = browser.register(servers.a()).await;
    let old_access = registered.access().value.clone();
    let (old_kid, old_alg) = header_of(&old_access);
    assert_eq!(old_alg, Algorithm::HS256);

    // Act: the operator rotates to an EdDSA key, against the same database.
    let (mut rotate, _dir) = servers.server_command();
    let output = output_within(
        rotate.args(["keys", "rotate"]).env("SIGNING_ALG", "EdDSA"),
        Duration::from_secs(60),
    );

    // Assert: the command says which key it added...
    let new_kid = added_kid(&output);
    assert_ne!(new_kid, old_kid);
    // ... nobody is signed out: the old token works on both...
    for server in servers.all() {
        let posts = server.get_with_access("/api/posts", &old_access).await;
        assert_eq!(
            posts.status(),
            StatusCode::OK,
            "old token on {}",
            server.name
        );
    }
    // ... both publish the new public key before it signs...
    for server in servers.all() {
        let listed = within(KEY_DEADLINE, async || {
            let jwks: Value = reqwest::get(server.url("/.well-known/jwks.json"))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            jwks["keys"]
                .as_array()?
                .iter()
                .any(|key| key["kid"] == new_kid.as_str())
                .then_some(())
        })
        .await;
        assert!(
            listed.is_some(),
            "the JWKS of {} lists the new key",
            server.name
        );
    }
    // ... A starts signing with it (refreshing through the browser's jar)...
    let new_access = within(KEY_DEADLINE, async || {
        let refresh = browser.post(servers.a(), "/auth/refresh").await;
        assert_eq!(refresh.status(), StatusCode::OK);
        let access = Cookies::from(&refresh).access().value.clone();
        (header_of(&access) == (new_kid.clone(), Algorithm::EdDSA)).then_some(access)
    })
    .await
    .expect("A signs with the new key");
    // ... and both accept its tokens, and the old one still.
    for server in servers.all() {
        for (which, token) in [("new", &new_access), ("old", &old_access)] {
            let posts = server.get_with_access("/api/posts", token).await;
            assert_eq!(
                posts.status(),
                StatusCode::OK,
                "{which} token on {}",
                server.name
            );
        }
        let me = browser.get(server, "/auth/me").await;
        assert_eq!(me.status(), StatusCode::OK, "/auth/me on {}", server.name);
    }
    // B signs with it too, once it is active.
    let from_b = within(KEY_DEADLINE, async || {
        let refresh = browser.post(servers.b(), "/auth/refresh").await;
        assert_eq!(refresh.status(), StatusCode::OK);
        let access = Cookies::from(&refresh).access().value.clone();
        (header_of(&access).0 == new_kid).then_some(())
    })
    .await;
    assert!(from_b.is_some(), "B signs with the new key");
}
