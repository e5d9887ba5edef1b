//! An in-memory subscriber layer, and the queries graders ask of what it saw.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use crate::record::{EventRecord, FieldVisitor, SpanRecord};

/// Runs `f` with a capturing subscriber as the thread's default and returns
/// what it recorded. Every level is captured: filtering is the learner's job,
/// and a grader that wants to check it does so on the records.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    let layer = CaptureLayer::default();
    let captured = layer.captured();
    let subscriber = tracing_subscriber::registry().with(layer);
    let result = tracing::subscriber::with_default(subscriber, f);
    (result, captured)
}

/// Everything a [`CaptureLayer`] recorded. Cheap to clone: clones share the
/// same records, so a handle taken before the code runs sees what it records.
#[derive(Clone, Default)]
pub struct Captured {
    inner: Arc<Mutex<Records>>,
}

#[derive(Default)]
struct Records {
    spans: Vec<SpanRecord>,
    events: Vec<EventRecord>,
}

impl Captured {
    fn lock(&self) -> MutexGuard<'_, Records> {
        // A learner's panic inside a span can poison the lock; the records
        // are still whole (each is pushed in one step), so keep reading them.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every span, in creation order.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.lock().spans.clone()
    }

    /// Every event, in the order they happened.
    pub fn events(&self) -> Vec<EventRecord> {
        self.lock().events.clone()
    }

    /// The first span with this name.
    pub fn span(&self, name: &str) -> Option<SpanRecord> {
        self.lock().spans.iter().find(|s| s.name == name).cloned()
    }

    /// The parent of a span, if it has one.
    pub fn parent(&self, span: &SpanRecord) -> Option<SpanRecord> {
        let records = self.lock();
        span.parent.map(|p| records.spans[p].clone())
    }

    /// Events at exactly this level.
    pub fn events_at(&self, level: Level) -> Vec<EventRecord> {
        self.lock()
            .events
            .iter()
            .filter(|e| e.level == level)
            .cloned()
            .collect()
    }

    /// Whether `event` happened inside `span`, directly or in a descendant.
    pub fn is_within(&self, event: &EventRecord, span: &SpanRecord) -> bool {
        let records = self.lock();
        let mut current = event.span;
        while let Some(index) = current {
            if index == span.index {
                return true;
            }
            current = records.spans[index].parent;
        }
        false
    }

    /// Every piece of text a log line could show (span names, field names
    /// and values, event messages), each with where it was seen. For checks
    /// that a secret never leaks.
    pub fn all_text(&self) -> Vec<(String, String)> {
        let records = self.lock();
        let mut found = Vec::new();
        for span in &records.spans {
            let place = format!("span `{}`", span.name);
            found.push((place.clone(), span.name.to_owned()));
            for (name, value) in &span.fields {
                found.push((
                    format!("{place}, field `{name}`"),
                    format!("{name}={value}"),
                ));
            }
        }
        for event in &records.events {
            let place = format!("{} event", event.level);
            if let Some(message) = &event.message {
                found.push((format!("{place}, message"), message.clone()));
            }
            for (name, value) in &event.fields {
                found.push((
                    format!("{place}, field `{name}`"),
                    format!("{name}={value}"),
                ));
            }
        }
        found
    }

    /// Where a secret number (a card's) leaked: any text that holds six or
    /// more of its digits in a row, each with where it was seen. Six, as
    /// payment rules count: the first six and the last four may be shown
    /// apart, so a prefix of the card is a leak even if the whole is not.
    pub fn secret_leaks(&self, secret: &str) -> Vec<String> {
        const RUN: usize = 6;
        let digits: Vec<char> = secret.chars().filter(char::is_ascii_digit).collect();
        assert!(
            digits.len() >= RUN,
            "a secret of at least {RUN} digits: {secret:?}"
        );
        let runs: Vec<String> = digits.windows(RUN).map(|w| w.iter().collect()).collect();
        self.all_text()
            .into_iter()
            .filter(|(_, text)| runs.iter().any(|run| text.contains(run.as_str())))
            .map(|(place, text)| format!("{place}: {text}"))
            .collect()
    }

    /// A readable tree of what was recorded, for failure messages: a learner
    /// sees what their code produced next to what the check wanted.
    pub fn describe(&self) -> String {
        let records = self.lock();
        if records.spans.is_empty() && records.events.is_empty() {
            return "  (nothing was recorded: no spans, no events)\n".to_owned();
        }
        let mut out = String::new();
        let roots = records.spans.iter().filter(|s| s.parent.is_none());
        for root in roots {
            describe_span(&records, root, 1, &mut out);
        }
        for event in records.events.iter().filter(|e| e.span.is_none()) {
            describe_event(event, 1, &mut out);
        }
        out
    }
}

fn describe_span(records: &Records, span: &SpanRecord, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{indent}span {} [{}]{}",
        span.name,
        span.level,
        format_fields(&span.fields)
    );
    for event in records.events.iter().filter(|e| e.span == Some(span.index)) {
        describe_event(event, depth + 1, out);
    }
    for child in records
        .spans
        .iter()
        .filter(|s| s.parent == Some(span.index))
    {
        describe_span(records, child, depth + 1, out);
    }
}

fn describe_event(event: &EventRecord, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let message = event.message.as_deref().unwrap_or("");
    let _ = writeln!(
        out,
        "{indent}event [{}] {message:?}{}",
        event.level,
        format_fields(&event.fields)
    );
}

fn format_fields(fields: &BTreeMap<String, crate::Value>) -> String {
    fields.iter().fold(String::new(), |mut s, (k, v)| {
        let _ = write!(s, " {k}={v}");
        s
    })
}

/// The layer behind [`capture`], for graders that compose their own
/// subscriber (for example to put a learner's filter in front of it).
#[derive(Default)]
pub struct CaptureLayer {
    captured: Captured,
}

impl CaptureLayer {
    /// A handle on the records this layer will collect.
    pub fn captured(&self) -> Captured {
        self.captured.clone()
    }
}

/// Stored in each span's extensions: where its record lives.
struct RecordIndex(usize);

/// The spans entered and not yet left, on every thread, for the report of
/// a check stopped at its time limit: the span a loop never leaves is the
/// place to look. Process-wide, because the code under test may run on
/// threads of its own (a runtime's workers).
static ENTERED: Mutex<Vec<(Id, &'static str, String)>> = Mutex::new(Vec::new());

/// The spans entered and not left, innermost last, as `name (target)`.
pub fn open_spans() -> Vec<String> {
    ENTERED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .map(|(_, name, target)| format!("{name} ({target})"))
        .collect()
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<RecordIndex>().map(|i| i.0));
        let mut fields = BTreeMap::new();
        attrs.record(&mut FieldVisitor {
            fields: &mut fields,
            message: None,
        });
        let mut records = self.captured.lock();
        let index = records.spans.len();
        records.spans.push(SpanRecord {
            index,
            name: attrs.metadata().name(),
            target: attrs.metadata().target().to_owned(),
            level: *attrs.metadata().level(),
            parent,
            fields,
            closed: false,
        });
        span.extensions_mut().insert(RecordIndex(index));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(index) = ctx
            .span(id)
            .and_then(|s| s.extensions().get::<RecordIndex>().map(|i| i.0))
        else {
            return;
        };
        let mut records = self.captured.lock();
        values.record(&mut FieldVisitor {
            fields: &mut records.spans[index].fields,
            message: None,
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let span = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<RecordIndex>().map(|i| i.0));
        let mut fields = BTreeMap::new();
        let mut message = None;
        event.record(&mut FieldVisitor {
            fields: &mut fields,
            message: Some(&mut message),
        });
        self.captured.lock().events.push(EventRecord {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message,
            fields,
            span,
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let metadata = span.metadata();
            ENTERED
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((id.clone(), metadata.name(), metadata.target().to_owned()));
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let mut entered = ENTERED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(at) = entered.iter().rposition(|(entered, ..)| entered == id) {
            entered.remove(at);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(index) = ctx
            .span(&id)
            .and_then(|s| s.extensions().get::<RecordIndex>().map(|i| i.0))
        {
            self.captured.lock().spans[index].closed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::{Level, field, info, info_span, warn};

    use super::*;

    #[test]
    fn a_secret_leaks_by_any_six_digits_in_a_row() {
        let card = "4242 4242 4242 1234";
        let ((), captured) = capture(|| {
            let _span = info_span!("charge", card_last4 = "1234", amount = 424_241_u64).entered();
            info!(prefix = "424242", "card checked");
        });
        let leaks = captured.secret_leaks(card);
        assert_eq!(leaks, ["INFO event, field `prefix`: prefix=424242"]);
        let ((), clean) = capture(|| info!(card_last4 = "1234", total = 42_424_u64, "paid"));
        assert!(clean.secret_leaks(card).is_empty());
    }

    #[test]
    fn records_nesting_fields_and_events() {
        let ((), captured) = capture(|| {
            let outer = info_span!("outer", id = 7_u64, total = field::Empty);
            let _entered = outer.enter();
            outer.record("total", 30_u64);
            let inner = tracing::debug_span!("inner", who = %"ada");
            inner.in_scope(|| warn!(reason = "late", "order rejected"));
            info!("done");
        });
        let outer = captured.span("outer").expect("outer span");
        let inner = captured.span("inner").expect("inner span");
        assert_eq!(outer.parent, None);
        assert_eq!(inner.parent, Some(outer.index));
        assert_eq!(inner.level, Level::DEBUG);
        assert_eq!(outer.field("id").and_then(|v| v.as_u64()), Some(7));
        assert_eq!(outer.field("total").and_then(|v| v.as_u64()), Some(30));
        assert!(inner.field("who").is_some_and(|v| v.is_text("ada")));
        assert!(outer.closed && inner.closed);

        let warning = &captured.events_at(Level::WARN)[0];
        assert_eq!(warning.message.as_deref(), Some("order rejected"));
        assert!(warning.field("reason").is_some_and(|v| v.is_text("late")));
        assert_eq!(warning.span, Some(inner.index));
        assert!(captured.is_within(warning, &outer));
        let done = &captured.events_at(Level::INFO)[0];
        assert!(!captured.is_within(done, &inner));
    }

    #[test]
    fn all_text_says_where_each_text_was_seen() {
        let ((), captured) = capture(|| {
            let _span = info_span!("charge", card = ?"4242").entered();
            info!(last4 = "4242", "charged");
        });
        let places: Vec<String> = captured
            .all_text()
            .into_iter()
            .filter(|(_, text)| text.contains("4242"))
            .map(|(place, _)| place)
            .collect();
        assert_eq!(
            places,
            ["span `charge`, field `card`", "INFO event, field `last4`"]
        );
    }

    #[test]
    fn describe_draws_a_tree() {
        let ((), captured) = capture(|| {
            info_span!("a", n = 1).in_scope(|| info!("hello"));
        });
        assert_eq!(
            captured.describe(),
            "  span a [INFO] n=1\n    event [INFO] \"hello\"\n"
        );
        let ((), empty) = capture(|| {});
        assert!(empty.describe().contains("nothing was recorded"));
    }

    #[test]
    fn captures_on_other_threads_do_not_mix() {
        let other = std::thread::spawn(|| capture(|| info!("elsewhere")).1);
        let ((), here) = capture(|| info!("here"));
        let there = other.join().expect("thread");
        assert_eq!(here.events().len(), 1);
        assert_eq!(there.events().len(), 1);
        assert_eq!(here.events()[0].message.as_deref(), Some("here"));
    }
}
