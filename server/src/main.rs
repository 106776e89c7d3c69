//! The server binary: reads its settings, opens the store and serves the app
//! and its API until SIGTERM or Ctrl-C. Everything else lives in the library,
//! so that tests start exactly this server.
//!
//! With no arguments it serves. `server keys rotate` is the operator's
//! command to add a signing key to the ring (and delete keys whose tokens
//! have all expired), with the same settings as the server.

use std::process::ExitCode;

use leptos::config::get_configuration;

const USAGE: &str =
    "usage: server              serve the app (settings from the environment and .env)
       server keys rotate  add a new signing key (SIGNING_ALG) to the ring, and delete
                           the keys whose tokens have all expired; nobody is signed out";

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => {}
        ["keys", "rotate"] => return Ok(rotate_keys().await),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        _ => {
            eprintln!("{USAGE}");
            return Ok(ExitCode::from(2));
        }
    }
    let settings = settings_or_exit();
    server::telemetry::init();
    // cargo-leptos passes the site settings through LEPTOS_* variables.
    let leptos_options = get_configuration(None)?.leptos_options;
    let application = server::startup::Application::build(settings, leptos_options).await?;
    application.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// Settings first: they load `.env`, which may set RUST_LOG.
fn settings_or_exit() -> server::config::Settings {
    match server::config::Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            // A plain sentence naming the variable; no backtrace to wade through.
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    }
}

/// `server keys rotate`: exit 0 with what it did, 2 when there is no ring
/// to rotate (a configured key), 1 when the storage fails.
async fn rotate_keys() -> ExitCode {
    use server::auth::keys::{KeyPolicy, KeyStorage, rotate};

    let settings = settings_or_exit();
    if settings.jwt_secret.is_some() {
        eprintln!(
            "JWT_SECRET is set, so the server signs with that one configured key and keeps no \
             key ring to rotate. To rotate it, set JWT_SECRET to a new value and restart every \
             instance (everyone's access token is then refused once and refreshed), or unset \
             JWT_SECRET to let the server keep a ring."
        );
        return ExitCode::from(2);
    }
    let rotated = async {
        let storage = KeyStorage::for_settings(&settings, None).await?;
        rotate(
            &storage,
            settings.signing_alg,
            &KeyPolicy::from_settings(&settings),
            chrono::Utc::now(),
        )
        .await
    };
    match rotated.await {
        Ok(rotation) => {
            println!(
                "Added signing key {} ({}). Running servers verify with it as soon as they read \
                 the ring (within KEY_RELOAD_SECS={}), and sign with it from {}.",
                rotation.added,
                rotation.alg.name(),
                settings.key_reload_interval.as_secs(),
                rotation
                    .signs_from
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            if rotation.removed.is_empty() {
                println!("No key was old enough to delete.");
            } else {
                println!(
                    "Deleted {} key(s) whose tokens have all expired: {}.",
                    rotation.removed.len(),
                    rotation.removed.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("could not rotate the signing keys: {error:#}");
            ExitCode::FAILURE
        }
    }
}
