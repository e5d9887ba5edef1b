//! A learner's name in a room: what the room's page shows and their files'
//! folder is called, so short and plain.

/// The longest name.
pub const LONGEST: usize = 32;

/// Whether `name` can be a learner's: 1 to 32 characters of a-z, 0-9 and
/// `-`; if not, why.
pub fn check(name: &str) -> Result<(), String> {
    let plain = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    match (1..=LONGEST).contains(&name.len()) && plain {
        true => Ok(()),
        false => Err(format!(
            "{name:?} cannot be a learner's name: a name is 1 to {LONGEST} characters of a-z, 0-9 and '-'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_short_lowercase_and_plain() {
        let longest = "a".repeat(LONGEST);
        let too_long = "a".repeat(LONGEST + 1);
        for good in ["alice", "bob-2", "x", longest.as_str()] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Alice",
            "bob smith",
            "../x",
            "a.b",
            "é",
            too_long.as_str(),
        ] {
            let refused = check(bad).unwrap_err();
            assert!(
                refused.contains("a name is 1 to 32 characters"),
                "{refused}"
            );
        }
    }
}
