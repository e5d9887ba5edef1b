//! The records a capture keeps, and the values of their fields.

use std::collections::BTreeMap;
use std::fmt;

use tracing::Level;
use tracing::field::{Field, Visit};

/// A field value as the subscriber saw it.
///
/// Strings recorded with `%` (Display) and plain `&str` values both arrive as
/// [`Value::Str`]; values recorded with `?` (Debug) arrive as
/// [`Value::Debug`], already formatted, which is exactly the text a log line
/// would show.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Debug(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl Value {
    /// The value as an unsigned number, if it is one (a non-negative `i64`
    /// counts: `info!(total = 5)` records an `i64`).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(n) => Some(n),
            Value::I64(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// Whether the value is this text, recorded with `%` or with `?` (which
    /// wraps a string in quotes).
    pub fn is_text(&self, expected: &str) -> bool {
        match self {
            Value::Str(s) => s == expected,
            Value::Debug(s) => s == expected || *s == format!("{expected:?}"),
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) | Value::Debug(s) => f.write_str(s),
            Value::I64(n) => write!(f, "{n}"),
            Value::U64(n) => write!(f, "{n}"),
            Value::F64(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One span, from creation to close.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    /// Position in creation order; also the key other records use to point here.
    pub index: usize,
    pub name: &'static str,
    pub target: String,
    pub level: Level,
    pub parent: Option<usize>,
    /// Fields given at creation and recorded later with `Span::record`.
    pub fields: BTreeMap<String, Value>,
    pub closed: bool,
}

impl SpanRecord {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }
}

/// One event (`info!`, `warn!`, the error event of `#[instrument(err)]`…).
#[derive(Clone, Debug)]
pub struct EventRecord {
    pub level: Level,
    pub target: String,
    /// The formatted message, if the event had one.
    pub message: Option<String>,
    /// Every field except the message.
    pub fields: BTreeMap<String, Value>,
    /// The span the event happened in, by index.
    pub span: Option<usize>,
}

impl EventRecord {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }
}

/// Collects fields into a map; the `message` field is kept apart for events.
pub(crate) struct FieldVisitor<'a> {
    pub fields: &'a mut BTreeMap<String, Value>,
    pub message: Option<&'a mut Option<String>>,
}

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message"
            && let Some(message) = self.message.as_deref_mut()
        {
            *message = Some(value.to_string());
            return;
        }
        self.fields.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::Debug(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::Str(value.to_string()));
    }
}
