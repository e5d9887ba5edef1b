//! The room's secrets: its join token, which learners join with (and which
//! does nothing else); its instructor's key, which shows the room's page
//! and every learner's collector; and each learner's key, which answers,
//! hints, shows their collector and joins again under their name. Each is
//! 128 random bits, in hex.
//!
//! The bits come from the operating system's random source (`getrandom`),
//! as a secret's must: a generator seeded once, or a hasher's keys, are
//! not made for secrets.

/// The shortest join token a room is given.
const SHORTEST: usize = 16;
/// The longest join token a room is given.
const LONGEST: usize = 128;

/// A new secret: 128 random bits, as 32 hex digits.
///
/// # Panics
///
/// When the operating system has no random source to give, which no
/// machine the workshop runs on lacks: a room without one must not start.
pub fn fresh() -> String {
    let mut bits = [0u8; 16];
    getrandom::fill(&mut bits).expect("the operating system's random source");
    bits.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `token`, given to a room as its join token, can be one: 16 to 128 characters
/// that need no escaping in a header, a cookie, a URL's password or its
/// query (letters, digits, `-`, `_`, `.`, `~`); if not, why.
pub fn check_given(token: &str) -> Result<(), String> {
    let plain = token
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte));
    match (SHORTEST..=LONGEST).contains(&token.len()) && plain {
        true => Ok(()),
        false => Err(format!(
            "a room's join token is {SHORTEST} to {LONGEST} characters of letters, digits, \
             '-', '_', '.' and '~' (none given, the room makes one)"
        )),
    }
}

/// Whether `a` and `b` are the same secret, in a time that does not tell
/// how much of one matches the other.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_secret_is_32_hex_digits_and_never_the_last_one() {
        let first = fresh();
        assert_eq!(first.len(), 32);
        assert!(
            first.bytes().all(|byte| byte.is_ascii_hexdigit()),
            "{first}"
        );
        assert_ne!(first, fresh());
        assert_eq!(check_given(&first), Ok(()));
    }

    #[test]
    fn a_given_token_is_long_enough_and_plain() {
        assert_eq!(check_given("room-token_0123.456~"), Ok(()));
        for refused in ["short", "with space 0123456789", "semi;colon0123456789", ""] {
            assert!(check_given(refused).is_err(), "{refused:?}");
        }
        assert!(check_given(&"x".repeat(129)).is_err());
    }

    #[test]
    fn secrets_are_the_same_only_when_equal() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
    }
}
