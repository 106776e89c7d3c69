//! A small reverse proxy for the tests, standing for the TLS proxy of a real
//! deployment: it forwards every request to the server and appends the
//! address it saw to `X-Forwarded-For`, as nginx's
//! `$proxy_add_x_forwarded_for` does. Clients bind distinct loopback
//! addresses (127.0.0.2, 127.0.0.3, …; all of 127/8 is the loopback on
//! Linux) so the proxy sees each as a different person, while the server
//! sees only the proxy (127.0.0.1).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use reqwest::Client;
use reqwest::header::HOST;
use tokio::net::TcpListener;

/// `http://127.0.0.1:<port>` of a running proxy to `upstream`.
pub async fn spawn_proxy(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let forwarder = Forwarder {
        upstream: upstream.to_owned(),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let app = Router::new().fallback(forward).with_state(forwarder);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    address
}

/// A cookie-keeping client whose connections come from `local` (e.g.
/// `[127, 0, 0, 2]`): one person at one address.
pub fn client_at(local: [u8; 4]) -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::from(local))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[derive(Clone)]
struct Forwarder {
    upstream: String,
    client: Client,
}

async fn forward(
    State(forwarder): State<Forwarder>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut headers = parts.headers.clone();
    headers.remove(HOST);
    let forwarded = match headers.get("x-forwarded-for") {
        Some(earlier) => format!("{}, {}", earlier.to_str().unwrap(), peer.ip()),
        None => peer.ip().to_string(),
    };
    headers.insert("x-forwarded-for", forwarded.parse().unwrap());
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let upstream = forwarder
        .client
        .request(parts.method, format!("{}{path}", forwarder.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    // The body is passed on whole, with its length.
    headers.remove(reqwest::header::TRANSFER_ENCODING);
    let body = upstream.bytes().await.unwrap();
    let mut response = (status, Body::from(body)).into_response();
    *response.headers_mut() = headers;
    response
}
