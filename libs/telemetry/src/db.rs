//! Database spans from one instrumentation point: sqlx's own statement log.
//!
//! sqlx writes one event per statement as it finishes (target
//! `sqlx::query`, at DEBUG): the SQL as the code wrote it, with its
//! placeholders (`$1`), the rows it returned, and how long it ran. It never
//! writes the values bound to the placeholders. This layer turns each of
//! those events into a span of its own, kind client, named and attributed
//! as OpenTelemetry's database conventions say (`SELECT talks`,
//! `db.system.name`, `db.operation.name`, `db.collection.name`,
//! `db.query.text`, `db.response.returned_rows`), a child of the span the
//! statement ran in, and timed from the statement's own start and end.
//!
//! So no call site opens a span for a query, the way no handler opens its
//! server span, and no card number or customer name bound to a statement
//! can reach a trace: the text is the statement's, not the values'.
//!
//! **Failed statements.** sqlx's log says the same of a statement that
//! failed as of one that succeeded: the error goes only to the code that
//! ran it. So the code that receives a database's error says so once, with
//! an event carrying the field `db.error` (`shop::db` does, where every
//! database error becomes an answer):
//!
//! ```ignore
//! tracing::error!(db.error = %err, db.response.status_code = code, "the database failed");
//! ```
//!
//! The database's code is what says the database refused a statement; an
//! error without one (no connection free in time, a value that did not
//! decode) marks no statement.
//!
//! That event comes after the statement, in the span the statement ran in
//! or in one of its callers (the `?` that carried the error up). A
//! statement's span is therefore ended only when the span it ran in
//! closes, or handed up to that span's parent, and the last statement to
//! have finished before a `db.error` is the one marked failed: status
//! error, `error.type` and `db.response.status_code` set to the database's
//! code. Its times are its own either way: ending later moves nothing.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry_sdk::trace::{SdkTracer, Span as SdkSpan};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::Id;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The target of sqlx's statement events, which `init`'s filter keeps on
/// at DEBUG and the logs leave out.
pub(crate) const STATEMENTS: &str = "sqlx::query";

/// The layer that makes the database spans.
pub struct DbSpans {
    tracer: SdkTracer,
    /// `db.system.name`: `sqlite` or `postgresql`, from `DATABASE_URL`.
    system: &'static str,
    dispatch: OnceLock<WeakDispatch>,
}

impl DbSpans {
    /// Spans for the statements of the database `DATABASE_URL` names
    /// (SQLite when it names none), made with `tracer`.
    pub fn new(tracer: SdkTracer) -> Self {
        let url = std::env::var("DATABASE_URL").unwrap_or_default();
        Self {
            tracer,
            system: system_name(&url),
            dispatch: OnceLock::new(),
        }
    }
}

/// OpenTelemetry's `db.system.name` for a database URL.
fn system_name(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// What a statement event says.
#[derive(Default)]
struct Statement {
    summary: String,
    text: String,
    rows_returned: Option<u64>,
    elapsed: Option<Duration>,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => value.clone_into(&mut self.summary),
            "db.statement" => value.trim().clone_into(&mut self.text),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows_returned = Some(value);
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = Duration::try_from_secs_f64(value).ok();
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl Statement {
    /// The whole statement: sqlx writes it out only when it is longer than
    /// its four-word summary, which is otherwise the statement itself.
    fn query_text(&self) -> &str {
        if self.text.is_empty() {
            &self.summary
        } else {
            &self.text
        }
    }
}

/// The operation (`SELECT`) and the table it reads or writes, as the
/// conventions name a database span: from the statement's own words.
pub(crate) fn operation_and_collection(sql: &str) -> (String, Option<String>) {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let operation = words
        .first()
        .map(|w| w.to_ascii_uppercase())
        .unwrap_or_default();
    let after = |keyword: &str| {
        words
            .iter()
            .position(|w| w.eq_ignore_ascii_case(keyword))
            .and_then(|at| words.get(at + 1))
    };
    let table = match operation.as_str() {
        "SELECT" | "DELETE" => after("FROM"),
        "INSERT" => after("INTO"),
        "UPDATE" => words.get(1),
        "CREATE" => words
            .iter()
            .rposition(|w| w.eq_ignore_ascii_case("EXISTS") || w.eq_ignore_ascii_case("TABLE"))
            .and_then(|at| words.get(at + 1)),
        _ => None,
    };
    let table = table.map(|t| {
        t.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'))
            .to_owned()
    });
    (operation, table.filter(|t| !t.is_empty()))
}

/// The field of the event that says a statement failed.
pub const FAILED: &str = "db.error";

/// What a `db.error` event says.
#[derive(Default)]
struct Failure {
    message: String,
    code: Option<String>,
}

impl Visit for Failure {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            FAILED => value.clone_into(&mut self.message),
            "db.response.status_code" => self.code = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            FAILED => self.message = format!("{value:?}"),
            "db.response.status_code" => self.code = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// The statements that ran in a span (or in its children, closed since),
/// kept open until the span closes: whether the last one failed is only
/// said after it ends.
#[derive(Default)]
struct Unfinished {
    statements: Vec<(SystemTime, SdkSpan)>,
    failure: Option<Failure>,
}

impl Unfinished {
    /// Ends every statement; the last to finish is marked failed if a
    /// failure was said (which always carries the database's code).
    fn end(mut self) {
        if let Some(Failure {
            message,
            code: Some(code),
        }) = self.failure
            && let Some((_, failed)) = self.statements.iter_mut().max_by_key(|(end, _)| *end)
        {
            failed.set_attribute(KeyValue::new("error.type", code.clone()));
            failed.set_attribute(KeyValue::new("db.response.status_code", code));
            failed.set_status(Status::error(message));
        }
        crate::cpu_time::forget_unclaimed();
        for (end, mut statement) in self.statements {
            statement.end_with_timestamp(end);
        }
    }
}

/// The statements kept open in `span`, an empty set the first time.
fn unfinished_in<S>(span: &SpanRef<'_, S>, change: impl FnOnce(&mut Unfinished))
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut extensions = span.extensions_mut();
    if extensions.get_mut::<Unfinished>().is_none() {
        extensions.insert(Unfinished::default());
    }
    if let Some(unfinished) = extensions.get_mut::<Unfinished>() {
        change(unfinished);
    }
}

impl<S> Layer<S> for DbSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != STATEMENTS {
            if event.metadata().fields().field(FAILED).is_some()
                && let Some(span) = ctx.event_span(event)
            {
                let mut failure = Failure::default();
                event.record(&mut failure);
                if failure.code.is_some() {
                    unfinished_in(&span, |unfinished| unfinished.failure = Some(failure));
                }
            }
            return;
        }
        let mut statement = Statement::default();
        event.record(&mut statement);
        let end = SystemTime::now();
        let start = end
            .checked_sub(statement.elapsed.unwrap_or_default())
            .unwrap_or(end);
        // The statement ran inside the span that is current now, as its
        // event is written: that span is the database span's parent.
        let ran_in = ctx.event_span(event);
        let parent = ran_in
            .as_ref()
            .zip(self.dispatch.get().and_then(WeakDispatch::upgrade))
            // A span of a trace not sampled that OpenTelemetry never saw:
            // its nearest ancestor it saw, whose trace the sampler drops
            // the statement's span with (rather than starting a trace).
            .and_then(|(span, dispatch)| crate::sampling::nearest_seen_context(span, &dispatch))
            .unwrap_or_default();
        // A statement of a trace the sampler dropped: its span would be
        // dropped too, and nothing propagates from it, so nothing of it is
        // built (its text parsed, its attributes, its name).
        let parent_span = parent.span();
        let in_dropped_trace = {
            let decided = parent_span.span_context();
            decided.is_valid() && !decided.is_sampled()
        };
        if in_dropped_trace {
            return;
        }
        let text = statement.query_text();
        let (operation, collection) = operation_and_collection(text);
        let name = match &collection {
            Some(table) => format!("{operation} {table}"),
            None => operation.clone(),
        };
        let mut attributes = vec![
            KeyValue::new("db.system.name", self.system),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.text", text.to_owned()),
        ];
        if let Some(table) = collection {
            attributes.push(KeyValue::new("db.collection.name", table));
        }
        if let Some(rows) = statement.rows_returned {
            attributes.push(KeyValue::new(
                "db.response.returned_rows",
                i64::try_from(rows).unwrap_or(i64::MAX),
            ));
        }
        let mut statement = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        match ran_in {
            Some(span) => unfinished_in(&span, |unfinished| {
                unfinished.statements.push((end, statement));
            }),
            None => {
                crate::cpu_time::forget_unclaimed();
                statement.end_with_timestamp(end);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(unfinished) = span.extensions_mut().remove::<Unfinished>() else {
            return;
        };
        // A failure said here, or a span with no caller: the statements end.
        // Otherwise the caller may yet say that the last one failed.
        match span.parent() {
            Some(parent) if unfinished.failure.is_none() => unfinished_in(&parent, |theirs| {
                theirs.statements.extend(unfinished.statements);
            }),
            _ => unfinished.end(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_operation_and_its_table() {
        let cases = [
            (
                "SELECT id, title FROM talks ORDER BY id",
                "SELECT",
                Some("talks"),
            ),
            (
                "select name from speakers where id = $1",
                "SELECT",
                Some("speakers"),
            ),
            (
                "INSERT INTO audit_log (order_id) VALUES ($1)",
                "INSERT",
                Some("audit_log"),
            ),
            (
                "UPDATE seats SET left = left - 1 WHERE talk_id = $1",
                "UPDATE",
                Some("seats"),
            ),
            (
                "DELETE FROM reservations WHERE id = $1",
                "DELETE",
                Some("reservations"),
            ),
            (
                "CREATE TABLE IF NOT EXISTS talks (id INTEGER)",
                "CREATE",
                Some("talks"),
            ),
            ("BEGIN", "BEGIN", None),
        ];
        for (sql, operation, table) in cases {
            let (found_operation, found_table) = operation_and_collection(sql);
            assert_eq!(found_operation, operation, "{sql}");
            assert_eq!(found_table.as_deref(), table, "{sql}");
        }
    }

    #[test]
    fn the_system_comes_from_the_database_url() {
        assert_eq!(system_name("postgres://shop@localhost/shop"), "postgresql");
        assert_eq!(system_name("postgresql://localhost"), "postgresql");
        assert_eq!(system_name("sqlite://target/demo/catalog.db"), "sqlite");
        assert_eq!(system_name(""), "sqlite");
    }
}
