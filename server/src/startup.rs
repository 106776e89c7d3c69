//! Builds the application from its settings and runs it. The binary and the
//! integration tests start the server through exactly this code.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::{App, shell};
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, header};
use axum::middleware;
use axum::response::Response;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::Service as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::cookies::AuthCookies;
use crate::auth::device::DeviceCookies;
use crate::auth::keys::KeyStorage;
use crate::auth::password::PasswordHasher;
use crate::auth::revoked::RevokedSessions;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::Throttles;
use crate::auth::tokens::TokenService;
use crate::client_addr::resolve_client_address;
use crate::config::Settings;
use crate::error::{method_not_allowed, not_found, panic_response};
use crate::middleware::{
    BODY_LIMIT_BYTES, OriginPolicy, limit_request_time, reject_cross_origin, reject_oversized_body,
    security_headers,
};
use crate::pages::{provide_page_context, tell_the_truth};
use crate::revocation_feed::RevocationFeed;
use crate::state::AppState;
use crate::store::Store;
use crate::{assets, cleanup, routes};

/// A server bound to its address, with its store open and migrated, ready
/// to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    cleanup: JoinHandle<()>,
    /// Reads the key ring again now and then (none for a configured key).
    key_reloader: Option<JoinHandle<()>>,
    revocation_feed: RevocationFeed,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Application {
    /// Opens (or creates) the data folder, the database and the signing key
    /// ring, and binds `settings.site_addr` (port 0 picks a free port).
    pub async fn build(settings: Settings, leptos_options: LeptosOptions) -> anyhow::Result<Self> {
        create_private_dir(&settings.data_dir)?;
        let store = Store::connect(&settings.database_url).await?;

        let tokens = Arc::new(TokenService::open(&settings, Some(&store)).await?);
        // The device cookie's key is not a signing key: rotating the ring
        // must not forget every device.
        let device_secret = match &settings.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                KeyStorage::for_settings(&settings, Some(&store))
                    .await?
                    .device_secret()
                    .await?
            }
        };
        // Sessions revoked before this start may still have unexpired access
        // tokens: the feed reads them back, so that a restart does not let
        // those in, and on PostgreSQL goes on hearing of other instances'.
        let revoked = Arc::new(RevokedSessions::new(
            settings.access_token_ttl,
            settings.token_leeway,
        ));
        let revocation_feed =
            RevocationFeed::start(&settings.database_url, &store, Arc::clone(&revoked)).await?;
        let state = AppState {
            leptos_options,
            sessions: Sessions::new(
                store.clone(),
                Arc::clone(&tokens),
                Arc::clone(&revoked),
                &settings,
            ),
            tokens,
            passwords: PasswordHasher::new()?,
            cookies: AuthCookies {
                secure: settings.cookie_secure,
                refresh_ttl: settings.refresh_token_ttl,
            },
            throttle: Arc::new(Throttles::new(&settings, &store)),
            devices: DeviceCookies::new(&device_secret, settings.cookie_secure),
            max_sessions_per_user: settings.max_sessions_per_user,
            origin_policy: Arc::new(OriginPolicy {
                public_origin: settings.public_origin.clone(),
            }),
            store: store.clone(),
            revoked: Arc::clone(&revoked),
        };
        let key_reloader = state.tokens.spawn_reloader();
        let listener = TcpListener::bind(settings.site_addr).await?;
        let proxies = Arc::new(settings.trusted_proxies.clone());
        let router = router(state)
            .layer(middleware::from_fn_with_state(
                settings.request_timeout,
                limit_request_time,
            ))
            .layer(middleware::from_fn(move |request, next| {
                resolve_client_address(Arc::clone(&proxies), request, next)
            }));
        Ok(Self {
            listener,
            router,
            cleanup: cleanup::spawn(store, revoked, settings.cleanup_interval),
            key_reloader,
            revocation_feed,
            header_read_timeout: settings.header_read_timeout,
            shutdown_timeout: settings.shutdown_timeout,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or Ctrl-C, then lets requests in flight finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes (tests use it to restart a
    /// server), then stops accepting, lets requests in flight finish for up
    /// to `SHUTDOWN_TIMEOUT_SECS`, and closes whatever is still open.
    ///
    /// Connections are served by hyper's own HTTP/1 server with a timer, not
    /// `axum::serve`, which installs none: without a timer hyper's
    /// header-read timeout never fires, and a client trickling its headers
    /// one byte at a time keeps a connection (and its memory) forever.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!("listening on http://{}", self.local_addr()?);
        let mut make_service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, or a connection reset
                        // before it was accepted: not fatal, but do not spin.
                        tracing::warn!(%error, "could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let service = make_service
                .call(peer)
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = graceful.watch(connection);
            connections.spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
            // Reap finished connections so the set holds only open ones.
            while connections.try_join_next().is_some() {}
        }
        drop(self.listener);
        tracing::info!(
            open = connections.len(),
            "stopped accepting; finishing requests in flight"
        );
        if tokio::time::timeout(self.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                open = connections.len(),
                "requests still running at the shutdown timeout; closing their connections"
            );
        }
        connections.shutdown().await;
        self.cleanup.abort();
        if let Some(reloader) = self.key_reloader {
            reloader.abort();
        }
        self.revocation_feed.stop();
        Ok(())
    }
}

/// The whole app: the JSON API under `/auth` and `/api`, the health check,
/// and the Leptos pages, which are rendered knowing who is signed in, with
/// their plain-HTML forms beside them.
pub fn router(state: AppState) -> Router {
    // The page middleware wraps the pages' `GET` only; the forms posted to
    // the same paths are merged in afterwards, with their own guards.
    let pages = Router::new()
        .leptos_routes_with_context(&state, generate_route_list(App), provide_page_context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            tell_the_truth,
        ))
        .merge(routes::forms::router());

    let https = state.cookies.secure;
    let app = Router::new()
        .nest("/auth", json_api(routes::auth::router()))
        .nest("/api", json_api(routes::posts::router()))
        // `nest` leaves the bare prefix with a slash to the page fallback.
        .route_service("/auth/", json_api(Router::new()).with_state(state.clone()))
        .route_service("/api/", json_api(Router::new()).with_state(state.clone()))
        .merge(routes::health::router())
        .merge(routes::jwks::router())
        .merge(pages)
        .fallback_service(assets::router(state.clone()))
        .layer(CatchPanicLayer::custom(panic_response))
        // What the CSRF guards of the JSON API and the forms judge by.
        .layer(Extension(Arc::clone(&state.origin_policy)));
    // Outside the panic catcher, so that a 500 carries them too.
    security_headers(app, https)
        // One line per request: method, path, status and latency. Never the
        // query, headers or body, where tokens and passwords travel.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _: &tracing::Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        "response"
                    );
                })
                .on_failure(()),
        )
        .with_state(state)
}

/// What every JSON router gets: JSON 404 and 405, the body limit, the
/// cross-origin guard, and `Cache-Control: no-store` on every answer.
fn json_api(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(reject_oversized_body))
        .layer(middleware::from_fn(reject_cross_origin))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// Creates the data folder, if missing, readable by its owner only: it holds
/// the signing key and the password hashes. An existing folder is left as is.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
