use std::fmt;

/// A post's title: 1 to 200 characters after trimming.
///
/// Neither a title nor a body may hold U+0000: PostgreSQL cannot store it
/// in text, and a post must be refused the same way on either backend
/// rather than accepted on one and a `500` on the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostTitle(String);

/// A post's body: at most 10 000 characters, kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostBody(String);

/// Why a post is refused; the message is fit to show a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPost {
    #[error("Give the post a title.")]
    EmptyTitle,
    #[error("Keep the title to {max} characters.", max = PostTitle::MAX_CHARS)]
    TitleTooLong,
    #[error("Keep the post to {max} characters.", max = PostBody::MAX_CHARS)]
    BodyTooLong,
    #[error("Remove the NUL character (U+0000) from the post.")]
    ContainsNul,
}

impl PostTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, InvalidPost> {
        let title = raw.trim();
        if title.contains('\0') {
            return Err(InvalidPost::ContainsNul);
        }
        match title.chars().count() {
            0 => Err(InvalidPost::EmptyTitle),
            n if n > Self::MAX_CHARS => Err(InvalidPost::TitleTooLong),
            _ => Ok(Self(title.to_owned())),
        }
    }
}

impl PostBody {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, InvalidPost> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidPost::BodyTooLong);
        }
        if raw.contains('\0') {
            return Err(InvalidPost::ContainsNul);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl AsRef<str> for PostTitle {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PostBody {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_trimmed_and_must_not_be_blank() {
        assert_eq!(PostTitle::parse("  Hello ").unwrap().as_ref(), "Hello");
        assert_eq!(
            PostTitle::parse(" \t ").unwrap_err(),
            InvalidPost::EmptyTitle
        );
    }

    #[test]
    fn limits_count_characters() {
        assert!(PostTitle::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            PostTitle::parse(&"é".repeat(201)).unwrap_err(),
            InvalidPost::TitleTooLong
        );
        assert!(PostBody::parse("").is_ok());
        assert!(PostBody::parse(&"b".repeat(10_000)).is_ok());
        assert_eq!(
            PostBody::parse(&"b".repeat(10_001)).unwrap_err(),
            InvalidPost::BodyTooLong
        );
    }

    #[test]
    fn a_nul_character_is_refused_anywhere_in_a_post() {
        assert_eq!(
            PostTitle::parse("a\0b").unwrap_err(),
            InvalidPost::ContainsNul
        );
        assert_eq!(PostBody::parse("\0").unwrap_err(), InvalidPost::ContainsNul);
        assert!(PostBody::parse("tabs\tand\u{1}controls stay").is_ok());
    }
}
