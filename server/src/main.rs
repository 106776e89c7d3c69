//! The server binary: reads its settings, opens the store and serves the app
//! and its API until SIGTERM or Ctrl-C. Everything else lives in the library,
//! so that tests start exactly this server.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let application = server::startup::Application::build().await?;
    application.run_until_stopped().await
}
