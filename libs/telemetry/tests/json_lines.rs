//! `LOG_FORMAT=json`: one JSON object per line, with the event's fields, the
//! current span's fields, and the trace and span ids.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use telemetry::{LogFormat, Settings};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_line_is_json_with_span_fields_and_trace_ids() {
    let buffer = Buffer::default();
    let settings = Settings {
        format: LogFormat::Json,
        ..Settings::quiet("inventory")
    };
    let provider = telemetry::tracer_provider::<opentelemetry_sdk::trace::InMemorySpanExporter>(
        "inventory",
        None,
    );
    let writer = buffer.clone();
    let subscriber = telemetry::subscriber_writing_to(&settings, &provider, move || writer.clone());
    tracing::subscriber::with_default(subscriber, || {
        let order = tracing::info_span!("place_order", order_id = 42);
        order.in_scope(|| {
            tracing::info!(total_cents = 9_000, "order placed");
            tracing::debug!("below the filter: not written");
            tracing::info_span!("charge", attempt = 1).in_scope(|| tracing::warn!("card declined"));
        });
        tracing::info!("outside any span");
    });

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 3, "the DEBUG line is filtered out:\n{text}");

    let placed = &lines[0];
    assert_eq!(placed["level"], "INFO");
    // tracing-subscriber's own JSON format, plus the trace ids.
    assert_eq!(placed["fields"]["message"], "order placed");
    assert_eq!(placed["fields"]["total_cents"], 9_000);
    assert_eq!(placed["span"]["name"], "place_order");
    assert_eq!(placed["span"]["order_id"], 42);
    let trace_id = placed["trace_id"].as_str().expect("a trace id");
    assert_eq!(trace_id.len(), 32);
    assert_eq!(placed["span_id"].as_str().map(str::len), Some(16));

    let declined = &lines[1];
    let names: Vec<&Value> = declined["spans"]
        .as_array()
        .expect("the spans around the event")
        .iter()
        .map(|span| &span["name"])
        .collect();
    assert_eq!(names, ["place_order", "charge"]);
    assert_eq!(declined["span"]["attempt"], 1, "the current span's fields");
    assert_eq!(declined["trace_id"], trace_id, "one trace");
    assert_ne!(declined["span_id"], placed["span_id"], "another span");

    assert!(lines[2].get("trace_id").is_none(), "no span, no ids");
    assert!(
        lines[2]["timestamp"]
            .as_str()
            .is_some_and(|t| t.contains('T'))
    );
}
