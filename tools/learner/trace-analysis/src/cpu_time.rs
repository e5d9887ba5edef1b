//! A span's own time on a CPU, as the workshop's telemetry records it.
//!
//! The critical path says which operation owns a trace's tail; its CPU
//! time says whether that operation burns a CPU or waits (on a lock, a
//! pool, another service): 48 ms on the path and 0.3 ms on a CPU is an
//! operation that waits.
//!
//! The telemetry crate records, on every span it exports, the thread CPU
//! clock across the span's enters and exits, its children's excluded, as
//! the attribute [`CPU_TIME_ATTRIBUTE`]. Spans from elsewhere (other
//! tracers, older recordings, a database's client spans) do not carry it:
//! their CPU time is unknown, never zero, and every view shows nothing for
//! it.

use serde_json::Value as Json;

use crate::model::Value;

/// The span attribute that holds the span's own CPU time: nanoseconds, an
/// OTLP int (Jaeger's JSON writes it as an `int64` tag, as a number, or as
/// text where a JSON encoding of 64-bit ints asks for it).
pub const CPU_TIME_ATTRIBUTE: &str = "span.cpu_time_ns";

/// Nanoseconds from the attribute's value as the collector keeps it: an
/// int of zero or more, or the text of one. Anything else is no CPU time.
pub fn nanos_of_value(value: &Value) -> Option<u64> {
    match value {
        Value::Int(nanos) => u64::try_from(*nanos).ok(),
        Value::Str(text) => nanos_of_text(text),
        Value::Bool(_) | Value::Float(_) => None,
    }
}

/// Nanoseconds from a Jaeger tag's value: a whole number of zero or more,
/// or the text of one.
pub fn nanos_of_json(value: &Json) -> Option<u64> {
    match value {
        Json::String(text) => nanos_of_text(text),
        number => number.as_u64(),
    }
}

/// Nanoseconds from the text of a whole number of zero or more.
pub fn nanos_of_text(text: &str) -> Option<u64> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_int_or_its_text_is_read_and_anything_else_is_no_cpu_time() {
        assert_eq!(nanos_of_value(&Value::Int(300_000)), Some(300_000));
        assert_eq!(nanos_of_value(&Value::Str("300000".into())), Some(300_000));
        assert_eq!(nanos_of_value(&Value::Int(0)), Some(0), "zero is known");
        assert_eq!(nanos_of_value(&Value::Int(-1)), None);
        assert_eq!(nanos_of_value(&Value::Float(3.0)), None);
        assert_eq!(nanos_of_value(&Value::Str("0.3 ms".into())), None);
        assert_eq!(nanos_of_json(&Json::from(300_000u64)), Some(300_000));
        assert_eq!(nanos_of_json(&Json::from("300000")), Some(300_000));
        assert_eq!(nanos_of_json(&Json::from(-5)), None);
        assert_eq!(nanos_of_json(&Json::from(2.5)), None);
        assert_eq!(nanos_of_json(&Json::Bool(true)), None);
    }
}
