use std::fmt;

/// A plausible email address, trimmed, lower-cased and (on the server) in
/// Unicode NFC, so that `" Ada@Example.COM "` and `"ada@example.com"` are one
/// account, and so are `é` typed as one character and as `e` plus an accent.
/// The browser's copy skips NFC: the server decides which account an address
/// names, and composing characters turns no refused address into an
/// accepted one or back, except at the very edge of the length limit.
///
/// "Plausible" is deliberately loose: one `@`, a non-empty local part, a
/// dotted domain of non-empty labels, no spaces, control or invisible
/// characters (which would make look-alike accounts), and the lengths RFC
/// 5321 allows. Whether the address exists is not ours to know.
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
        let trimmed = raw.trim();
        // Checked before normalising: NFC of an overlong input is wasted work.
        if trimmed.len() > Self::MAX_LEN * 4 {
            return Err(InvalidEmail);
        }
        let email = trimmed.to_lowercase();
        #[cfg(feature = "ssr")]
        let email = icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
            .normalize(&email)
            .into_owned();
        if email.len() > Self::MAX_LEN
            || email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
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

/// Characters that show nothing (or only steer the text's direction), so
/// two addresses differing by them look identical: zero-width spaces and
/// joiners, the word joiner and invisible operators, the byte-order mark,
/// the soft hyphen, bidirectional controls, variation selectors and tags.
/// (Control characters and spaces are refused separately.)
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
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
            "ada\u{200b}@example.com",
            "ada@exam\u{200d}ple.com",
            "\u{feff}ada@example.com",
            "ada\u{202e}@example.com",
            "ada\u{ad}@example.com",
            "ada\u{fe0f}@example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(InvalidEmail), "{raw:?}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn composed_and_decomposed_spellings_are_one_address() {
        let composed = Email::parse("Jos\u{e9}@Example.com").unwrap();
        let decomposed = Email::parse("jose\u{301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_ref(), "jos\u{e9}@example.com");
    }

    #[test]
    fn rejects_overlong_parts() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long_domain = format!("ada@{}.com", "a".repeat(250));
        assert!(Email::parse(&long_domain).is_err());
    }
}
