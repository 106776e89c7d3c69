use std::fmt;

/// A plausible email address, trimmed and lower-cased, so that
/// `" Ada@Example.COM "` and `"ada@example.com"` are one account.
///
/// "Plausible" is deliberately loose: one `@`, a non-empty local part, a
/// dotted domain of non-empty labels, no spaces or control characters, and
/// the lengths RFC 5321 allows. Whether the address exists is not ours to know.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an [`Email`]; the message is fit to show a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Enter a valid email address, like name@example.com.")]
pub struct InvalidEmail;

impl Email {
    /// RFC 5321: 254 for the whole path, 64 for the local part.
    const MAX_LEN: usize = 254;
    const MAX_LOCAL_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let email = raw.trim().to_lowercase();
        if email.len() > Self::MAX_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidEmail);
        }
        let (local, domain) = email.split_once('@').ok_or(InvalidEmail)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || local.len() > Self::MAX_LOCAL_LEN || !domain_ok {
            return Err(InvalidEmail);
        }
        Ok(Self(email))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace@Example.COM \n").unwrap();
        assert_eq!(email.as_ref(), "ada.lovelace@example.com");
    }

    #[test]
    fn accepts_plus_tags_and_subdomains() {
        assert!(Email::parse("ada+demo@mail.example.co.uk").is_ok());
    }

    #[test]
    fn rejects_implausible_addresses() {
        for raw in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            "ada@example..com",
            "ada@-example.com",
            "a\u{0}da@example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(InvalidEmail), "{raw:?}");
        }
    }

    #[test]
    fn rejects_overlong_parts() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long_domain = format!("ada@{}.com", "a".repeat(250));
        assert!(Email::parse(&long_domain).is_err());
    }
}
