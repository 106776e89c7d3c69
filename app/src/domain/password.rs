use std::fmt;

/// A password good enough to set: 8 to 128 characters (Unicode scalar values,
/// not bytes) and not one of the most common passwords. It is kept exactly as
/// typed: no trimming, no normalisation, any characters.
///
/// The browser checks the length only: the list of common passwords would be
/// about 11 KB of the compressed WASM bundle. The server, which is the
/// authority anyway, refuses a common one with the same sentence, shown in
/// the same place.
///
/// `Debug` is redacted so a password can never end up in a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password is refused; the message is fit to show a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("Use at least {min} characters.", min = Password::MIN_CHARS)]
    TooShort,
    #[error("Use at most {max} characters.", max = Password::MAX_CHARS)]
    TooLong,
    #[error("That password is one of the most common ones; choose another.")]
    TooCommon,
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, WeakPassword> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(WeakPassword::TooShort);
        }
        if chars > Self::MAX_CHARS {
            return Err(WeakPassword::TooLong);
        }
        #[cfg(not(target_arch = "wasm32"))]
        if is_common(raw) {
            return Err(WeakPassword::TooCommon);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The list is compared case-insensitively: "Password1" is as guessable as
/// "password1".
#[cfg(not(target_arch = "wasm32"))]
fn is_common(raw: &str) -> bool {
    let lowered = raw.to_lowercase();
    COMMON_PASSWORDS.lines().any(|line| line == lowered)
}

/// Lower-cased, one per line, only those of at least 8 characters (shorter
/// ones are refused anyway). Source and licence: see `common_passwords.md`.
#[cfg(not(target_arch = "wasm32"))]
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        // Seven characters, 21 bytes.
        assert_eq!(
            Password::parse("ééééééé").unwrap_err(),
            WeakPassword::TooShort
        );
        assert!(Password::parse("éééééééé").is_ok());
    }

    #[test]
    fn bounds_are_inclusive() {
        // Eight of one letter is on the common list; seven and another is not.
        assert!(Password::parse(&format!("{}y", "x".repeat(7))).is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129)).unwrap_err(),
            WeakPassword::TooLong
        );
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(
            Password::parse("password").unwrap_err(),
            WeakPassword::TooCommon
        );
        assert_eq!(
            Password::parse("PassWord1").unwrap_err(),
            WeakPassword::TooCommon
        );
    }

    #[test]
    fn is_kept_exactly_as_typed() {
        let raw = "  spaces and ünïcödé  ";
        assert_eq!(Password::parse(raw).unwrap().expose(), raw);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn every_listed_password_is_lower_case_and_long_enough_to_matter() {
        for line in COMMON_PASSWORDS.lines() {
            assert_eq!(line, line.to_lowercase());
            assert!(line.chars().count() >= Password::MIN_CHARS, "{line}");
        }
    }
}
