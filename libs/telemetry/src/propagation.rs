//! W3C Trace Context across HTTP hops, with OpenTelemetry's propagator.
//!
//! `TraceContextPropagator` reads and writes `traceparent` and `tracestate`,
//! and does the work wherever its types can hold what the specification
//! asks for. Three things are done beside it, each because the W3C test
//! harness (which decides conformance here) asks for what it does not do:
//!
//! - It is more lenient than the grammar: it reads only the first of several
//!   headers, accepts a one-digit version or flags field, and silently cuts a
//!   `tracestate` of more than 32 members. So the headers are checked against
//!   the grammar first and the propagator only sees what is valid: a
//!   `traceparent` that breaks the rules is ignored (a new trace starts), a
//!   `tracestate` that breaks them is dropped whole, and several `tracestate`
//!   headers are combined in order, as HTTP list headers are.
//! - It keeps only the sampled flag, on the way in and on the way out, and
//!   the SDK gives a span that is not sampled no flags at all. Trace Context
//!   Level 2 adds the random flag (`0x02`), which a service that continues a
//!   trace must pass on: it belongs to the trace, so it travels in the
//!   context with the trace id it was received with, and is written out on
//!   every call made in that trace.
//! - `TraceState` checks keys against Level 1's multi-tenant rule
//!   (`tenant@system`, one `@`, a system id of at most 14 characters), and
//!   rejects the whole list when one key breaks it. The harness's grammar is
//!   simpler (`[a-z0-9][a-z0-9_*/@-]{0,255}`), so a list that is valid but
//!   that `TraceState` cannot hold (`foo@@bar=1`) travels beside it, verbatim,
//!   in the context.
//!
//! A missing or malformed header is never an error.

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

// ANCHOR: propagation
/// The remote parent carried by these request headers, if any.
pub fn extract(headers: &HeaderMap) -> Context {
    let valid = ValidHeaders::from(headers);
    let cx = TraceContextPropagator::new().extract(&valid);
    with_level_2_extras(cx, &valid)
}

/// Writes `span`'s context into outgoing request headers: its own, or, for
/// a span of a trace not sampled that OpenTelemetry never saw, that of its
/// nearest ancestor it saw, with the trace id and the flag `00`, so that
/// the next service drops the trace too ([`crate::sampling`]).
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let cx = crate::sampling::propagated_context(span);
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    write_level_2_extras(&cx, headers);
}
// ANCHOR_END: propagation

/// Makes `span` a child of the remote parent in `headers`. Without a valid
/// parent there, the span stays a root: a new trace starts.
pub fn continue_from(span: &tracing::Span, headers: &HeaderMap) {
    // Only fails when the span has already started, which a span that was
    // just created has not; nothing useful to do about it in any case.
    let _ = span.set_parent(extract(headers));
}

/// Trace Context Level 2's random flag: the trace id's right part is random.
const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// A trace whose caller set the random flag.
#[derive(Debug)]
struct RandomTraceId(TraceId);

/// A valid `tracestate` that `TraceState` cannot hold, carried as received.
#[derive(Debug)]
struct VerbatimTraceState(String);

/// Adds to the propagator's answer what it drops: the random flag, and a
/// valid `tracestate` its type rejects.
fn with_level_2_extras(mut cx: Context, valid: &ValidHeaders) -> Context {
    let remote = cx.span().span_context().trace_id();
    if remote == TraceId::INVALID {
        return cx;
    }
    if valid.random() {
        cx = cx.with_value(RandomTraceId(remote));
    }
    match &valid.tracestate {
        Some(state) if state.parse::<TraceState>().is_err() => {
            cx.with_value(VerbatimTraceState(state.clone()))
        }
        _ => cx,
    }
}

/// Writes what the propagator does not: the random flag in `traceparent`,
/// and a verbatim `tracestate`.
fn write_level_2_extras(cx: &Context, headers: &mut HeaderMap) {
    let span = cx.span();
    let context = span.span_context();
    if !context.is_valid() {
        return;
    }
    let random = cx
        .get::<RandomTraceId>()
        .is_some_and(|RandomTraceId(trace_id)| *trace_id == context.trace_id());
    if random {
        let flags = (context.trace_flags() & TraceFlags::SAMPLED) | RANDOM;
        let traceparent = format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            flags
        );
        if let Ok(value) = HeaderValue::from_str(&traceparent) {
            headers.insert(TRACEPARENT, value);
        }
    }
    if let Some(VerbatimTraceState(state)) = cx.get::<VerbatimTraceState>()
        && let Ok(value) = HeaderValue::from_str(state)
    {
        headers.insert(TRACESTATE, value);
    }
}

/// The trace context headers of a request, as the propagator should see
/// them: only what the specification allows.
struct ValidHeaders {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl From<&HeaderMap> for ValidHeaders {
    fn from(headers: &HeaderMap) -> Self {
        let values = |name| {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        };
        // Two traceparent headers contradict each other: trust neither.
        let traceparent = match values(TRACEPARENT).as_slice() {
            [Some(value)] => Some(value.trim_matches([' ', '\t'])).filter(|v| valid_traceparent(v)),
            _ => None,
        };
        let tracestate = traceparent.and(
            values(TRACESTATE)
                .into_iter()
                .collect::<Option<Vec<&str>>>()
                .map(|parts| parts.join(","))
                .filter(|joined| valid_tracestate(joined)),
        );
        Self {
            traceparent: traceparent.map(str::to_owned),
            tracestate,
        }
    }
}

impl ValidHeaders {
    /// Whether the (valid) `traceparent` has the random flag set.
    fn random(&self) -> bool {
        self.traceparent
            .as_deref()
            .and_then(|value| value.get(53..55))
            .and_then(|flags| u8::from_str_radix(flags, 16).ok())
            .is_some_and(|flags| flags & RANDOM.to_u8() != 0)
    }
}

impl Extractor for ValidHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let present = [
            (TRACEPARENT, &self.traceparent),
            (TRACESTATE, &self.tracestate),
        ];
        present
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k)
            .collect()
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `version-traceid-parentid-flags`, all lowercase hex of exact widths.
/// Version `ff` is forbidden; version `00` has exactly four fields; a later
/// version may append fields after a `-`, which a reader of `00` ignores.
fn valid_traceparent(value: &str) -> bool {
    let Some(head) = value.get(..55) else {
        return false;
    };
    let tail = &value[55..];
    let fields: Vec<&str> = head.split('-').collect();
    let [version, trace_id, parent_id, flags] = fields.as_slice() else {
        return false;
    };
    let well_formed = is_lower_hex(version, 2)
        && is_lower_hex(trace_id, 32)
        && is_lower_hex(parent_id, 16)
        && is_lower_hex(flags, 2)
        && *version != "ff"
        && trace_id.bytes().any(|b| b != b'0')
        && parent_id.bytes().any(|b| b != b'0');
    let tail_allowed = match *version {
        "00" => tail.is_empty(),
        _ => tail.is_empty() || tail.starts_with('-'),
    };
    well_formed && tail_allowed
}

/// A comma-separated list of at most 32 `key=value` members, as the
/// specification's grammar defines them. Empty members (and spaces or tabs
/// around commas) are allowed. A key may appear twice: the specification
/// lets a service pass such a list on as it is.
fn valid_tracestate(value: &str) -> bool {
    let mut members = 0;
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let Some((key, value)) = member.split_once('=') else {
            return false;
        };
        if !valid_key(key) || !valid_value(value) {
            return false;
        }
        members += 1;
    }
    members <= 32
}

/// A lowercase letter or digit, then up to 255 of `a-z 0-9 _ - * / @`. The
/// `@` of a multi-tenant key (`tenant@system`) is one of those characters;
/// Level 1's stricter rule for where it may stand is not the harness's.
fn valid_key(key: &str) -> bool {
    let key_char = |b: u8| {
        b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
    };
    let first = key.as_bytes().first().copied().unwrap_or(b'@');
    (1..=256).contains(&key.len())
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && key.bytes().all(key_char)
}

/// Printable ASCII except `,` and `=`, at most 256 characters, not ending
/// in a space.
fn valid_value(value: &str) -> bool {
    let allowed = |b: u8| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=';
    (1..=256).contains(&value.len()) && value.bytes().all(allowed) && !value.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

    #[test]
    fn traceparent_follows_the_grammar() {
        assert!(valid_traceparent(VALID));
        assert!(valid_traceparent(
            "cc-12345678901234567890123456789012-1234567890123456-01"
        ));
        assert!(valid_traceparent(
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"
        ));
        for invalid in [
            "00-12345678901234567890123456789012-1234567890123456-01.",
            "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            "ff-12345678901234567890123456789012-1234567890123456-01",
            ".0-12345678901234567890123456789012-1234567890123456-01",
            "0-12345678901234567890123456789012-1234567890123456-01",
            "000-12345678901234567890123456789012-1234567890123456-01",
            "00-00000000000000000000000000000000-1234567890123456-01",
            "00-1234567890123456789012345678901-1234567890123456-01",
            "00-123456789012345678901234567890123-1234567890123456-01",
            "00-12345678901234567890123456789012-0000000000000000-01",
            "00-12345678901234567890123456789012-123456789012345-01",
            "00-12345678901234567890123456789012-12345678901234567-01",
            "00-12345678901234567890123456789012-1234567890123456-1",
            "00-12345678901234567890123456789012-1234567890123456-001",
            "00-12345678901234567890123456789012-1234567890123456-.0",
            "00-ABCDEF78901234567890123456789012-1234567890123456-01",
        ] {
            assert!(!valid_traceparent(invalid), "{invalid}");
        }
    }

    #[test]
    fn tracestate_follows_the_grammar() {
        let key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value_chars: String = (0x20u8..=0x7e)
            .filter(|b| *b != b',' && *b != b'=')
            .map(char::from)
            .collect::<String>()
            + "x";
        for valid in [
            "foo=1".to_owned(),
            "foo=1 \t , \t bar=2, \t baz=3".to_owned(),
            ",,foo=1,".to_owned(),
            format!("{key_chars}={value_chars}"),
            format!("{key_chars}@a-z0-9_-*/={value_chars}"),
            format!("{}=1", "z".repeat(256)),
            format!("{}@{}=1", "t".repeat(241), "v".repeat(14)),
            // Duplicate keys may be passed on as they are.
            "foo=1,foo=1".to_owned(),
            "foo=1,foo=2".to_owned(),
            // `@` is a key character; only the first character is special.
            "foo@=1,bar=2".to_owned(),
            "foo@@bar=1,bar=2".to_owned(),
            "foo@bar@baz=1,bar=2".to_owned(),
            format!("{}@v=1", "t".repeat(242)),
            format!("t@{}=1", "v".repeat(15)),
            "0foo=1".to_owned(),
            (1..=32)
                .map(|i| format!("bar{i:02}={i:02}"))
                .collect::<Vec<_>>()
                .join(","),
        ] {
            assert!(valid_tracestate(&valid), "{valid}");
        }
        for invalid in [
            "foo =1".to_owned(),
            "FOO=1".to_owned(),
            "foo.bar=1".to_owned(),
            "@foo=1,bar=2".to_owned(),
            "_foo=1".to_owned(),
            "foo=bar=baz".to_owned(),
            "foo=,bar=3".to_owned(),
            "foo=1 ,bar".to_owned(),
            format!("{}=1", "z".repeat(257)),
            format!("foo={}", "v".repeat(257)),
            (1..=33)
                .map(|i| format!("bar{i:02}={i:02}"))
                .collect::<Vec<_>>()
                .join(","),
        ] {
            assert!(!valid_tracestate(&invalid), "{invalid}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn duplicate_traceparents_are_ignored_and_tracestates_combined() {
        let twice = ValidHeaders::from(&headers(&[("traceparent", VALID), ("traceparent", VALID)]));
        assert_eq!(twice.get(TRACEPARENT), None);
        let combined = ValidHeaders::from(&headers(&[
            ("traceparent", VALID),
            ("tracestate", "foo=1,bar=2"),
            ("tracestate", ""),
            ("TraceState", "baz=3"),
        ]));
        assert_eq!(combined.get(TRACESTATE), Some("foo=1,bar=2,,baz=3"));
        let duplicated_across_headers = ValidHeaders::from(&headers(&[
            ("traceparent", VALID),
            ("tracestate", "foo=1"),
            ("tracestate", "foo=2"),
        ]));
        assert_eq!(
            duplicated_across_headers.get(TRACESTATE),
            Some("foo=1,foo=2"),
            "passed on as it is"
        );
        let thirty_two: Vec<String> = (1..=32).map(|i| format!("k{i}=1")).collect();
        let thirty_three_across_headers = ValidHeaders::from(&headers(&[
            ("traceparent", VALID),
            ("tracestate", thirty_two.join(",").as_str()),
            ("tracestate", "one=more"),
        ]));
        assert_eq!(thirty_three_across_headers.get(TRACESTATE), None);
    }

    #[test]
    fn a_tracestate_without_a_traceparent_is_dropped() {
        let alone = ValidHeaders::from(&headers(&[("tracestate", "foo=1")]));
        assert_eq!(alone.get(TRACESTATE), None);
    }
}
