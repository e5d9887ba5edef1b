//! The grader of lab 02. `just lab 2` runs it and explains each result.
//!
//! Each check builds your subscriber with two in-memory outputs, runs the
//! scenario (`given/src/scenario.rs`) under it, and reads back what was written.

use std::io::Write;
use std::sync::{Arc, Mutex};

use lab02::{DEFAULT_FILTER, filter_directive, scenario, subscriber};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::Value;

grader_kit::checks![
    json_lines_are_json,
    default_filter_is_info,
    filter_directive_is_honoured,
    events_carry_span_fields,
    lines_carry_trace_ids,
    each_event_once_per_output,
];

/// An output that keeps what is written to it.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(strip_colours)
            .collect()
    }
}

fn strip_colours(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

/// What the scenario wrote to each output, with `filter`, as lines.
fn run(filter: &str) -> (Vec<String>, Vec<String>) {
    let (console, json) = run_outputs(filter);
    (console.lines(), json.lines())
}

/// What the scenario wrote to each output, with `filter`, as written.
fn run_outputs(filter: &str) -> (Output, Output) {
    let (console, json) = (Output::default(), Output::default());
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let (c, j) = (console.clone(), json.clone());
    let subscriber = subscriber(filter, move || c.clone(), move || j.clone(), &provider);
    tracing::subscriber::with_default(subscriber, || {
        scenario::start_up();
        scenario::handle_request(7);
    });
    (console, json)
}

/// The JSON lines, parsed, or a failure that says what went wrong.
fn json_lines(filter: &str) -> Vec<Value> {
    let (_, json) = run(filter);
    assert!(
        !json.is_empty(),
        "No JSON line was written. Add a JSON layer writing to the `json` output: \
         tracing-subscriber's `fmt::layer().json()` with `.with_writer(json)` (README step 5). \
         If you did, check that the filter (step 2) lets INFO through."
    );
    json.iter()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| {
                panic!(
                    "This line of the JSON output is not JSON ({err}):\n  {line}\n\
                     Only the JSON layer may write to the `json` output; the console \
                     layer writes to `console` (README steps 3 and 5)."
                )
            })
        })
        .collect()
}

fn messages(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn find<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["fields"]["message"] == message)
        .unwrap_or_else(|| {
            panic!(
                "No JSON line with the message {message:?}; the messages were {:?}.",
                messages(lines)
            )
        })
}

fn json_lines_are_json() {
    for line in json_lines(DEFAULT_FILTER) {
        assert!(
            line["level"].is_string() && line["fields"]["message"].is_string(),
            "Each JSON line should have a `level` and a `message`; this one has not: {line}"
        );
    }
}

fn default_filter_is_info() {
    assert_eq!(
        filter_directive(None),
        DEFAULT_FILTER,
        "With RUST_LOG unset, `filter_directive` should give DEFAULT_FILTER (README step 1)."
    );
    assert_eq!(
        filter_directive(Some(String::new())),
        DEFAULT_FILTER,
        "With RUST_LOG set but empty, `filter_directive` should give DEFAULT_FILTER too."
    );
    assert_eq!(
        filter_directive(Some("lab02=debug".to_owned())),
        "lab02=debug",
        "With RUST_LOG set, `filter_directive` should give what it holds."
    );
    let lines = json_lines(DEFAULT_FILTER);
    let levels: Vec<&str> = lines.iter().filter_map(|l| l["level"].as_str()).collect();
    assert!(
        levels.iter().all(|l| ["INFO", "WARN", "ERROR"].contains(l)),
        "With the filter {DEFAULT_FILTER:?}, only INFO, WARN and ERROR lines should be \
         written; the levels were {levels:?}. Build an `EnvFilter` from `filter` and add it \
         to the registry first (README step 2)."
    );
}

fn filter_directive_is_honoured() {
    let debug = json_lines("lab02=debug");
    assert!(
        messages(&debug).contains(&"order validated".to_owned()),
        "With the filter \"lab02=debug\", the DEBUG line \"order validated\" should be \
         written; the messages were {:?}. Build the `EnvFilter` from the `filter` argument \
         rather than a fixed directive (README step 2).",
        messages(&debug)
    );
    assert!(
        debug.iter().all(|l| l["level"] != "TRACE"),
        "With \"lab02=debug\", no TRACE line should be written."
    );
    let warn = json_lines("warn");
    let levels: Vec<&str> = warn.iter().filter_map(|l| l["level"].as_str()).collect();
    assert_eq!(
        levels,
        ["WARN", "ERROR"],
        "With the filter \"warn\", only the WARN and the ERROR lines should be written."
    );
}

fn events_carry_span_fields() {
    let lines = json_lines(DEFAULT_FILTER);
    let accepted = find(&lines, "order accepted");
    assert_eq!(
        accepted["span"]["request_id"], 7,
        "The \"order accepted\" line should carry the fields of the span it happened in \
         (`span.request_id` = 7): {accepted}\nTurn on the current span in the JSON layer: \
         `.with_current_span(true)` (README step 5)."
    );
    let charged = find(&lines, "charged");
    assert_eq!(
        charged["span"]["amount_cents"], 9_000,
        "The \"charged\" line should carry the `charge` span's fields: {charged}"
    );
}

fn lines_carry_trace_ids() {
    let lines = json_lines(DEFAULT_FILTER);
    let accepted = find(&lines, "order accepted");
    let trace_id = accepted["trace_id"].as_str().unwrap_or_else(|| {
        panic!(
            "The \"order accepted\" line has no `trace_id`: {accepted}\nThe ids come from \
             the OpenTelemetry layer (README step 4); `telemetry::TraceIdLayer`, after it and \
             before the JSON layer, looks them up, and `telemetry::WithTraceIds` around the \
             JSON event format writes them (step 5)."
        )
    });
    assert!(
        trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "A trace id is 32 hex digits, not {trace_id:?}."
    );
    let charged = find(&lines, "charged");
    assert_eq!(
        charged["trace_id"], trace_id,
        "Lines of one request share one trace id: \"charged\" has another one."
    );
    assert_ne!(
        charged["span_id"], accepted["span_id"],
        "\"charged\" happens in the `charge` span, so its `span_id` differs from that of \
         \"order accepted\"."
    );
    let starting = find(&lines, "service starting");
    assert!(
        starting.get("trace_id").is_none(),
        "\"service starting\" happens outside any span, so it has no trace id: {starting}"
    );
}

fn each_event_once_per_output() {
    let (console, json) = run(DEFAULT_FILTER);
    let expected = 5;
    assert_eq!(
        json.len(),
        expected,
        "The scenario has {expected} events at INFO or above, so the JSON output should \
         have {expected} lines, not {}. One JSON layer, writing to `json` only \
         (README step 5).",
        json.len()
    );
    assert_eq!(
        console.len(),
        expected,
        "The console output should have one line per event, {expected}, not {}. One \
         console layer, writing to `console` only (README step 3).\nIt had:\n{}",
        console.len(),
        console.join("\n")
    );
    let accepted = console
        .iter()
        .find(|l| l.contains("order accepted"))
        .unwrap_or_else(|| {
            panic!(
                "No console line says \"order accepted\":\n{}",
                console.join("\n")
            )
        });
    assert!(
        serde_json::from_str::<Value>(accepted).is_err() && accepted.contains("INFO"),
        "Console lines are for people: plain text with the level, not JSON: {accepted}"
    );
    // The console output may be a file or a pipe: colour codes there are noise.
    let (console, _) = run_outputs(DEFAULT_FILTER);
    let written = console.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        !written.contains(&0x1b),
        "The console output holds terminal colour codes (ESC sequences), which a file or a \
         pipe shows as noise: {:?}. Turn colours off on the console layer (README step 3).",
        String::from_utf8_lossy(&written)
            .lines()
            .next()
            .unwrap_or_default()
    );
}
