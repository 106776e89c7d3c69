//! The two auth cookies, with exactly the attributes of `docs/contract.md`.
//! Cookies are only ever written here, by axum handlers, never while a page
//! is rendering.

use std::time::Duration;

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};

use super::sessions::IssuedTokens;
use super::tokens::RefreshToken;

pub const ACCESS_COOKIE: &str = "access_token";
pub const REFRESH_COOKIE: &str = "refresh_token";

/// The refresh cookie goes only to `/auth`, so pages and the API never see it.
const ACCESS_PATH: &str = "/";
const REFRESH_PATH: &str = "/auth";

/// Builds the auth cookies; holds the only settings they depend on.
#[derive(Clone, Copy, Debug)]
pub struct AuthCookies {
    /// Adds `Secure`; off only for plain-http development.
    pub secure: bool,
    pub refresh_ttl: Duration,
}

impl AuthCookies {
    /// Sets both cookies, after login, register or a rotating refresh, for
    /// a session that ends at `session_ends`. The access cookie lives as
    /// long as the session, not as long as the token inside it: the browser
    /// keeps sending an expired token, so the server can answer
    /// `token_expired` and tell a returning person from a stranger. The
    /// refresh cookie lives as long as its token, never past the session.
    pub fn set_both(
        &self,
        jar: CookieJar,
        access_token: String,
        refresh: &RefreshToken,
        session_ends: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CookieJar {
        let session_left = remaining(session_ends, now);
        self.set_access(jar, access_token, session_ends, now)
            .add(self.cookie(
                REFRESH_COOKIE,
                refresh.expose().to_owned(),
                REFRESH_PATH,
                self.refresh_ttl.min(session_left),
            ))
    }

    /// Sets both cookies for tokens just issued.
    pub fn set_issued(&self, jar: CookieJar, tokens: IssuedTokens) -> CookieJar {
        self.set_both(
            jar,
            tokens.access_token,
            &tokens.refresh_token,
            tokens.session_expires_at,
            tokens.issued_at,
        )
    }

    /// Sets only the access cookie: the grace-window answer of a refresh,
    /// which must leave the browser's (newer) refresh cookie alone.
    pub fn set_access(
        &self,
        jar: CookieJar,
        access_token: String,
        session_ends: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> CookieJar {
        jar.add(self.cookie(
            ACCESS_COOKIE,
            access_token,
            ACCESS_PATH,
            remaining(session_ends, now),
        ))
    }

    /// Clears both cookies: empty value, same `Path`, `Max-Age=0`.
    pub fn clear_both(&self, jar: CookieJar) -> CookieJar {
        jar.add(self.cookie(ACCESS_COOKIE, String::new(), ACCESS_PATH, Duration::ZERO))
            .add(self.cookie(REFRESH_COOKIE, String::new(), REFRESH_PATH, Duration::ZERO))
    }

    fn cookie(
        &self,
        name: &'static str,
        value: String,
        path: &'static str,
        max_age: Duration,
    ) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path(path)
            .max_age(time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .secure(self.secure)
            .build()
    }
}

/// Whole seconds from `now` to `end`, rounded down so that a cookie never
/// outlives the session; zero once it has ended.
fn remaining(end: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (end - now).to_std().unwrap_or(Duration::ZERO)
}

/// The refresh token the browser presented, if any.
pub fn presented_refresh_token(jar: &CookieJar) -> Option<RefreshToken> {
    jar.get(REFRESH_COOKIE)
        .map(|cookie| cookie.value())
        .filter(|value| !value.is_empty())
        .map(|value| RefreshToken::from_presented(value.to_owned()))
}

/// The access token the browser presented, if any.
pub fn presented_access_token(jar: &CookieJar) -> Option<&str> {
    jar.get(ACCESS_COOKIE)
        .map(|cookie| cookie.value())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_cookie_headers(jar: CookieJar) -> Vec<String> {
        use axum::response::IntoResponse;
        jar.into_response()
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` headers of a sign-in whose session has
    /// `session_left` to run, with refresh tokens living `refresh_ttl`.
    fn issued(secure: bool, refresh_ttl: Duration, session_left: chrono::Duration) -> Vec<String> {
        let cookies = AuthCookies {
            secure,
            refresh_ttl,
        };
        let refresh = RefreshToken::generate().unwrap();
        let now = Utc::now();
        let session_ends = now + session_left;
        let jar = cookies.set_both(CookieJar::new(), "jwt".into(), &refresh, session_ends, now);
        set_cookie_headers(jar)
    }

    fn has(header: &str, attribute: &str) -> bool {
        header.split("; ").any(|a| a == attribute)
    }

    #[test]
    fn cookies_carry_the_contract_attributes() {
        // Arrange, act: a session with 30 days and a half second left.
        let thirty_days = Duration::from_secs(2_592_000);
        let left = chrono::Duration::milliseconds(2_592_000_500);
        let headers = issued(true, thirty_days, left);

        // Assert
        let access = headers
            .iter()
            .find(|h| h.starts_with("access_token=jwt;"))
            .unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=2592000",
            "Secure",
        ] {
            assert!(has(access, attribute), "{access} lacks {attribute}");
        }
        let refresh = headers
            .iter()
            .find(|h| h.starts_with("refresh_token="))
            .unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/auth",
            "Max-Age=2592000",
            "Secure",
        ] {
            assert!(has(refresh, attribute), "{refresh} lacks {attribute}");
        }
    }

    #[test]
    fn both_cookies_end_with_the_session_when_it_ends_first() {
        let thirty_days = Duration::from_secs(2_592_000);

        let headers = issued(false, thirty_days, chrono::Duration::seconds(3600));

        assert_eq!(headers.len(), 2);
        assert!(
            headers.iter().all(|h| has(h, "Max-Age=3600")),
            "{headers:?}"
        );
    }

    #[test]
    fn the_refresh_cookie_ends_with_its_token_when_the_token_ends_first() {
        let ten_minutes = Duration::from_secs(600);

        let headers = issued(false, ten_minutes, chrono::Duration::seconds(3600));

        let find = |name: &str| headers.iter().find(|h| h.starts_with(name)).unwrap();
        assert!(has(find("access_token="), "Max-Age=3600"));
        assert!(has(find("refresh_token="), "Max-Age=600"));
    }

    #[test]
    fn clearing_sends_empty_values_on_the_same_paths_with_max_age_zero() {
        let cookies = AuthCookies {
            secure: false,
            refresh_ttl: Duration::from_secs(900),
        };

        let headers = set_cookie_headers(cookies.clear_both(CookieJar::new()));

        assert_eq!(headers.len(), 2);
        assert!(
            headers.iter().any(|h| h.starts_with("access_token=;")
                && has(h, "Path=/")
                && has(h, "Max-Age=0"))
        );
        assert!(headers.iter().any(|h| h.starts_with("refresh_token=;")
            && has(h, "Path=/auth")
            && has(h, "Max-Age=0")));
        assert!(headers.iter().all(|h| !has(h, "Secure")));
    }
}
