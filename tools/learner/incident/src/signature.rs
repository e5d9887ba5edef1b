//! What one trace must show to be evidence of a problem: its cause, in the
//! shape or the times of the spans, not only a span of the right name (an
//! order's trace has those whatever is planted).
//!
//! Each rule is what the labs teach to look for: calls that do not overlap
//! (serial), calls repeated (storms) or repeated at once (retries), statements under one request
//! (N+1), a wait before the locked work starts (a lock), a statement that
//! takes milliseconds (a scan), a span whose time no child explains (CPU),
//! a span ended by a client that left (`error.type = cancelled`) with seats
//! reserved and nothing after it, a child before its parent (a clock). Two
//! problems cannot be shown by a trace alone: logging that costs when off
//! shows in a profile, and spans dropped show on `/metrics`; a trace is
//! evidence of the first if it holds the operation, and never of the
//! second.

use shop::Problem;
use trace_analysis::jaeger::{JaegerSpan, Trace};

/// A statement of the audit look-up taking this long has scanned; with its
/// index it takes microseconds.
const SCAN_US: u64 = 1_000;
/// A payments `charge` with no child taking this long has burnt CPU: the
/// processor it waits for answers in 3 ms.
const BURNT_US: u64 = 8_000;
/// A reservation whose `record_reservation` started this long after the
/// steps before it had ended waited for the lock.
const WAITED_US: u64 = 1_000;
/// A payment asked again sooner than this after the last attempt ended was
/// asked at once: the shortest back-off waits 10 ms. Judged on the calls'
/// times, not on a `back_off` span being there: an overflowing export
/// queue drops spans, a back-off's among them.
const AT_ONCE_US: u64 = 5_000;
/// How soon after a given-up order the gateway's spans dropped with it
/// end: dropping a future ends its spans at once.
const DROPPED_WITHIN_US: u64 = 2_000;

/// Whether `trace` shows `problem`'s cause; if not, what was looked for.
pub fn shows(problem: Problem, trace: &Trace) -> Result<(), String> {
    let spans = Spans(trace);
    let found = match problem {
        Problem::SerialFanOut => spans.named("gateway", "look_up").any(|look_up| {
            let calls: Vec<&JaegerSpan> = spans.calls_under(look_up, None).collect();
            calls.len() >= 2
                && !calls
                    .iter()
                    .enumerate()
                    .any(|(i, a)| calls[i + 1..].iter().any(|b| overlap(a, b)))
        }),
        Problem::LockAcrossIo => spans
            .named("inventory", "reserve")
            .any(|reserve| spans.waited_before_recording(reserve)),
        Problem::CouponIndexPerQuote => spans.named("pricing", "index_coupons").next().is_some(),
        Problem::RetriesWithoutBackoff => spans.named("gateway", "charge").any(|charge| {
            let mut calls: Vec<&JaegerSpan> = spans.calls_under(charge, Some("payments")).collect();
            // A span stored twice (an export retried) is one call, not two.
            calls.sort_by(|a, b| (a.start_time, &a.span_id).cmp(&(b.start_time, &b.span_id)));
            calls.dedup_by(|a, b| a.span_id == b.span_id);
            calls.windows(2).any(|pair| {
                let ended = pair[0].start_time + pair[0].duration;
                pair[1].start_time.saturating_sub(ended) < AT_ONCE_US
            })
        }),
        Problem::EagerLogging => spans.named("pricing", "price").next().is_some(),
        Problem::NPlusOne => spans
            .of("catalog")
            .any(|request| spans.children(request).filter(|c| is_statement(c)).count() >= 2),
        Problem::WorkNobodyWaitsFor => abandoned(&spans),
        Problem::RetryStorm => spans
            .named("gateway", "look_up")
            .any(|look_up| spans.calls_under(look_up, Some("pricing")).count() >= 2),
        Problem::FraudModelPerCharge => spans
            .named("payments", "charge")
            .any(|charge| charge.duration >= BURNT_US && spans.children(charge).next().is_none()),
        Problem::MissingIndex => spans.of("inventory").any(|span| {
            is_statement(span)
                && span.duration >= SCAN_US
                && span
                    .tag("db.query.text")
                    .and_then(|v| v.as_str())
                    .is_some_and(|sql| sql.contains("FROM audit_log"))
        }),
        Problem::ClockSkew => spans.of("payments").any(|span| {
            spans
                .parent(span)
                .is_some_and(|parent| span.start_time < parent.start_time)
        }),
        Problem::ExportQueueOverflow => {
            return Err(
                "a trace cannot show the spans missing from it: spans dropped show on \
                 the service's /metrics (`metric:SERVICE:NAME`)"
                    .to_owned(),
            );
        }
    };
    match found {
        true => Ok(()),
        false => Err(format!(
            "trace {} does not show it: no {}",
            trace.trace_id,
            looked_for(problem)
        )),
    }
}

/// What the rule above looks for, in words, for the learner told no.
fn looked_for(problem: Problem) -> &'static str {
    match problem {
        Problem::SerialFanOut => "gateway `look_up` whose calls run one after another",
        Problem::LockAcrossIo => {
            "inventory `reserve` whose `record_reservation` waited after the steps before it"
        }
        Problem::CouponIndexPerQuote => "pricing `index_coupons` span",
        Problem::RetriesWithoutBackoff => {
            "gateway `charge` that asked payments again within 5 ms of the last attempt's end, with no pause between the attempts"
        }
        Problem::EagerLogging => "pricing `price` span",
        Problem::NPlusOne => "catalog request with several statements under it",
        Problem::WorkNobodyWaitsFor => {
            "order given up (`error.type = cancelled`) after seats were asked for, with nothing of the gateway's after it: no release, no payment"
        }
        Problem::RetryStorm => "gateway `look_up` that called pricing more than once",
        Problem::FraudModelPerCharge => {
            "payments `charge` whose milliseconds no child span explains"
        }
        Problem::MissingIndex => {
            "inventory statement on the audit log taking a millisecond or more"
        }
        Problem::ClockSkew => "payments span that starts before its parent",
        Problem::ExportQueueOverflow => "trace can show dropped spans",
    }
}

/// Seats reserved, then nobody: an order given up by its client (the
/// gateway's `POST /orders` ended with `error.type = cancelled`) after
/// the inventory was asked for seats, with which the gateway's work ended
/// (see [`went_on`]): no release, no payment, no compensation. (The inventory
/// may go on recording what it was asked: its own work runs to its end.)
/// Given-up orders are no problem in themselves, customers leave: with the
/// fix, the order's saga goes on after its client has gone, and the
/// gateway's spans start after the cancellation.
fn abandoned(spans: &Spans) -> bool {
    let reserved = spans
        .named("inventory", "POST /reservations")
        .next()
        .is_some();
    let compensated = spans.named("gateway", "compensate").next().is_some();
    reserved
        && !compensated
        && spans.named("gateway", "POST /orders").any(|order| {
            let given_up = order.start_time + order.duration;
            order.tag("error.type").and_then(|v| v.as_str()) == Some("cancelled")
                && !paid_before(spans, given_up)
                && !spans.of("gateway").any(|later| went_on(later, given_up))
        })
}

/// Whether the payment service had accepted the order's charge by
/// `given_up`. An order given up after that has only its confirmation
/// left, which takes no service's work: a fixed shop shows it too (two in
/// a thousand orders under the lock's queue), and nothing was abandoned.
fn paid_before(spans: &Spans, given_up: u64) -> bool {
    spans.of("gateway").any(|call| {
        call.tag("peer.service").and_then(|v| v.as_str()) == Some("payments")
            && call.start_time + call.duration <= given_up
            && call
                .tag("http.response.status_code")
                .and_then(status_code)
                .is_some_and(|status| (200..300).contains(&status))
    })
}

/// Whether the gateway's `span` is work that went on after the order was
/// given up at `given_up`: it started after, or it ended after with an
/// answer (a call dropped with the order has none), or it ended long after.
fn went_on(span: &JaegerSpan, given_up: u64) -> bool {
    let end = span.start_time + span.duration;
    span.start_time > given_up
        || (end > given_up && span.tag("http.response.status_code").is_some())
        || end > given_up + DROPPED_WITHIN_US
}

/// A status code as a tag holds it: a number, or its text (as the
/// collector's Jaeger JSON gives it).
fn status_code(value: &serde_json::Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
}

fn overlap(a: &JaegerSpan, b: &JaegerSpan) -> bool {
    a.start_time < b.start_time + b.duration && b.start_time < a.start_time + a.duration
}

fn is_statement(span: &JaegerSpan) -> bool {
    span.tag("db.system.name").is_some()
}

/// The spans of one trace, by service and by parent.
struct Spans<'a>(&'a Trace);

impl<'a> Spans<'a> {
    fn of(&self, service: &'a str) -> impl Iterator<Item = &'a JaegerSpan> + 'a {
        let trace = self.0;
        trace
            .spans
            .iter()
            .filter(move |span| trace.service_of(span) == service)
    }

    fn named(&self, service: &'a str, name: &'a str) -> impl Iterator<Item = &'a JaegerSpan> + 'a {
        self.of(service)
            .filter(move |span| span.operation_name == name)
    }

    fn parent(&self, span: &JaegerSpan) -> Option<&'a JaegerSpan> {
        let parent_id = &span.references.first()?.span_id;
        self.0.spans.iter().find(|p| &p.span_id == parent_id)
    }

    fn children(&self, parent: &'a JaegerSpan) -> impl Iterator<Item = &'a JaegerSpan> + 'a {
        self.0.spans.iter().filter(move |span| {
            span.references
                .first()
                .is_some_and(|r| r.span_id == parent.span_id)
        })
    }

    /// Whether `reserve`'s `record_reservation` started [`WAITED_US`] or
    /// more after `reserve` began and every step before it had ended: it
    /// waited for the lock. Not the wait before the first step: a key's
    /// look-up waits there for the database's one connection, which no
    /// span shows, with the lock fixed too.
    fn waited_before_recording(&self, reserve: &'a JaegerSpan) -> bool {
        self.children(reserve)
            .filter(|step| step.operation_name == "record_reservation")
            .any(|record| {
                let ready = self
                    .children(reserve)
                    .map(|step| step.start_time + step.duration)
                    .filter(|end| *end <= record.start_time)
                    .fold(reserve.start_time, u64::max);
                record.start_time.saturating_sub(ready) >= WAITED_US
            })
    }

    /// The client calls `parent` made, to `peer` or to any service.
    fn calls_under(
        &self,
        parent: &'a JaegerSpan,
        peer: Option<&'a str>,
    ) -> impl Iterator<Item = &'a JaegerSpan> + 'a {
        self.children(parent).filter(move |span| {
            let called = span.tag("peer.service").and_then(|v| v.as_str());
            called.is_some() && (peer.is_none() || called == peer)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use trace_analysis::jaeger;
    use trace_analysis::model::{Kind, Span, Value};

    use super::*;

    /// A span of the tests' one trace, `at` (start, duration) in µs; the
    /// detective's tests make theirs with it too.
    pub(crate) fn span(
        id: &str,
        parent: Option<&str>,
        service: &str,
        name: &str,
        at: (u64, u64),
    ) -> Span {
        Span {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
            span_id: id.to_owned(),
            parent_span_id: parent.map(str::to_owned),
            service: service.to_owned(),
            name: name.to_owned(),
            kind: Kind::Internal,
            start_us: at.0,
            duration_us: at.1,
            ..Span::default()
        }
    }

    fn call(id: &str, parent: &str, peer: &str, at: (u64, u64)) -> Span {
        let mut span = span(id, Some(parent), "gateway", "POST", at);
        span.kind = Kind::Client;
        span.attributes
            .push(("peer.service".to_owned(), Value::Str(peer.to_owned())));
        span
    }

    fn statement(id: &str, parent: &str, service: &str, sql: &str, at: (u64, u64)) -> Span {
        let mut span = span(id, Some(parent), service, "SELECT", at);
        span.attributes
            .push(("db.system.name".to_owned(), Value::Str("sqlite".to_owned())));
        span.attributes
            .push(("db.query.text".to_owned(), Value::Str(sql.to_owned())));
        span
    }

    #[test]
    fn calls_in_series_show_the_fan_out_and_overlapping_calls_do_not() {
        let root = span("r", None, "gateway", "look_up", (0, 300));
        let serial = jaeger::trace(&[
            root.clone(),
            call("a", "r", "catalog", (0, 100)),
            call("b", "r", "pricing", (100, 100)),
        ]);
        assert_eq!(shows(Problem::SerialFanOut, &serial), Ok(()));
        assert!(
            shows(Problem::RetryStorm, &serial).is_err(),
            "one call to pricing"
        );
        let concurrent = jaeger::trace(&[
            root,
            call("a", "r", "catalog", (0, 100)),
            call("b", "r", "pricing", (50, 100)),
            call("c", "r", "pricing", (150, 100)),
        ]);
        assert!(shows(Problem::SerialFanOut, &concurrent).is_err());
        assert_eq!(shows(Problem::RetryStorm, &concurrent), Ok(()));
    }

    #[test]
    fn a_scan_is_a_slow_statement_on_the_audit_log_and_n_plus_one_is_many() {
        let sql = "SELECT COUNT(*) FROM audit_log WHERE reservation_id = $1";
        let scan = jaeger::trace(&[
            span("r", None, "inventory", "record_reservation", (0, 9_000)),
            statement("s", "r", "inventory", sql, (0, 6_000)),
        ]);
        assert_eq!(shows(Problem::MissingIndex, &scan), Ok(()));
        let search = jaeger::trace(&[
            span("r", None, "inventory", "record_reservation", (0, 9_000)),
            statement("s", "r", "inventory", sql, (0, 20)),
        ]);
        assert!(shows(Problem::MissingIndex, &search).is_err());
        let ladder = jaeger::trace(&[
            span("r", None, "catalog", "GET /talks/{talk_id}", (0, 900)),
            statement("a", "r", "catalog", "SELECT talks", (0, 100)),
            statement("b", "r", "catalog", "SELECT speakers", (100, 100)),
        ]);
        assert_eq!(shows(Problem::NPlusOne, &ladder), Ok(()));
    }

    #[test]
    fn a_wait_before_recording_shows_the_lock_and_retries_need_no_back_off() {
        let waited = jaeger::trace(&[
            span("r", None, "inventory", "reserve", (0, 5_000)),
            span(
                "s",
                Some("r"),
                "inventory",
                "record_reservation",
                (3_000, 2_000),
            ),
        ]);
        assert_eq!(shows(Problem::LockAcrossIo, &waited), Ok(()));
        let at_once = jaeger::trace(&[
            span("r", None, "inventory", "reserve", (0, 5_000)),
            span(
                "s",
                Some("r"),
                "inventory",
                "record_reservation",
                (10, 4_000),
            ),
        ]);
        assert!(shows(Problem::LockAcrossIo, &at_once).is_err());
        // A key looked up after a wait for the database's connection, then
        // the reservation recorded at once: no lock was waited for.
        let mut key = span("k", Some("r"), "inventory", "SELECT", (3_000, 100));
        key.attributes
            .push(("db.system.name".to_owned(), Value::Str("sqlite".to_owned())));
        let record_at = |start| {
            span(
                "s",
                Some("r"),
                "inventory",
                "record_reservation",
                (start, 900),
            )
        };
        let keyed = [span("r", None, "inventory", "reserve", (0, 5_000)), key];
        let mut at_once_after_the_key = keyed.to_vec();
        at_once_after_the_key.push(record_at(3_150));
        let trace = jaeger::trace(&at_once_after_the_key);
        assert!(shows(Problem::LockAcrossIo, &trace).is_err());
        let mut locked_after_the_key = keyed.to_vec();
        locked_after_the_key.push(record_at(4_200));
        let trace = jaeger::trace(&locked_after_the_key);
        assert_eq!(shows(Problem::LockAcrossIo, &trace), Ok(()));
        let charge = span("c", None, "gateway", "charge", (0, 100));
        let retried = jaeger::trace(&[
            charge.clone(),
            call("a", "c", "payments", (0, 10)),
            call("b", "c", "payments", (10, 10)),
        ]);
        assert_eq!(shows(Problem::RetriesWithoutBackoff, &retried), Ok(()));
        let backed_off = [
            charge,
            call("a", "c", "payments", (0, 10)),
            span("w", Some("c"), "gateway", "back_off", (10, 10_000)),
            call("b", "c", "payments", (10_020, 10)),
        ];
        let trace = jaeger::trace(&backed_off);
        assert!(shows(Problem::RetriesWithoutBackoff, &trace).is_err());
        // The back-off's span lost (an export queue overflowing drops
        // spans): the pause between the calls still shows there was one.
        let without_its_span: Vec<Span> = backed_off
            .iter()
            .filter(|span| span.name != "back_off")
            .cloned()
            .collect();
        let trace = jaeger::trace(&without_its_span);
        assert!(shows(Problem::RetriesWithoutBackoff, &trace).is_err());
        // A call stored twice (its export retried) is one call, not a
        // retry at once.
        let mut stored_twice = backed_off.to_vec();
        stored_twice.push(call("b", "c", "payments", (10_020, 10)));
        let trace = jaeger::trace(&stored_twice);
        assert!(shows(Problem::RetriesWithoutBackoff, &trace).is_err());
    }

    #[test]
    fn seats_reserved_then_nobody_show_abandoned_work_and_a_saga_going_on_does_not() {
        let cancelled = |mut span: Span| {
            span.attributes
                .push(("error.type".to_owned(), Value::Str("cancelled".to_owned())));
            span
        };
        let order = cancelled(span("o", None, "gateway", "POST /orders", (0, 100)));
        let reservation = span("r", Some("o"), "inventory", "POST /reservations", (10, 50));
        let left_behind = jaeger::trace(&[order.clone(), reservation.clone()]);
        assert_eq!(shows(Problem::WorkNobodyWaitsFor, &left_behind), Ok(()));
        // The inventory finishes what it was asked: the order is still
        // abandoned.
        let recorded_later = jaeger::trace(&[
            order.clone(),
            reservation.clone(),
            span("s", Some("r"), "inventory", "record_reservation", (120, 20)),
        ]);
        assert_eq!(shows(Problem::WorkNobodyWaitsFor, &recorded_later), Ok(()));
        // A payment in flight that ends after the order was given up: the
        // saga went on.
        let paid_after = jaeger::trace(&[
            order.clone(),
            reservation.clone(),
            call("c", "o", "payments", (60, 5_000)),
        ]);
        assert!(shows(Problem::WorkNobodyWaitsFor, &paid_after).is_err());
        // ...or just after, with its answer.
        let mut answered_just_after = call("c", "o", "payments", (60, 41));
        answered_just_after
            .attributes
            .push(("http.response.status_code".to_owned(), Value::Int(201)));
        let answered = jaeger::trace(&[order.clone(), reservation.clone(), answered_just_after]);
        assert!(shows(Problem::WorkNobodyWaitsFor, &answered).is_err());
        // A payment accepted before the order was given up: only the
        // confirmation was left, and no work was abandoned.
        // (The collector's Jaeger JSON gives the status code as text.)
        let mut paid_before = call("c", "o", "payments", (60, 20));
        paid_before.attributes.push((
            "http.response.status_code".to_owned(),
            Value::Str("201".to_owned()),
        ));
        let paid = jaeger::trace(&[order.clone(), reservation.clone(), paid_before]);
        assert!(shows(Problem::WorkNobodyWaitsFor, &paid).is_err());
        // A call dropped with the order ends with it, unanswered.
        let dropped = jaeger::trace(&[
            order.clone(),
            reservation.clone(),
            call("c", "o", "payments", (60, 41)),
        ]);
        assert_eq!(shows(Problem::WorkNobodyWaitsFor, &dropped), Ok(()));
        // The saga pays after its client has gone: the work goes on.
        let saga_goes_on = jaeger::trace(&[
            order.clone(),
            reservation.clone(),
            call("c", "o", "payments", (150, 20)),
        ]);
        assert!(shows(Problem::WorkNobodyWaitsFor, &saga_goes_on).is_err());
        let compensated = jaeger::trace(&[
            order,
            reservation,
            span("k", Some("o"), "gateway", "compensate", (60, 20)),
        ]);
        assert!(shows(Problem::WorkNobodyWaitsFor, &compensated).is_err());
        let answered = span("r", None, "inventory", "POST /reservations", (0, 10));
        assert!(shows(Problem::WorkNobodyWaitsFor, &jaeger::trace(&[answered])).is_err());
    }
}
