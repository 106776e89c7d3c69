//! Where to send a person after login, without an open redirect.

/// `next` if it is a path on this site, else `None`.
///
/// Only a single leading `/` counts as local. `//evil.example` is a
/// protocol-relative URL to another host; browsers read `\` as `/` and drop
/// tabs and newlines from URLs, so `/\evil.example` and `/\t/evil.example`
/// are the same trick and are refused too. So are their percent-encoded
/// spellings (`/%2F/evil.example`, `/%5Cevil.example`, and encoded again),
/// in case anything on the way decodes them once more.
pub fn local_path(next: &str) -> Option<&str> {
    let local = stays_here(next)
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && decodings(next).all(|decoded| stays_here(&decoded));
    local.then_some(next)
}

/// A single leading `/` and no `\`.
fn stays_here(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\')
}

/// `path` percent-decoded once, twice, ... until decoding changes nothing
/// (at most a few rounds: each must shorten it).
fn decodings(path: &str) -> impl Iterator<Item = String> {
    let mut current = path.to_owned();
    std::iter::from_fn(move || {
        let decoded = percent_encoding::percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        (decoded != current).then(|| {
            current.clone_from(&decoded);
            decoded
        })
    })
}

/// Where to go after login: the validated `next`, or home.
pub fn after_login(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or("/").to_owned()
}

/// The login page, with a way back to `path` (a path plus its query string).
pub fn login_with_return(path: &str) -> String {
    with_next("/login", path)
}

/// `page` with `?next=path`, left off when `path` is home or not local.
pub fn with_next(page: &str, path: &str) -> String {
    match local_path(path) {
        Some(path) if path != "/" => format!("{page}?next={}", encode_query_value(path)),
        _ => page.to_owned(),
    }
}

/// Percent-encodes everything but unreserved characters and `/`, which is
/// allowed in a query and keeps `next=/posts` readable.
fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        assert_eq!(after_login(Some("/posts")), "/posts");
        assert_eq!(after_login(Some("/posts?page=2#top")), "/posts?page=2#top");
        assert_eq!(after_login(Some("/posts?q=a%20b")), "/posts?q=a%20b");
    }

    #[test]
    fn anything_that_could_leave_the_site_goes_home() {
        for next in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/%2F/evil.example",
            "/%2f/evil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%255Cevil.example",
            "/%252F/evil.example",
            "javascript:alert(1)",
            "posts",
            "",
        ] {
            assert_eq!(after_login(Some(next)), "/", "{next:?}");
        }
        assert_eq!(after_login(None), "/");
    }

    #[test]
    fn the_login_link_carries_the_path_back() {
        assert_eq!(login_with_return("/posts"), "/login?next=/posts");
        assert_eq!(
            login_with_return("/posts?a=1&b=2"),
            "/login?next=/posts%3Fa%3D1%26b%3D2"
        );
        assert_eq!(login_with_return("/"), "/login");
        assert_eq!(login_with_return("//evil.example"), "/login");
        assert_eq!(with_next("/register", "/posts"), "/register?next=/posts");
    }
}
