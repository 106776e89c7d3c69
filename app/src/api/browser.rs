//! The real transport: `fetch` through gloo-net. Same-origin requests carry
//! the HttpOnly cookies by themselves, so nothing here touches a token.

use std::future::Future;

use gloo_net::http::Request;
use web_sys::RequestCache;

use super::protocol::{ApiRequest, ClientError, Method, RawResponse, Transport};

#[derive(Clone, Copy, Debug, Default)]
pub struct Fetch;

impl Transport for Fetch {
    fn send(&self, request: &ApiRequest) -> impl Future<Output = Result<RawResponse, ClientError>> {
        let request = request.clone();
        async move {
            let network = |error: gloo_net::Error| ClientError::Network(error.to_string());
            let builder = match request.method {
                Method::Get => Request::get(&request.path),
                Method::Post => Request::post(&request.path),
                Method::Delete => Request::delete(&request.path),
            }
            // Answers about who is signed in must never come from a cache.
            .cache(RequestCache::NoStore);
            let built = match request.body {
                Some(body) => builder
                    .header("Content-Type", "application/json")
                    .body(body),
                None => builder.build(),
            };
            let response = built.map_err(network)?.send().await.map_err(network)?;
            Ok(RawResponse {
                status: response.status(),
                www_authenticate: response.headers().get("www-authenticate"),
                body: response.text().await.map_err(network)?,
            })
        }
    }
}
