//! The two auth cookies, with exactly the attributes of `docs/contract.md`.
//! Cookies are only ever written here, by axum handlers, never while a page
//! is rendering.

use std::time::Duration;

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::tokens::RefreshToken;

pub const ACCESS_COOKIE: &str = "access_token";
pub const REFRESH_COOKIE: &str = "refresh_token";

/// The refresh cookie goes only to `/auth`, so pages and the API never see it.
const ACCESS_PATH: &str = "/";
const REFRESH_PATH: &str = "/auth";

/// Builds the auth cookies; holds the only setting they depend on.
#[derive(Clone, Copy, Debug)]
pub struct AuthCookies {
    /// Adds `Secure`; off only for plain-http development.
    pub secure: bool,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl AuthCookies {
    /// Sets both cookies, after login, register or a rotating refresh.
    pub fn set_both(
        &self,
        jar: CookieJar,
        access_token: String,
        refresh: &RefreshToken,
    ) -> CookieJar {
        self.set_access(jar, access_token).add(self.cookie(
            REFRESH_COOKIE,
            refresh.expose().to_owned(),
            REFRESH_PATH,
            self.refresh_ttl,
        ))
    }

    /// Sets only the access cookie: the grace-window answer of a refresh,
    /// which must leave the browser's (newer) refresh cookie alone.
    pub fn set_access(&self, jar: CookieJar, access_token: String) -> CookieJar {
        jar.add(self.cookie(ACCESS_COOKIE, access_token, ACCESS_PATH, self.access_ttl))
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

    fn has(header: &str, attribute: &str) -> bool {
        header.split("; ").any(|a| a == attribute)
    }

    #[test]
    fn cookies_carry_the_contract_attributes() {
        // Arrange
        let cookies = AuthCookies {
            secure: true,
            access_ttl: Duration::from_secs(900),
            refresh_ttl: Duration::from_secs(2_592_000),
        };
        let refresh = RefreshToken::generate().unwrap();

        // Act
        let headers =
            set_cookie_headers(cookies.set_both(CookieJar::new(), "jwt".into(), &refresh));

        // Assert
        let access = headers
            .iter()
            .find(|h| h.starts_with("access_token=jwt;"))
            .unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=900",
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
    fn clearing_sends_empty_values_on_the_same_paths_with_max_age_zero() {
        let cookies = AuthCookies {
            secure: false,
            access_ttl: Duration::from_secs(900),
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
