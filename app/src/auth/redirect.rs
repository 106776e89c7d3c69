//! Where to send a person after login, without an open redirect.

/// `next` if it is a path on this site, else `None`.
///
/// Only a single leading `/` counts as local. `//evil.example` is a
/// protocol-relative URL to another host; browsers read `\` as `/` and drop
/// tabs and newlines from URLs, so `/\evil.example` and `/\t/evil.example`
/// are the same trick and are refused too.
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    local.then_some(next)
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
