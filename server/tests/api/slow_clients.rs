//! Slow and hanging clients, and starting with bad keys: the server is
//! started here directly, to control its shutdown and see its start fail.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use server::config::Settings;
use server::startup::Application;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest any of these tests waits for the server to do something; far
/// above the one-second timeouts they configure, so they never decide it.
const GUARD: Duration = Duration::from_secs(20);

struct Running {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    served: JoinHandle<anyhow::Result<()>>,
    _data: TempDir,
}

fn settings(
    data: &TempDir,
    vars: &[(&str, &str)],
) -> Result<Settings, server::config::ConfigError> {
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATA_DIR".into(), data.path().display().to_string()),
        ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
    ]);
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Settings::from_lookup(|name| env.get(name).cloned())
}

fn leptos_options() -> leptos::config::LeptosOptions {
    leptos::config::LeptosOptions::builder()
        .output_name("auth-demo")
        .site_root("target/site")
        .build()
}

async fn start(vars: &[(&str, &str)]) -> Running {
    let data = tempfile::tempdir().unwrap();
    let application = Application::build(settings(&data, vars).unwrap(), leptos_options())
        .await
        .unwrap();
    let address = application.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    Running {
        address,
        stop,
        served,
        _data: data,
    }
}

/// Reads until the server closes the connection; `Err` if it does not
/// within [`GUARD`].
/// A connection that has sent a login's head and the first bytes of its
/// 100-byte body, and then nothing.
async fn half_a_login(server: &Running) -> TcpStream {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    stream
}

async fn closed_by_server(stream: &mut TcpStream) -> Result<Vec<u8>, tokio::time::error::Elapsed> {
    let mut received = Vec::new();
    tokio::time::timeout(GUARD, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .map(|()| received)
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected_at_the_header_timeout() {
    // Arrange
    let server = start(&[("HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();

    // Act: a request head one byte at a time, never finished.
    let trickle = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut rejoined = Vec::new();
    let closed = tokio::time::timeout(GUARD, reader.read_to_end(&mut rejoined)).await;

    // Assert: closed without an answer to the unfinished request.
    assert!(
        closed.is_ok(),
        "the connection was still open after {GUARD:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rejoined).contains("200 OK"),
        "{rejoined:?}"
    );
    trickle.abort();
    let _ = server.stop.send(());
}

#[tokio::test]
async fn shutdown_completes_while_a_client_hangs_mid_request() {
    // Arrange: a request whose body never arrives, with only the shutdown
    // timeout short.
    let server = start(&[
        ("SHUTDOWN_TIMEOUT_SECS", "1"),
        ("REQUEST_TIMEOUT_SECS", "600"),
        ("HEADER_READ_TIMEOUT_SECS", "600"),
    ])
    .await;
    let mut hanging = half_a_login(&server).await;
    // The health check answers, so the hanging request is being served.
    let health = reqwest::get(format!("http://{}/healthz", server.address))
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);

    // Act
    server.stop.send(()).unwrap();
    let stopped = tokio::time::timeout(GUARD, server.served).await;

    // Assert
    let result = stopped.expect("the server did not stop while a client hung");
    result.unwrap().unwrap();
    assert!(closed_by_server(&mut hanging).await.is_ok());
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_is_answered_408_in_json() {
    let server = start(&[("REQUEST_TIMEOUT_SECS", "1")]).await;
    let mut stream = half_a_login(&server).await;

    let answer = closed_by_server(&mut stream).await.unwrap();

    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    let _ = server.stop.send(());
}

#[tokio::test]
async fn a_weak_configured_key_is_refused_at_start_naming_its_variable() {
    let data = tempfile::tempdir().unwrap();
    for key in ["x".repeat(64), "short but not repeated".to_owned()] {
        let error = settings(&data, &[("JWT_SECRET", &key)]).unwrap_err();

        let message = error.to_string();
        assert!(message.contains("JWT_SECRET"), "{message}");
        assert!(
            !message.contains(&key),
            "the key is never echoed: {message}"
        );
    }
}

#[tokio::test]
async fn a_partial_key_file_is_refused_at_start() {
    // Arrange: what a crash in the middle of writing a key would leave.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("jwt_secret"), "c2hvcnQgYW5kIGN1dCBvZmY").unwrap();

    // Act
    let started = Application::build(settings(&data, &[]).unwrap(), leptos_options()).await;

    // Assert
    let error = started
        .err()
        .expect("the server must not start")
        .to_string();
    assert!(error.contains("jwt_secret"), "{error}");
}
