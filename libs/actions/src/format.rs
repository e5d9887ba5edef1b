//! Records, and their one-line human format, which parses back (the
//! crate's tests hold the parser: `tests/support/mod.rs`).
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

#[cfg(test)]
mod tests {
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
}
