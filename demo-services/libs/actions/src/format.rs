//! Records, and their one-line human format, which parses back.
//!
//! ```text
//! 2026-11-26T10:02:03.456789Z S reserve 1234us talk_id=3 seats=2
//! 2026-11-26T10:02:03.461000Z F charge 3012us amount_cents=9000 reason="card declined"
//! 2026-11-26T10:02:03.461500Z W charge text="retrying after 10 ms"
//! ```
//!
//! A line is: the time (RFC 3339, UTC), a letter (`S` success, `F`
//! failure, `E` exception, `C` comment, `W` warning), the action's name,
//! its duration in microseconds for an end record, then `key=value` pairs.
//!
//! Escaping: a value is written bare when it is a number, `true`, `false`,
//! or a non-empty string of characters other than space, `"`, `\`, `=` and
//! control characters that would not itself read as a number or a boolean.
//! Any other string is quoted, with `\\`, `\"`, `\n`, `\r`, `\t` and
//! `\u{…}` (other control characters) escaped inside. A bare value reads
//! back as a number or a boolean when it is one, as a string otherwise; a
//! quoted one always as a string. Names and keys are identifiers
//! (`[A-Za-z_][A-Za-z0-9_.]*`).

use std::fmt;

use serde_json::Value;

use crate::levels::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    End(Outcome),
    Comment,
    Warning,
}

impl RecordKind {
    fn letter(self) -> char {
        match self {
            RecordKind::End(outcome) => outcome.letter(),
            RecordKind::Comment => 'C',
            RecordKind::Warning => 'W',
        }
    }

    fn from_letter(letter: char) -> Option<Self> {
        match letter {
            'C' => Some(RecordKind::Comment),
            'W' => Some(RecordKind::Warning),
            other => Outcome::from_letter(other).map(RecordKind::End),
        }
    }
}

/// One thing an action said: its end, a comment or a warning.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub timestamp: String,
    pub kind: RecordKind,
    pub name: String,
    /// For an end record: how long the action took.
    pub duration_us: Option<u64>,
    /// The action's data, then `reason` (failure, exception) or `text`
    /// (comment, warning).
    pub fields: Vec<(String, Value)>,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.timestamp, self.kind.letter(), self.name)?;
        if let Some(duration) = self.duration_us {
            write!(f, " {duration}us")?;
        }
        for (key, value) in &self.fields {
            write!(f, " {key}=")?;
            write_value(f, value)?;
        }
        Ok(())
    }
}

impl Record {
    /// The record as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        object.insert("timestamp".into(), self.timestamp.clone().into());
        let kind = match self.kind {
            RecordKind::End(outcome) => {
                object.insert("outcome".into(), outcome.as_str().into());
                "end"
            }
            RecordKind::Comment => "comment",
            RecordKind::Warning => "warning",
        };
        object.insert("kind".into(), kind.into());
        object.insert("action".into(), self.name.clone().into());
        if let Some(duration) = self.duration_us {
            object.insert("duration_us".into(), duration.into());
        }
        let fields: serde_json::Map<String, Value> = self.fields.iter().cloned().collect();
        object.insert("data".into(), Value::Object(fields));
        Value::Object(object)
    }

    /// Reads a line written by [`Display`](fmt::Display).
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        let mut tokens = Tokens { rest: line };
        let timestamp = tokens.word().ok_or(ParseError::Missing("time"))?.to_owned();
        let letter = tokens.word().ok_or(ParseError::Missing("kind"))?;
        let kind = letter
            .chars()
            .next()
            .filter(|_| letter.len() == 1)
            .and_then(RecordKind::from_letter)
            .ok_or_else(|| ParseError::Kind(letter.to_owned()))?;
        let name = tokens.word().ok_or(ParseError::Missing("name"))?;
        if !is_identifier(name) {
            return Err(ParseError::Name(name.to_owned()));
        }
        let mut record = Record {
            timestamp,
            kind,
            name: name.to_owned(),
            duration_us: None,
            fields: Vec::new(),
        };
        if let RecordKind::End(_) = kind {
            let duration = tokens.word().ok_or(ParseError::Missing("duration"))?;
            record.duration_us = Some(
                duration
                    .strip_suffix("us")
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| ParseError::Duration(duration.to_owned()))?,
            );
        }
        while let Some((key, value)) = tokens.field()? {
            record.fields.push((key, value));
        }
        Ok(record)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    Missing(&'static str),
    Kind(String),
    Name(String),
    Duration(String),
    Field(String),
    Unterminated,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Missing(what) => write!(f, "the line has no {what}"),
            ParseError::Kind(kind) => write!(f, "{kind:?} is not a record kind (S, F, E, C, W)"),
            ParseError::Name(name) => write!(f, "{name:?} is not an action name"),
            ParseError::Duration(d) => write!(f, "{d:?} is not a duration like 123us"),
            ParseError::Field(field) => write!(f, "{field:?} is not key=value"),
            ParseError::Unterminated => f.write_str("a quoted value is not closed"),
        }
    }
}

impl std::error::Error for ParseError {}

pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '\\' || c == '=' || c.is_control())
        || !matches!(bare(text), Value::String(_))
}

/// What a bare token reads as.
fn bare(token: &str) -> Value {
    match token {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => serde_json::from_str::<serde_json::Number>(token)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(token.to_owned())),
    }
}

fn write_value(f: &mut impl fmt::Write, value: &Value) -> fmt::Result {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => return write!(f, "{value}"),
        other => other.to_string(),
    };
    if !needs_quotes(&text) {
        return f.write_str(&text);
    }
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn word(&mut self) -> Option<&'a str> {
        let trimmed = self.rest.trim_start_matches(' ');
        if trimmed.is_empty() {
            return None;
        }
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        self.rest = &trimmed[end..];
        Some(&trimmed[..end])
    }

    fn field(&mut self) -> Result<Option<(String, Value)>, ParseError> {
        self.rest = self.rest.trim_start_matches(' ');
        if self.rest.is_empty() {
            return Ok(None);
        }
        let Some((key, after)) = self.rest.split_once('=') else {
            return Err(ParseError::Field(self.rest.to_owned()));
        };
        if !is_identifier(key) {
            return Err(ParseError::Field(self.rest.to_owned()));
        }
        let Some(quoted) = after.strip_prefix('"') else {
            let end = after.find(' ').unwrap_or(after.len());
            self.rest = &after[end..];
            return Ok(Some((key.to_owned(), bare(&after[..end]))));
        };
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &quoted[i + 1..];
                    return Ok(Some((key.to_owned(), Value::String(value))));
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some('u') => {
                        let rest = &quoted[i + 2..];
                        let close = rest.find('}').ok_or(ParseError::Unterminated)?;
                        let code = u32::from_str_radix(rest.get(1..close).unwrap_or(""), 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| ParseError::Field(rest.to_owned()))?;
                        value.push(code);
                        for _ in 0..close {
                            chars.next();
                        }
                    }
                    Some(other) => value.push(other),
                    None => return Err(ParseError::Unterminated),
                },
                c => value.push(c),
            }
        }
        Err(ParseError::Unterminated)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn end(outcome: Outcome, fields: Vec<(&str, Value)>) -> Record {
        Record {
            timestamp: "2026-11-26T10:02:03.456789Z".to_owned(),
            kind: RecordKind::End(outcome),
            name: "charge".to_owned(),
            duration_us: Some(3012),
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    #[test]
    fn lines_look_as_documented() {
        let record = end(
            Outcome::Failure,
            vec![
                ("amount_cents", 9000.into()),
                ("reason", "card declined".into()),
            ],
        );
        assert_eq!(
            record.to_string(),
            "2026-11-26T10:02:03.456789Z F charge 3012us amount_cents=9000 reason=\"card declined\""
        );
        let tricky = end(
            Outcome::Success,
            vec![
                ("id", "42".into()),
                ("note", "a \"b\"\\c\nd".into()),
                ("flag", true.into()),
                ("empty", "".into()),
            ],
        );
        assert_eq!(
            tricky.to_string(),
            "2026-11-26T10:02:03.456789Z S charge 3012us id=\"42\" note=\"a \\\"b\\\"\\\\c\\nd\" flag=true empty=\"\""
        );
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert_eq!(Record::parse(""), Err(ParseError::Missing("time")));
        assert_eq!(
            Record::parse("t X a"),
            Err(ParseError::Kind("X".to_owned()))
        );
        assert_eq!(
            Record::parse("t S a 12ms"),
            Err(ParseError::Duration("12ms".to_owned()))
        );
        assert_eq!(
            Record::parse("t S a 12us k=\"open"),
            Err(ParseError::Unterminated)
        );
        assert!(matches!(
            Record::parse("t S a 12us novalue"),
            Err(ParseError::Field(_))
        ));
    }

    fn identifier() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_.]{0,12}"
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            "[ -~]{0,20}".prop_map(Value::String),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        let kind = prop_oneof![
            Just(RecordKind::End(Outcome::Success)),
            Just(RecordKind::End(Outcome::Failure)),
            Just(RecordKind::End(Outcome::Exception)),
            Just(RecordKind::Comment),
            Just(RecordKind::Warning),
        ];
        (
            kind,
            identifier(),
            any::<u64>(),
            proptest::collection::vec((identifier(), value()), 0..6),
        )
            .prop_map(|(kind, name, duration, fields)| Record {
                timestamp: "2026-11-26T10:02:03.456789Z".to_owned(),
                kind,
                name,
                duration_us: matches!(kind, RecordKind::End(_)).then_some(duration),
                fields,
            })
    }

    proptest! {
        #[test]
        fn every_record_reads_back_as_it_was_written(record in record()) {
            let line = record.to_string();
            prop_assert!(!line.contains('\n'), "one record, one line: {line:?}");
            prop_assert_eq!(Record::parse(&line), Ok(record));
        }
    }
}
