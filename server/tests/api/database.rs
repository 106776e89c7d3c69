//! Which database the server runs on, and what it refuses at start.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, spawn_two_apps_at_once};

/// Runs the real server binary in an empty folder with only these
/// variables set, and returns its exit code and standard error. A server
/// that is still running after a while did not refuse: it is killed and
/// reported as `None`.
fn start_server_with(vars: &[(&str, &str)]) -> (Option<i32>, String, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(folder.path())
        .env_clear()
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (code, stderr, folder)
}

#[test]
fn a_database_url_of_no_supported_scheme_stops_the_server_at_start_naming_the_variable() {
    for url in ["mysql://root:hunter2@localhost/app", "postgres:", "app.db"] {
        // Act
        let (code, stderr, folder) =
            start_server_with(&[("DATABASE_URL", url), ("LEPTOS_SITE_ADDR", "127.0.0.1:0")]);

        // Assert
        assert_eq!(code, Some(2), "{url}: a configuration error; {stderr}");
        assert!(stderr.contains("DATABASE_URL"), "{url}: {stderr}");
        assert!(!stderr.contains("hunter2"), "no password echoed: {stderr}");
        let created: Vec<_> = std::fs::read_dir(folder.path()).unwrap().collect();
        assert!(created.is_empty(), "{url}: nothing created: {created:?}");
    }
}

#[tokio::test]
async fn two_servers_started_at_once_on_one_empty_database_both_start_and_share_it() {
    // Act: both find the database empty and migrate it at the same moment.
    let (a, b) = spawn_two_apps_at_once().await;

    // Assert
    let registered = a.register("ada@example.com", PASSWORD).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let logged_in = b.login("ada@example.com", PASSWORD).await;
    assert_eq!(logged_in.status(), StatusCode::OK, "b sees what a stored");
    assert_eq!(b.count("sessions").await, 2);
}
