//! Reading the one-line human format back: what the tests use to check
//! that a line says what was recorded (the library only writes it).
#![allow(dead_code)] // Each test file uses part of this module.

use actions::{Outcome, Record, RecordKind};
use serde_json::Value;

/// Reads a line written by `Record`'s `Display`.
pub fn parse(line: &str) -> Result<Record, ParseError> {
    let mut tokens = Tokens { rest: line };
    let timestamp = tokens.word().ok_or(ParseError::Missing("time"))?.to_owned();
    let letter = tokens.word().ok_or(ParseError::Missing("kind"))?;
    let kind = letter
        .chars()
        .next()
        .filter(|_| letter.len() == 1)
        .and_then(kind_of)
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

fn kind_of(letter: char) -> Option<RecordKind> {
    match letter {
        'C' => Some(RecordKind::Comment),
        'W' => Some(RecordKind::Warning),
        other => Outcome::from_letter(other).map(RecordKind::End),
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// What a bare token reads as: a boolean or a number when it is one.
fn bare(token: &str) -> Value {
    match token {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => serde_json::from_str::<serde_json::Number>(token)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(token.to_owned())),
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

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
