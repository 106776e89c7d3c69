//! The device cookie (OWASP's "device cookie" against lockout): a signed,
//! HttpOnly cookie set on every successful sign-in, naming a random device
//! id and the account it signed in to. At login, a device whose cookie
//! names the account typed is throttled on its own failures instead of the
//! account's, so an attacker guessing a person's password locks out new
//! devices only, never the ones that person already uses.
//!
//! The value is `base64url(id ‖ account ‖ mac)`: a 16-byte random id, 16
//! bytes of an HMAC of the normalised email (so the cookie does not carry
//! the address, and a tag is useless to anyone without the key), and an
//! HMAC-SHA256 over both. The MAC key is derived from the server's signing
//! key with its own label, so a device cookie can never pass for a token.
//! A cookie remembers one account: the last one signed in from the device.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

pub const DEVICE_COOKIE: &str = "device";

/// How long a device is remembered without signing in again.
const MAX_AGE: time::Duration = time::Duration::days(365);

const ID_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
const MAC_BYTES: usize = 32;
const VALUE_BYTES: usize = ID_BYTES + TAG_BYTES + MAC_BYTES;

/// Reads and writes device cookies; cheap to clone.
#[derive(Clone)]
pub struct DeviceCookies {
    mac: Hmac<Sha256>,
    secure: bool,
}

/// A device cookie whose signature checked out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: [u8; ID_BYTES],
    account: [u8; TAG_BYTES],
}

impl DeviceCookies {
    pub fn new(signing_key: &Secret, secure: bool) -> Self {
        let mut derive = new_mac(signing_key.expose());
        derive.update(b"auth-demo device cookie v1");
        let key = derive.finalize().into_bytes();
        Self {
            mac: new_mac(&key),
            secure,
        }
    }

    /// The device's id if its cookie is ours and names the account of
    /// `email`; `None` for no cookie, a forged one, or another account.
    pub fn remembered_for(&self, jar: &CookieJar, email: &str) -> Option<[u8; ID_BYTES]> {
        self.remembers(self.read(jar)?, email)
    }

    /// `device`'s id if it has signed in to the account of `email` before.
    pub fn remembers(&self, device: Device, email: &str) -> Option<[u8; ID_BYTES]> {
        (device.account == self.account_tag(email)).then_some(device.id)
    }

    /// The device cookie, if it is present and its signature checks out.
    pub fn read(&self, jar: &CookieJar) -> Option<Device> {
        let value = jar.get(DEVICE_COOKIE)?.value();
        let mut bytes = [0u8; VALUE_BYTES + 1];
        let len = URL_SAFE_NO_PAD.decode_slice(value, &mut bytes).ok()?;
        if len != VALUE_BYTES {
            return None;
        }
        let (body, tag) = bytes[..VALUE_BYTES].split_at(ID_BYTES + TAG_BYTES);
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.verify_slice(tag).ok()?;
        let (id, account) = body.split_at(ID_BYTES);
        Some(Device {
            id: id.try_into().expect("split at ID_BYTES"),
            account: account.try_into().expect("TAG_BYTES long"),
        })
    }

    /// Sets the cookie after a successful sign-in to the account of
    /// `email`: the device keeps its id if it had a valid cookie. If the OS
    /// cannot give a new id, the sign-in goes on without the cookie (the
    /// device is simply not remembered) and it is logged.
    pub fn remember(&self, jar: CookieJar, email: &str, known: Option<Device>) -> CookieJar {
        let id = match known {
            Some(device) => device.id,
            None => {
                let mut id = [0u8; ID_BYTES];
                if let Err(error) = getrandom::fill(&mut id) {
                    tracing::error!(%error, "no device id from the OS random generator");
                    return jar;
                }
                id
            }
        };
        let mut value = [0u8; VALUE_BYTES];
        value[..ID_BYTES].copy_from_slice(&id);
        value[ID_BYTES..ID_BYTES + TAG_BYTES].copy_from_slice(&self.account_tag(email));
        let mut mac = self.mac.clone();
        mac.update(&value[..ID_BYTES + TAG_BYTES]);
        value[ID_BYTES + TAG_BYTES..].copy_from_slice(&mac.finalize().into_bytes());
        // Path=/ so that both the JSON login and the HTML form's POST /login
        // receive it.
        let cookie = Cookie::build((DEVICE_COOKIE, URL_SAFE_NO_PAD.encode(value)))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(MAX_AGE)
            .secure(self.secure)
            .build();
        jar.add(cookie)
    }

    fn account_tag(&self, email: &str) -> [u8; TAG_BYTES] {
        let normalised = app::domain::Email::parse(email)
            .map(app::domain::Email::into_inner)
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let mut mac = self.mac.clone();
        mac.update(b"account\0");
        mac.update(normalised.as_bytes());
        let full = mac.finalize().into_bytes();
        full[..TAG_BYTES]
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes")
    }
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    fn cookies() -> DeviceCookies {
        DeviceCookies::new(&Secret::new(vec![9; 32]), true)
    }

    /// The jar a browser would send back after `jar` was answered.
    fn sent_back(jar: CookieJar) -> (CookieJar, String) {
        let response = jar.into_response();
        let header = response.headers()[http::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        let pair = header.split(';').next().unwrap().to_owned();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, pair.parse().unwrap());
        (CookieJar::from_headers(&headers), header)
    }

    #[test]
    fn a_device_is_remembered_for_the_account_it_signed_in_to_only() {
        // Arrange
        let cookies = cookies();
        let (jar, header) = sent_back(cookies.remember(CookieJar::new(), "Ada@Example.com", None));

        // Act
        let for_ada = cookies.remembered_for(&jar, " ada@example.com");
        let for_grace = cookies.remembered_for(&jar, "grace@example.com");

        // Assert
        assert!(for_ada.is_some());
        assert_eq!(for_grace, None);
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
            "Max-Age=31536000",
        ] {
            assert!(
                header.split("; ").any(|a| a == attribute),
                "{header} lacks {attribute}"
            );
        }
    }

    #[test]
    fn signing_in_again_keeps_the_id_and_moves_the_account() {
        let cookies = cookies();
        let (jar, _) = sent_back(cookies.remember(CookieJar::new(), "ada@example.com", None));
        let known = cookies.read(&jar);

        let (jar, _) = sent_back(cookies.remember(CookieJar::new(), "grace@example.com", known));

        assert_eq!(cookies.read(&jar).map(|d| d.id), known.map(|d| d.id));
        assert!(cookies.remembered_for(&jar, "grace@example.com").is_some());
        assert!(cookies.remembered_for(&jar, "ada@example.com").is_none());
    }

    #[test]
    fn forged_or_foreign_cookies_are_not_devices() {
        let (jar, _) = sent_back(cookies().remember(CookieJar::new(), "ada@example.com", None));
        let value = jar.get(DEVICE_COOKIE).unwrap().value().to_owned();
        let other_key = DeviceCookies::new(&Secret::new(vec![8; 32]), true);
        let mut flipped = value.clone().into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let jar_with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::COOKIE,
                format!("{DEVICE_COOKIE}={value}").parse().unwrap(),
            );
            CookieJar::from_headers(&headers)
        };

        assert!(other_key.read(&jar).is_none(), "another server's key");
        for forged in [
            String::from_utf8(flipped).unwrap(),
            format!("{value}AA"),
            value[..value.len() - 2].to_owned(),
            String::new(),
            "not base64 at all!".to_owned(),
        ] {
            assert!(cookies().read(&jar_with(&forged)).is_none(), "{forged}");
        }
    }
}
