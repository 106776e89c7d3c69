//! The server's settings, read once at start from the environment (and from a
//! `.env` file in the working directory). Every variable has a default that
//! serves a developer on one machine; a bad value stops the server with a
//! message that names the variable.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::auth::keys::SigningAlg;
use crate::client_addr::TrustedProxies;

/// Everything the server can be configured with. The names of the
/// environment variables are part of `docs/contract.md`, except `DATA_DIR`,
/// `JWT_SECRET`, `KEY_RELOAD_SECS`, `CLEANUP_INTERVAL_SECS`,
/// `UNKNOWN_REFRESH_MAX_PER_WINDOW` and the three timeouts, which are ours.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATA_DIR`: the data folder, holding the default database and the
    /// generated signing key. Default `data` (relative to the working
    /// directory, which cargo-leptos sets to the workspace root).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: default `sqlite://<data_dir>/app.db`.
    pub database_url: DatabaseUrl,
    /// `LEPTOS_SITE_ADDR`: where to listen; port 0 picks a free port (tests).
    pub site_addr: SocketAddr,
    /// `ACCESS_TOKEN_TTL_SECS`, default 900.
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECS`, default 30 days.
    pub refresh_token_ttl: Duration,
    /// `SESSION_MAX_AGE_SECS`, default 30 days: the absolute session lifetime.
    pub session_max_age: Duration,
    /// `REFRESH_REUSE_GRACE_SECS`, default 10.
    pub refresh_reuse_grace: Duration,
    /// `TOKEN_LEEWAY_SECS`, default 5, at most 30.
    pub token_leeway: Duration,
    /// `COOKIE_SECURE`: default off in a debug build, on in a release build.
    pub cookie_secure: bool,
    /// `LOGIN_MAX_FAILURES`, default 10.
    pub login_max_failures: u32,
    /// `LOGIN_FAILURE_WINDOW_SECS`, default 300: also the window of the
    /// registration and unknown-refresh limits.
    pub login_failure_window: Duration,
    /// `REGISTER_MAX_PER_WINDOW`, default 20: registrations per client
    /// address in the window.
    pub register_max_per_window: u32,
    /// `UNKNOWN_REFRESH_MAX_PER_WINDOW`, default 100: refreshes presenting a
    /// token the server does not know, per client address in the window.
    pub unknown_refresh_max_per_window: u32,
    /// `MAX_SESSIONS_PER_USER`, default 50: a login past it revokes the
    /// user's least recently used session.
    pub max_sessions_per_user: u32,
    /// `TRUSTED_PROXIES`: addresses and CIDR blocks whose `X-Forwarded-For`
    /// is believed; default none (the TCP peer is the client).
    pub trusted_proxies: TrustedProxies,
    /// `PUBLIC_ORIGIN`, e.g. `https://app.example.com`: the origin the CSRF
    /// check accepts; unset, it accepts the request's own `Host`.
    pub public_origin: Option<String>,
    /// `HEADER_READ_TIMEOUT_SECS`, default 10: a client that has not sent a
    /// whole request head by then is disconnected.
    pub header_read_timeout: Duration,
    /// `REQUEST_TIMEOUT_SECS`, default 30: a request not answered by then
    /// gets `503` (slow body uploads included).
    pub request_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS`, default 10: how long a graceful shutdown
    /// waits for requests in flight before closing their connections.
    pub shutdown_timeout: Duration,
    /// `CLEANUP_INTERVAL_SECS`, default 3600: how often expired and revoked
    /// sessions and tokens are deleted.
    pub cleanup_interval: Duration,
    /// `JWT_SECRET`: the HMAC key for access tokens, a ring of one key.
    /// When unset, the server keeps a key ring (in the data folder with
    /// SQLite, in the database with PostgreSQL), created on first start.
    pub jwt_secret: Option<Secret>,
    /// `SIGNING_ALG`, default `HS256`: the algorithm of new ring keys
    /// (`HS256` or `EdDSA`, in any case).
    pub signing_alg: SigningAlg,
    /// `KEY_RELOAD_SECS`, default 60: how often each instance reads the key
    /// ring again. A new key starts signing two such periods after it was
    /// added, and the JWKS may be cached for one.
    pub key_reload_interval: Duration,
}

/// A key that must never reach a log line: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Why this key must not be used as an HMAC key, if it must not: under
    /// [`Settings::MIN_SECRET_BYTES`], or one byte repeated (`aaaa…`, all
    /// zeros), which no generator produces and anyone would guess first.
    pub fn weakness(&self) -> Option<String> {
        let len = self.0.len();
        if len < Settings::MIN_SECRET_BYTES {
            return Some(format!(
                "an HMAC key needs at least {} bytes and this one has {len}",
                Settings::MIN_SECRET_BYTES
            ));
        }
        if self.0.iter().all(|b| *b == self.0[0]) {
            return Some("it is one byte repeated".to_owned());
        }
        None
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `DATABASE_URL`, with the backend its scheme picks. Checked when the
/// settings are read, so that a URL no backend can open stops the server
/// at start, naming the variable, instead of being taken for a file name.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:` or `sqlite://`: the embedded store, for one instance.
    Sqlite(String),
    /// `postgres://` or `postgresql://`: a store several instances share.
    /// It may hold a password, so its `Debug` is redacted.
    Postgres(String),
}

impl DatabaseUrl {
    /// Picks the backend by scheme and lets that backend's own URL parser
    /// (sqlx's) check the rest. The value is never echoed back: a
    /// PostgreSQL URL may carry a password.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let invalid = |problem: String| ConfigError::DatabaseUrl { problem };
        if value.starts_with("sqlite:") {
            sqlx::sqlite::SqliteConnectOptions::from_str(value)
                .map_err(|error| invalid(format!("it is not a valid SQLite URL ({error})")))?;
            Ok(Self::Sqlite(value.to_owned()))
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            sqlx::postgres::PgConnectOptions::from_str(value)
                .map_err(|error| invalid(format!("it is not a valid PostgreSQL URL ({error})")))?;
            Ok(Self::Postgres(value.to_owned()))
        } else {
            Err(invalid(match value.split_once("://") {
                Some((scheme, _)) if !scheme.is_empty() => {
                    format!("no backend serves the scheme {scheme:?}")
                }
                _ => "it is not a URL".to_owned(),
            }))
        }
    }

    /// The URL as configured, for the backend to connect with.
    pub fn expose(&self) -> &str {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(url) => f.debug_tuple("Sqlite").field(url).finish(),
            Self::Postgres(_) => f.write_str("Postgres(<redacted>)"),
        }
    }
}

/// Why the settings could not be read. Each message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("{name} must be {expected}, but it is {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
    /// A `DATABASE_URL` of no supported backend, or one its backend cannot
    /// parse. The value itself is left out of the message (a password).
    #[error(
        "DATABASE_URL must be a sqlite: URL (the embedded store, e.g. sqlite://data/app.db) \
         or a postgres:// or postgresql:// URL (PostgreSQL), but {problem}"
    )]
    DatabaseUrl { problem: String },
    /// `SIGNING_ALG=EdDSA` with a configured HMAC key (`JWT_SECRET`).
    #[error(
        "SIGNING_ALG is EdDSA, but JWT_SECRET configures an HMAC (HS256) key. Unset JWT_SECRET to \
         have the server keep an EdDSA key ring, or set SIGNING_ALG=HS256"
    )]
    EdDsaWithSecret,
    /// A configured key too weak to be safe; the server refuses to start.
    #[error(
        "{name} is too weak: {why}. Use a long random value (e.g. `openssl rand -base64 48`), \
         or unset it and the server keeps its own key in the data folder"
    )]
    WeakKey { name: &'static str, why: String },
}

impl Settings {
    /// The shortest HMAC key accepted: 256 bits, the size of HS256's output.
    pub const MIN_SECRET_BYTES: usize = 32;
    /// Clock skew allowed when checking `exp`; the contract caps it at 30 s.
    pub const MAX_LEEWAY_SECS: u64 = 30;

    /// Reads `.env` (if present) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is the normal case; a malformed one is ignored the
        // same way so that the variables already set still apply.
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".to_owned()));
        let database_url = match var("DATABASE_URL") {
            Some(value) => DatabaseUrl::parse(value.trim())?,
            None => default_database_url(&data_dir),
        };
        let site_addr = match var("LEPTOS_SITE_ADDR") {
            Some(value) => value.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "LEPTOS_SITE_ADDR",
                expected: "an address like 127.0.0.1:3000",
                value,
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let secs = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            parse_number(name, var(name), default, 1).map(Duration::from_secs)
        };
        let token_leeway = parse_number("TOKEN_LEEWAY_SECS", var("TOKEN_LEEWAY_SECS"), 5, 0)?;
        if token_leeway > Self::MAX_LEEWAY_SECS {
            return Err(ConfigError::Invalid {
                name: "TOKEN_LEEWAY_SECS",
                expected: "a whole number of seconds from 0 to 30",
                value: token_leeway.to_string(),
            });
        }
        let cookie_secure = match var("COOKIE_SECURE") {
            Some(value) => parse_bool("COOKIE_SECURE", value)?,
            None => !cfg!(debug_assertions),
        };
        let jwt_secret = match lookup("JWT_SECRET") {
            Some(value) => {
                let secret = Secret::new(value.into_bytes());
                if let Some(why) = secret.weakness() {
                    return Err(ConfigError::WeakKey {
                        name: "JWT_SECRET",
                        why,
                    });
                }
                Some(secret)
            }
            None => None,
        };
        let signing_alg = match var("SIGNING_ALG") {
            Some(value) => SigningAlg::parse(&value).ok_or(ConfigError::Invalid {
                name: "SIGNING_ALG",
                expected: "HS256 or EdDSA",
                value,
            })?,
            None => SigningAlg::default(),
        };
        if signing_alg == SigningAlg::EdDsa && jwt_secret.is_some() {
            return Err(ConfigError::EdDsaWithSecret);
        }
        let count = |name: &'static str, default: u64| -> Result<u32, ConfigError> {
            parse_number(name, var(name), default, 1).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let trusted_proxies = match var("TRUSTED_PROXIES") {
            Some(value) => TrustedProxies::parse(&value).map_err(|_| ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                expected: "comma-separated IP addresses or CIDR blocks, like 10.0.0.0/8,::1",
                value,
            })?,
            None => TrustedProxies::default(),
        };
        let public_origin = var("PUBLIC_ORIGIN")
            .map(|value| {
                parse_origin(&value).ok_or(ConfigError::Invalid {
                    name: "PUBLIC_ORIGIN",
                    expected: "an origin like https://app.example.com (scheme and host, no path)",
                    value,
                })
            })
            .transpose()?;

        Ok(Self {
            database_url,
            site_addr,
            access_token_ttl: secs("ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_token_ttl: secs("REFRESH_TOKEN_TTL_SECS", 2_592_000)?,
            session_max_age: secs("SESSION_MAX_AGE_SECS", 2_592_000)?,
            refresh_reuse_grace: Duration::from_secs(parse_number(
                "REFRESH_REUSE_GRACE_SECS",
                var("REFRESH_REUSE_GRACE_SECS"),
                10,
                0,
            )?),
            token_leeway: Duration::from_secs(token_leeway),
            cookie_secure,
            login_max_failures: count("LOGIN_MAX_FAILURES", 10)?,
            login_failure_window: secs("LOGIN_FAILURE_WINDOW_SECS", 300)?,
            register_max_per_window: count("REGISTER_MAX_PER_WINDOW", 20)?,
            unknown_refresh_max_per_window: count("UNKNOWN_REFRESH_MAX_PER_WINDOW", 100)?,
            max_sessions_per_user: count("MAX_SESSIONS_PER_USER", 50)?,
            trusted_proxies,
            public_origin,
            header_read_timeout: secs("HEADER_READ_TIMEOUT_SECS", 10)?,
            request_timeout: secs("REQUEST_TIMEOUT_SECS", 30)?,
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT_SECS", 10)?,
            cleanup_interval: secs("CLEANUP_INTERVAL_SECS", 3600)?,
            jwt_secret,
            signing_alg,
            key_reload_interval: secs("KEY_RELOAD_SECS", 60)?,
            data_dir,
        })
    }
}

fn default_database_url(data_dir: &Path) -> DatabaseUrl {
    DatabaseUrl::Sqlite(format!("sqlite://{}", data_dir.join("app.db").display()))
}

/// Parses a whole number no smaller than `min`. The upper bound (about 31
/// years) keeps every later `Duration` and `chrono` sum far from overflow.
fn parse_number(
    name: &'static str,
    value: Option<String>,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    const MAX: u64 = 1_000_000_000;
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=MAX).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            expected: if min == 0 {
                "a whole number from 0 to 1000000000"
            } else {
                "a whole number from 1 to 1000000000"
            },
            value,
        }),
    }
}

/// `https://App.Example.com:8443/` → `https://app.example.com:8443`;
/// `None` for anything with a path, a query, user info or another scheme.
fn parse_origin(value: &str) -> Option<String> {
    let value = value.trim();
    let (scheme, rest) = value.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let ok = matches!(scheme.as_str(), "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@'])
        && !authority.chars().any(char::is_whitespace);
    ok.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn parse_bool(name: &'static str, value: String) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            expected: "true or false",
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings_from(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    /// Why `value` is refused for `name` alone, a message that must name
    /// the variable.
    fn refusal(name: &str, value: &str) -> String {
        let message = settings_from(&[(name, value)]).unwrap_err().to_string();
        assert!(message.contains(name), "{name}={value:?}: {message}");
        message
    }

    #[test]
    fn an_empty_environment_gives_the_contract_defaults() {
        let settings = settings_from(&[]).unwrap();

        assert_eq!(
            settings.database_url,
            DatabaseUrl::Sqlite("sqlite://data/app.db".into())
        );
        assert_eq!(settings.site_addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
        assert_eq!(settings.refresh_token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(settings.session_max_age, Duration::from_secs(2_592_000));
        assert_eq!(settings.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(settings.token_leeway, Duration::from_secs(5));
        assert_eq!(settings.cookie_secure, !cfg!(debug_assertions));
        assert_eq!(settings.login_max_failures, 10);
        assert_eq!(settings.login_failure_window, Duration::from_secs(300));
        assert!(settings.jwt_secret.is_none());
        assert_eq!(settings.signing_alg, SigningAlg::Hs256);
        assert_eq!(settings.key_reload_interval, Duration::from_secs(60));
        assert_eq!(settings.register_max_per_window, 20);
        assert_eq!(settings.max_sessions_per_user, 50);
        assert!(settings.trusted_proxies.is_empty());
        assert_eq!(settings.public_origin, None);
        assert_eq!(settings.header_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.shutdown_timeout, Duration::from_secs(10));
    }

    #[test]
    fn variables_override_the_defaults() {
        let settings = settings_from(&[
            ("DATA_DIR", "/tmp/x"),
            ("LEPTOS_SITE_ADDR", "0.0.0.0:0"),
            ("ACCESS_TOKEN_TTL_SECS", "2"),
            ("REFRESH_REUSE_GRACE_SECS", "0"),
            ("TOKEN_LEEWAY_SECS", "30"),
            ("COOKIE_SECURE", "true"),
        ])
        .unwrap();

        assert_eq!(
            settings.database_url,
            DatabaseUrl::Sqlite("sqlite:///tmp/x/app.db".into())
        );
        assert_eq!(settings.site_addr.port(), 0);
        assert_eq!(settings.access_token_ttl, Duration::from_secs(2));
        assert_eq!(settings.refresh_reuse_grace, Duration::ZERO);
        assert_eq!(settings.token_leeway, Duration::from_secs(30));
        assert!(settings.cookie_secure);
    }

    #[test]
    fn a_leeway_over_thirty_seconds_is_refused() {
        refusal("TOKEN_LEEWAY_SECS", "31");
    }

    #[test]
    fn a_malformed_number_is_refused_naming_its_variable() {
        for name in [
            "ACCESS_TOKEN_TTL_SECS",
            "LOGIN_MAX_FAILURES",
            "SESSION_MAX_AGE_SECS",
            "REGISTER_MAX_PER_WINDOW",
            "MAX_SESSIONS_PER_USER",
            "HEADER_READ_TIMEOUT_SECS",
        ] {
            for value in ["abc", "-1", "0", "1e3", "99999999999999999999"] {
                refusal(name, value);
            }
        }
    }

    #[test]
    fn a_short_signing_key_is_refused_naming_its_variable() {
        let message = refusal("JWT_SECRET", "secret");
        assert!(
            !message.contains("secret\""),
            "the key itself must not be echoed"
        );
    }

    #[test]
    fn a_signing_key_of_one_repeated_byte_is_refused_naming_its_variable() {
        for key in ["a".repeat(32), "\u{0}".repeat(64)] {
            let message = refusal("JWT_SECRET", &key);
            assert!(message.contains("repeated"), "{message}");
        }
    }

    #[test]
    fn proxies_and_the_public_origin_are_checked_naming_their_variable() {
        let settings = settings_from(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ("PUBLIC_ORIGIN", "HTTPS://App.Example.com/"),
        ])
        .unwrap();
        assert!(!settings.trusted_proxies.is_empty());
        assert_eq!(
            settings.public_origin.as_deref(),
            Some("https://app.example.com")
        );

        for (name, value) in [
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
            ("PUBLIC_ORIGIN", "app.example.com"),
            ("PUBLIC_ORIGIN", "https://app.example.com/login"),
            ("PUBLIC_ORIGIN", "ftp://app.example.com"),
        ] {
            refusal(name, value);
        }
    }

    #[test]
    fn a_long_enough_signing_key_is_kept_and_never_printed() {
        let key = "kl".repeat(16);
        let settings = settings_from(&[("JWT_SECRET", key.as_str())]).unwrap();
        assert_eq!(
            settings.jwt_secret.as_ref().unwrap().expose(),
            key.as_bytes()
        );
        assert!(!format!("{settings:?}").contains(&key));
    }

    #[test]
    fn signing_alg_picks_the_algorithm_of_new_keys() {
        for (value, alg) in [
            ("HS256", SigningAlg::Hs256),
            ("EdDSA", SigningAlg::EdDsa),
            (" eddsa ", SigningAlg::EdDsa),
        ] {
            assert_eq!(
                settings_from(&[("SIGNING_ALG", value)])
                    .unwrap()
                    .signing_alg,
                alg
            );
        }
    }

    #[test]
    fn an_unknown_signing_alg_is_refused_naming_its_variable() {
        for value in ["RS256", "none", "HS512", "ed25519"] {
            let message = refusal("SIGNING_ALG", value);
            assert!(message.contains("HS256 or EdDSA"), "{message}");
        }
    }

    #[test]
    fn eddsa_with_a_configured_hmac_key_is_refused_naming_both_variables() {
        let key = "kl".repeat(16);
        let message = settings_from(&[("SIGNING_ALG", "EdDSA"), ("JWT_SECRET", key.as_str())])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("SIGNING_ALG") && message.contains("JWT_SECRET"),
            "{message}"
        );
        assert!(!message.contains(&key));
    }

    #[test]
    fn cookie_secure_must_be_a_boolean() {
        assert!(
            !settings_from(&[("COOKIE_SECURE", "off")])
                .unwrap()
                .cookie_secure
        );
        assert!(settings_from(&[("COOKIE_SECURE", "maybe")]).is_err());
    }

    #[test]
    fn the_database_url_scheme_picks_the_backend() {
        let backend = |url: &str| {
            settings_from(&[("DATABASE_URL", url)])
                .unwrap()
                .database_url
        };

        assert_eq!(
            backend("sqlite:app.db"),
            DatabaseUrl::Sqlite("sqlite:app.db".into())
        );
        assert_eq!(
            backend("sqlite:///var/lib/app.db"),
            DatabaseUrl::Sqlite("sqlite:///var/lib/app.db".into())
        );
        assert_eq!(
            backend("postgres://app@db.internal/app"),
            DatabaseUrl::Postgres("postgres://app@db.internal/app".into())
        );
        assert_eq!(
            backend("postgresql://app@db.internal:5433/app?sslmode=disable"),
            DatabaseUrl::Postgres("postgresql://app@db.internal:5433/app?sslmode=disable".into())
        );
    }

    #[test]
    fn a_database_url_no_backend_serves_is_refused_naming_the_variable() {
        for url in [
            "mysql://root:hunter2@localhost/app",
            "postgres:",
            "postgres:app",
            "data/app.db",
            "http://example.com/",
            "postgres://app:hunter2@db.internal:notaport/app",
        ] {
            let message = refusal("DATABASE_URL", url);

            assert!(
                !message.contains("hunter2"),
                "no password echoed: {message}"
            );
        }
    }

    #[test]
    fn a_postgres_password_never_reaches_a_log_line() {
        let settings = settings_from(&[("DATABASE_URL", "postgres://app:hunter2@db/app")]).unwrap();

        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
