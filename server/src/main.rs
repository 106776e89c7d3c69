//! The server binary: reads its settings, opens the store and serves the app
//! and its API until SIGTERM or Ctrl-C. Everything else lives in the library,
//! so that tests start exactly this server.

use leptos::config::get_configuration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Settings first: they load `.env`, which may set RUST_LOG.
    let settings = match server::config::Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            // A plain sentence naming the variable; no backtrace to wade through.
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    };
    server::telemetry::init();
    // cargo-leptos passes the site settings through LEPTOS_* variables.
    let leptos_options = get_configuration(None)?.leptos_options;
    let application = server::startup::Application::build(settings, leptos_options).await?;
    application.run_until_stopped().await
}
