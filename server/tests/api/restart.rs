use reqwest::StatusCode;
use server::config::Secret;

use crate::helpers::{Cookies, spawn_app};

#[tokio::test]
async fn sessions_survive_a_restart_with_the_same_data_folder() {
    // Arrange
    let app = spawn_app().await;
    let signed_in = app.signed_in_user().await;
    let key_file = app.data_dir.path().join("signing_keys/key-1.json");
    let key_before = app.on_sqlite().then(|| std::fs::read(&key_file).unwrap());

    // Act
    let app = app.restart().await;

    // Assert
    if let Some(key_before) = key_before {
        assert_eq!(
            std::fs::read(&key_file).unwrap(),
            key_before,
            "the key is kept"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
    let me = app
        .get_with_access("/auth/me", &signed_in.access().value)
        .await;
    assert_eq!(me.status(), StatusCode::OK, "access tokens stay valid");
    let refreshed = app.refresh_with(&signed_in.refresh().value).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "refresh tokens stay valid"
    );
    assert!(Cookies::from(&refreshed).get("refresh_token").is_some());
}

#[tokio::test]
async fn the_database_is_created_with_its_schema_on_first_start() {
    let app = spawn_app().await;

    if app.on_sqlite() {
        assert!(app.data_dir.path().join("app.db").exists());
    }
    let response = app
        .register("ada@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_configured_key_is_used_instead_of_a_key_file() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.jwt_secret = Some(Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()))
    })
    .await;

    app.signed_in_user().await;

    assert!(!app.data_dir.path().join("signing_keys").exists());
}
