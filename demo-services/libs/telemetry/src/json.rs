//! JSON lines for log aggregation: one object per event, with the event's
//! fields, the current span's fields, the names of the spans around it, and
//! the trace and span ids that tie the line to its trace.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::ids::TraceIds;

/// The event formatter behind `LOG_FORMAT=json`. Pair it with
/// [`JsonFields`] as the field formatter, whose output it reads back for the
/// span's fields.
pub(crate) struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut line = Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert("target".into(), event.metadata().target().into());

        let mut fields = FieldMap::default();
        event.record(&mut fields);
        if let Some(message) = fields.0.remove("message") {
            line.insert("message".into(), message);
        }
        line.insert("fields".into(), Value::Object(fields.0));

        if let Some(span) = ctx.lookup_current() {
            let extensions = span.extensions();
            let mut current = Map::new();
            current.insert("name".into(), span.name().into());
            if let Some(Value::Object(span_fields)) = extensions
                .get::<FormattedFields<JsonFields>>()
                .and_then(|f| serde_json::from_str(f.as_str()).ok())
            {
                current.extend(span_fields);
            }
            line.insert("span".into(), Value::Object(current));
            if let Some(ids) = extensions.get::<TraceIds>() {
                line.insert("trace_id".into(), ids.trace_id.clone().into());
                line.insert("span_id".into(), ids.span_id.clone().into());
            }
            drop(extensions);
            let names: Vec<Value> = span
                .scope()
                .from_root()
                .map(|s| Value::from(s.name()))
                .collect();
            line.insert("spans".into(), Value::Array(names));
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Collects an event's fields as JSON values, numbers as numbers.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
}
