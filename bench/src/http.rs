//! A bare HTTP/1.1 client: one keep-alive connection per simulated user, no
//! pool, no cookie jar. The benchmark sets every cookie itself, so what it
//! sends is exactly what the table says it sends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Any failure; the benchmark only ever prints them.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One request, as every connection of a scenario sends it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    /// The whole `Cookie` header value, e.g. `access_token=...`.
    pub cookie: Option<String>,
    /// A JSON body; `None` sends no body.
    pub body: Option<Bytes>,
    /// Sent as the browser sends its own navigations (`Sec-Fetch-Mode:
    /// navigate`, `Accept: text/html`), which is what makes the server
    /// redirect an expired token through `/auth/refresh`.
    pub navigation: bool,
}

impl Call {
    pub fn get(path: &str) -> Self {
        Self {
            method: Method::GET,
            path: path.to_owned(),
            cookie: None,
            body: None,
            navigation: false,
        }
    }

    /// A `GET` of a page as the browser navigates to it.
    pub fn navigate(path: &str) -> Self {
        Self {
            navigation: true,
            ..Self::get(path)
        }
    }

    pub fn post_json(path: &str, body: &serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            cookie: None,
            body: Some(Bytes::from(body.to_string())),
            navigation: false,
        }
    }

    /// An empty POST, as `/auth/refresh` takes.
    pub fn post_empty(path: &str) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            cookie: None,
            body: None,
            navigation: false,
        }
    }

    pub fn with_cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookie = Some(cookie.into());
        self
    }
}

/// A whole response, read to its end so the connection can be reused.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// How long until the status line and headers had arrived.
    pub first_byte: Duration,
}

impl Answer {
    /// The value of cookie `name` set by this response, if it set a non-empty one.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next()?.split_once('='))
            .find(|(cookie, value)| cookie.trim() == name && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }

    /// The contract's `error` code, or the status when the body has none.
    pub fn error_code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|body| body.get("error")?.as_str().map(str::to_owned))
            .map_or_else(
                || self.status.as_u16().to_string(),
                |code| format!("{} {code}", self.status.as_u16()),
            )
    }
}

/// One open keep-alive connection to the server.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // Requests are small and latency is measured: never wait for Nagle.
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // A dropped or failed connection shows up as an error on the
            // next request, where it is counted.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: addr.to_string(),
        })
    }

    /// Sends `call` (with `cookie` instead of its own, when given) and reads
    /// the whole answer.
    pub async fn send(&mut self, call: &Call, cookie: Option<&str>) -> Result<Answer> {
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(header::HOST, self.host.as_str());
        if let Some(cookie) = cookie.or(call.cookie.as_deref()) {
            request = request.header(header::COOKIE, cookie);
        }
        if call.body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if call.navigation {
            request = request
                .header("sec-fetch-mode", "navigate")
                .header(header::ACCEPT, "text/html,application/xhtml+xml");
        }
        let request = request.body(Full::new(call.body.clone().unwrap_or_default()))?;

        self.sender.ready().await?;
        let started = Instant::now();
        let response = self.sender.send_request(request).await?;
        let first_byte = started.elapsed();
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
            first_byte,
        })
    }
}

/// One request on a fresh connection, for setting up users and checks.
pub async fn call_once(addr: SocketAddr, call: &Call) -> Result<Answer> {
    Conn::open(addr).await?.send(call, None).await
}
