//! The grader of lab 03. `just lab 3` runs it and explains each result.
//!
//! Each check starts both services on their own ports (each with its own
//! tracer, spans in memory), sends the frontend several requests at once
//! over real HTTP, stops both, and reads every span they exported. The
//! requests are drawn afresh on every run (a failure prints the seed that
//! replays it): talks and quantities, callers' trace ids, span ids and
//! `tracestate`, and the ways a `traceparent` can be malformed. Sent at
//! once, the requests' traces must not mix: each property is asserted for
//! every request, not for the first.

use grader_kit::checks::evidence;
use grader_kit::scenario::Dice;
use grader_kit::services::{Service, Spans, attr};
use lab03::frontend::{self, Quote};
use lab03::prices;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;

grader_kit::checks![
    the_quote_is_right,
    both_services_share_one_trace,
    downstream_server_span_is_child_of_upstream_client_span,
    incoming_traceparent_is_continued,
    malformed_traceparent_starts_a_new_trace,
];

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// The draws this grader needs beyond the kit's.
trait TraceDraws {
    fn hex(&mut self, len: usize) -> String;
    fn tracestate(&mut self) -> String;
}

impl TraceDraws for Dice {
    /// `len` lower-case hex digits, not all zero (an all-zero id is invalid).
    fn hex(&mut self, len: usize) -> String {
        loop {
            let hex: String = (0..len)
                .map(|_| char::from_digit(self.between(0, 15) as u32, 16).expect("a hex digit"))
                .collect();
            if hex.bytes().any(|b| b != b'0') {
                return hex;
            }
        }
    }

    /// A `tracestate` of one to three vendors, each with its own value.
    fn tracestate(&mut self) -> String {
        let mut keys: Vec<String> = Vec::new();
        for _ in 0..self.between(1, 3) {
            let len = self.between(3, 6);
            let key = self.word(len);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        const VALUE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        keys.into_iter()
            .map(|key| {
                let len = self.between(3, 12);
                let value: String = (0..len)
                    .map(|_| char::from(VALUE[self.between(0, VALUE.len() as u64 - 1) as usize]))
                    .collect();
                format!("{key}={value}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The unit price `prices` gives a talk (given/src/prices.rs), if it
/// knows the talk.
fn unit_price(talk_id: u32) -> Option<u64> {
    match talk_id {
        1..=7 => Some(4_500),
        8 => Some(12_000),
        _ => None,
    }
}

/// A caller's position in its trace, as the `traceparent` it sends says.
struct Caller {
    trace_id: String,
    span_id: String,
    /// The `tracestate` sent with it ("" when none was).
    tracestate: String,
}

/// One request to the frontend.
struct Call {
    talk_id: u32,
    quantity: u64,
    headers: Vec<(&'static str, String)>,
    /// The caller's context it carries, when its `traceparent` is valid.
    caller: Option<Caller>,
    /// A trace id written in a malformed `traceparent`, which must not be
    /// taken up.
    not_to_continue: Option<String>,
}

impl Call {
    fn plain(talk_id: u32, quantity: u64) -> Self {
        Self {
            talk_id,
            quantity,
            headers: Vec::new(),
            caller: None,
            not_to_continue: None,
        }
    }

    /// A request from a caller in a trace of its own, with a `tracestate`
    /// two times in three.
    fn from_caller(dice: &mut Dice, talk_id: u32, quantity: u64) -> Self {
        let caller = Caller {
            trace_id: dice.hex(32),
            span_id: dice.hex(16),
            tracestate: if dice.one_in(3) {
                String::new()
            } else {
                dice.tracestate()
            },
        };
        let mut headers = vec![(
            "traceparent",
            format!("00-{}-{}-01", caller.trace_id, caller.span_id),
        )];
        if !caller.tracestate.is_empty() {
            headers.push(("tracestate", caller.tracestate.clone()));
        }
        Self {
            headers,
            caller: Some(caller),
            ..Self::plain(talk_id, quantity)
        }
    }

    /// What the request is, for a failure message.
    fn what(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        format!(
            "GET /quote/{}?quantity={}{}",
            self.talk_id,
            self.quantity,
            if headers.is_empty() {
                " (no trace headers)".to_owned()
            } else {
                format!(" with `{}`", headers.join("`, `"))
            }
        )
    }
}

/// `count` distinct talks that `prices` knows, and now and then one it
/// does not (its request fails downstream, with 404, and is traced all the
/// same).
fn draw_talks(dice: &mut Dice, count: usize, unknown_too: bool) -> Vec<u32> {
    let mut talks: Vec<u32> = (1..=8).collect();
    dice.shuffle(&mut talks);
    talks.truncate(count);
    if unknown_too && dice.one_in(2) {
        talks.push(dice.between(9, 99_999) as u32);
    }
    talks
}

/// A malformed `traceparent`, drawn among the ways one goes wrong, with
/// the trace id it names (if it names one) which must not be continued.
fn draw_malformed(dice: &mut Dice, shape: u32) -> (String, Option<String>) {
    let (trace, span) = (dice.hex(32), dice.hex(16));
    match shape {
        0 => {
            let len = dice.between(4, 20);
            (dice.word(len), None)
        }
        1 => (format!("00-{}-{span}-01", "0".repeat(32)), None),
        2 => (format!("00-{trace}-{}-01", "0".repeat(16)), Some(trace)),
        3 => (format!("ff-{trace}-{span}-01"), Some(trace)),
        4 => {
            // Upper case is not allowed: at least one letter to raise.
            let letter = char::from(b'a' + dice.between(0, 5) as u8);
            let trace = format!("{letter}{}", &trace[1..]);
            (
                format!("00-{}-{span}-01", trace.to_uppercase()),
                Some(trace),
            )
        }
        5 => {
            let at = dice.between(0, 31) as usize;
            let bad = char::from(b'g' + dice.between(0, 19) as u8);
            let broken = format!("{}{bad}{}", &trace[..at], &trace[at + 1..]);
            (format!("00-{broken}-{span}-01"), None)
        }
        6 => {
            // Version 00 has exactly four fields.
            let extra = dice.word(5);
            (format!("00-{trace}-{span}-01-{extra}"), Some(trace))
        }
        7 => (format!("00-{trace}-{span}"), Some(trace)),
        _ => (format!("00-{trace}-{span}-zz"), Some(trace)),
    }
}

// ---------------------------------------------------------------------------
// Running the services
// ---------------------------------------------------------------------------

/// What the frontend answered.
struct Answer {
    status: u16,
    quote: Option<Quote>,
}

/// Both services, every call sent at once, and what they exported.
fn exchange(calls: &[Call]) -> (Vec<Result<Answer, String>>, Spans) {
    let prices = Service::spawn("prices", prices::app(lab03::PROPAGATION));
    let frontend = Service::spawn("frontend", frontend::app(&prices.url(), lab03::PROPAGATION));
    let base = frontend.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the grader's requests");
    let answers = runtime.block_on(async {
        let client = reqwest::Client::new();
        let sent: Vec<_> = calls
            .iter()
            .map(|call| {
                let mut request = client.get(format!(
                    "{base}/quote/{}?quantity={}",
                    call.talk_id, call.quantity
                ));
                for (name, value) in &call.headers {
                    request = request.header(*name, value.as_str());
                }
                tokio::spawn(async move {
                    let response = request.send().await.map_err(|err| err.to_string())?;
                    let status = response.status().as_u16();
                    let quote = if response.status().is_success() {
                        Some(
                            response
                                .json::<Quote>()
                                .await
                                .map_err(|err| err.to_string())?,
                        )
                    } else {
                        None
                    };
                    Ok::<_, String>(Answer { status, quote })
                })
            })
            .collect();
        let mut answers = Vec::new();
        for request in sent {
            answers.push(request.await.unwrap_or_else(|err| Err(err.to_string())));
        }
        answers
    });
    let spans = Spans::stop_all([frontend, prices]);
    evidence("What the services recorded", describe(&spans));
    (answers, spans)
}

/// The status a request should get: 200, or 404 for a talk `prices` does
/// not know. A request that got neither (or no answer) fails the check:
/// propagation must never cost a request.
fn assert_served(call: &Call, answer: &Result<Answer, String>) {
    let expected = if unit_price(call.talk_id).is_some() {
        200
    } else {
        404
    };
    match answer {
        Ok(answer) if answer.status == expected => {}
        Ok(answer) => panic!(
            "{} was answered {}, where the services without propagation answer {expected}. \
             Reading or writing trace headers must never change an answer.",
            call.what(),
            answer.status
        ),
        Err(err) => panic!(
            "{} got no answer ({err}). Reading or writing trace headers must never cost a \
             request.",
            call.what()
        ),
    }
}

/// One request's spans, found by its talk: the frontend's server span, its
/// handler, its call to prices; prices' server span and handler.
struct Hop<'a> {
    frontend_server: &'a SpanData,
    client: &'a SpanData,
    prices_server: &'a SpanData,
}

fn hop<'a>(spans: &'a Spans, call: &Call) -> Hop<'a> {
    let talk = call.talk_id.to_string();
    let handler = |service: &str, name: &'static str| {
        let found: Vec<&SpanData> = spans
            .named(service, name)
            .filter(|s| attr(s, "talk_id").as_deref() == Some(talk.as_str()))
            .collect();
        match found.as_slice() {
            [span] => *span,
            other => panic!(
                "{service} recorded {} `{name}` span(s) for {}, where it handled the request \
                 once. What the services recorded is shown below.",
                other.len(),
                call.what()
            ),
        }
    };
    let parent_of = |service: &str, span: &SpanData| {
        spans
            .of(service)
            .iter()
            .find(|s| s.span_context.span_id() == span.parent_span_id)
            .unwrap_or_else(|| {
                panic!(
                    "{service}'s `{}` span for {} has no parent among {service}'s spans: its \
                     server span is missing.",
                    span.name,
                    call.what()
                )
            })
    };
    let quote = handler("frontend", "quote");
    let price = handler("prices", "price");
    let client = spans
        .of("frontend")
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Client && s.parent_span_id == quote.span_context.span_id()
        })
        .unwrap_or_else(|| {
            panic!(
                "The frontend recorded no client span (its call to prices) for {}.",
                call.what()
            )
        });
    Hop {
        frontend_server: parent_of("frontend", quote),
        client,
        prices_server: parent_of("prices", price),
    }
}

fn describe(spans: &Spans) -> String {
    let all: Vec<String> = spans
        .all()
        .map(|(service, s)| {
            let state = s.span_context.trace_state().header();
            format!(
                "  {service:<8} {:<22} {:<8} trace {} span {} parent {}{}{}",
                s.name,
                format!("{:?}", s.span_kind),
                s.span_context.trace_id(),
                s.span_context.span_id(),
                s.parent_span_id,
                if s.parent_span_is_remote {
                    " (remote)"
                } else {
                    ""
                },
                if state.is_empty() {
                    String::new()
                } else {
                    format!(" tracestate {state}")
                }
            )
        })
        .collect();
    if all.is_empty() {
        "  (no spans)".to_owned()
    } else {
        all.join("\n")
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn the_quote_is_right() {
    let mut dice = Dice::new();
    let count = dice.between(2, 4) as usize;
    let calls: Vec<Call> = draw_talks(&mut dice, count, true)
        .into_iter()
        .map(|talk| {
            let quantity = dice.between(1, 20);
            Call::plain(talk, quantity)
        })
        .collect();
    let (answers, _) = exchange(&calls);
    for (call, answer) in calls.iter().zip(&answers) {
        assert_served(call, answer);
        let Some(price) = unit_price(call.talk_id) else {
            continue;
        };
        let total = answer
            .as_ref()
            .ok()
            .and_then(|a| a.quote.as_ref())
            .map(|q| q.total_cents);
        assert_eq!(
            total,
            Some(price * call.quantity),
            "{} was quoted {total:?} cents, where {} seats at {price} cents cost {}. \
             Propagation only adds headers: it must not change what the services answer.",
            call.what(),
            call.quantity,
            price * call.quantity
        );
    }
}

fn both_services_share_one_trace() {
    let mut dice = Dice::new();
    let count = dice.between(2, 4) as usize;
    let calls: Vec<Call> = draw_talks(&mut dice, count, true)
        .into_iter()
        .map(|talk| {
            let quantity = dice.between(1, 20);
            Call::plain(talk, quantity)
        })
        .collect();
    let (answers, spans) = exchange(&calls);
    let mut traces: Vec<TraceId> = Vec::new();
    for (call, answer) in calls.iter().zip(&answers) {
        assert_served(call, answer);
        let hop = hop(&spans, call);
        let frontend = hop.frontend_server.span_context.trace_id();
        let prices = hop.prices_server.span_context.trace_id();
        assert_eq!(
            frontend,
            prices,
            "For {}, the frontend's spans are in trace {frontend} and prices' in trace \
             {prices}: the work prices did for this request is a trace of its own, cut off \
             from the request that asked for it, so nothing shows where this request spent \
             its time once it left the frontend (README steps 1 and 2).",
            call.what()
        );
        traces.push(frontend);
    }
    let mut distinct = traces.clone();
    distinct.sort_by_key(|t| t.to_string());
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        traces.len(),
        "{} requests, each with no trace of its own when it arrived, were recorded in only \
         {} trace(s): concurrent requests share a trace. Each request starts its own trace, \
         and carries that one, not another request's, across the hop.",
        traces.len(),
        distinct.len()
    );
    // Every span either service made belongs to one of the requests'
    // traces: a span in a trace of its own (made before the request's span
    // existed, say) is a trace nobody can find from the request.
    for (service, span) in spans.all() {
        let trace = span.span_context.trace_id();
        assert!(
            traces.contains(&trace),
            "The {service} service exported a span `{}` in trace {trace}, which is none of the \
             {} requests' traces: for every request, each span a service makes while serving \
             it belongs to that request's one trace, and nothing else starts a trace of its \
             own.\n{}",
            span.name,
            traces.len(),
            describe(&spans)
        );
    }
}

fn downstream_server_span_is_child_of_upstream_client_span() {
    let mut dice = Dice::new();
    // Requests that start a trace, and requests that continue their
    // caller's: the hop to prices is the same for both.
    let count = dice.between(3, 5) as usize;
    let talks = draw_talks(&mut dice, count, true);
    let mut calls = Vec::new();
    for (i, talk) in talks.into_iter().enumerate() {
        let quantity = dice.between(1, 20);
        calls.push(if i % 2 == 0 {
            Call::plain(talk, quantity)
        } else {
            Call::from_caller(&mut dice, talk, quantity)
        });
    }
    let (answers, spans) = exchange(&calls);
    let servers = spans
        .of("prices")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .count();
    assert_eq!(
        servers,
        calls.len(),
        "{} requests each made one call to prices, but prices recorded {servers} server \
         span(s).",
        calls.len()
    );
    for (call, answer) in calls.iter().zip(&answers) {
        assert_served(call, answer);
        let hop = hop(&spans, call);
        let (server, client) = (hop.prices_server, hop.client);
        let parent = spans
            .all()
            .find(|(_, s)| s.span_context.span_id() == server.parent_span_id)
            .map_or("a span no service recorded".to_owned(), |(service, s)| {
                format!("{service}'s `{}` span", s.name)
            });
        assert!(
            server.parent_span_id == client.span_context.span_id()
                && server.span_context.trace_id() == client.span_context.trace_id(),
            "For {}, prices' server span should be a child of the frontend's client span, \
             the call that made the request, in its trace; its parent is {parent} ({}), in \
             trace {}. Prices' work hangs somewhere other than under the call that asked \
             for it, so the trace cannot show how much of the call's time prices spent \
             (README step 2).",
            call.what(),
            server.parent_span_id,
            server.span_context.trace_id()
        );
        assert!(
            server.parent_span_is_remote,
            "For {}, prices' server span has the right parent, but not as a remote parent: \
             that parent is in another service, and its context came in the request's \
             headers.",
            call.what()
        );
        assert_eq!(
            attr(client, "peer.service").as_deref(),
            Some("prices"),
            "the client span names its peer"
        );
    }
}

fn incoming_traceparent_is_continued() {
    let mut dice = Dice::new();
    let count = dice.between(2, 4) as usize;
    let calls: Vec<Call> = draw_talks(&mut dice, count, false)
        .into_iter()
        .enumerate()
        .map(|(i, talk)| {
            let quantity = dice.between(1, 20);
            let mut call = Call::from_caller(&mut dice, talk, quantity);
            // At least one caller always has a `tracestate` to carry on.
            if let Some(caller) = call
                .caller
                .as_mut()
                .filter(|c| i == 0 && c.tracestate.is_empty())
            {
                caller.tracestate = dice.tracestate();
                call.headers.push(("tracestate", caller.tracestate.clone()));
            }
            call
        })
        .collect();
    let (answers, spans) = exchange(&calls);
    for (call, answer) in calls.iter().zip(&answers) {
        assert_served(call, answer);
        let caller = call.caller.as_ref().expect("every call here has a caller");
        let hop = hop(&spans, call);
        let server = hop.frontend_server;
        let trace = TraceId::from_hex(&caller.trace_id).expect("a trace id");
        let parent = SpanId::from_hex(&caller.span_id).expect("a span id");
        assert!(
            server.span_context.trace_id() == trace && server.parent_span_id == parent,
            "{} arrived from a caller in trace {}, as its span {}: the frontend's server span \
             should continue that trace, as a child of that span. It is in trace {}, with \
             parent {}: the caller's trace stops at the frontend's door, and the caller \
             cannot find the work it asked for (README step 1).",
            call.what(),
            caller.trace_id,
            caller.span_id,
            server.span_context.trace_id(),
            server.parent_span_id
        );
        assert!(
            server.parent_span_is_remote,
            "For {}, the frontend's server span continues the caller's trace, but its parent \
             is not marked remote, though it is in another service.",
            call.what()
        );
        let state = server.span_context.trace_state().header();
        assert_eq!(
            state,
            caller.tracestate,
            "{} carried the caller's `tracestate` {:?}; the frontend's server span holds {state:?}. \
             `tracestate` is part of the caller's context, which vendors rely on along the \
             whole trace: it did not survive the request's way into the frontend (README step 1).",
            call.what(),
            caller.tracestate
        );
        // The next hop: the whole request, prices' work too, is in the
        // caller's trace, with the caller's `tracestate`.
        let downstream = hop.prices_server;
        assert_eq!(
            downstream.span_context.trace_id(),
            trace,
            "For {}, the frontend continued the caller's trace {}, but prices' server span \
             is in trace {}: the caller's trace must reach every service the request goes \
             through (README step 2).",
            call.what(),
            caller.trace_id,
            downstream.span_context.trace_id()
        );
        let state = downstream.span_context.trace_state().header();
        assert_eq!(
            state,
            caller.tracestate,
            "For {}, prices' server span holds the `tracestate` {state:?}, where the caller \
             sent {:?}: the vendors' part of the trace did not survive the hop from the \
             frontend to prices (README step 2).",
            call.what(),
            caller.tracestate
        );
    }
}

fn malformed_traceparent_starts_a_new_trace() {
    let mut dice = Dice::new();
    // No header at all, a `tracestate` alone, and every way of breaking the
    // W3C format once, in a shuffled order: none names a caller to continue.
    // Requests are told apart by their talk, so they go in two rounds.
    const SHAPES: u32 = 9;
    let mut shapes: Vec<Option<u32>> = (0..SHAPES).map(Some).collect();
    shapes.extend([None, None]);
    dice.shuffle(&mut shapes);
    let mut tracestate_alone = true;
    let mut traces: Vec<TraceId> = Vec::new();
    let half = shapes.len() / 2;
    for round in [&shapes[..half], &shapes[half..]] {
        let talks = draw_talks(&mut dice, round.len(), false);
        let mut calls = Vec::new();
        for (shape, talk) in round.iter().zip(talks) {
            let quantity = dice.between(1, 20);
            let mut call = Call::plain(talk, quantity);
            match shape {
                Some(shape) => {
                    let (header, named) = draw_malformed(&mut dice, *shape);
                    call.headers.push(("traceparent", header));
                    call.not_to_continue = named;
                }
                // A `tracestate` alone names no trace to continue.
                None if tracestate_alone => {
                    call.headers.push(("tracestate", dice.tracestate()));
                    tracestate_alone = false;
                }
                // No header at all, as a request from outside any trace comes.
                None => {}
            }
            calls.push(call);
        }
        let (answers, spans) = exchange(&calls);
        for (call, answer) in calls.iter().zip(&answers) {
            assert_served(call, answer);
            let quoted = answer.as_ref().ok().and_then(|a| a.quote.as_ref());
            let price = unit_price(call.talk_id).expect("a known talk");
            assert_eq!(
                quoted.map(|q| q.total_cents),
                Some(price * call.quantity),
                "{} was quoted wrongly: trace headers must never change an answer.",
                call.what()
            );
            let server = hop(&spans, call).frontend_server;
            assert!(
                server.parent_span_id == SpanId::INVALID,
                "{} names no valid caller, so the frontend's server span starts a new \
                 trace, with no parent; it has the parent {}. A header that breaks the W3C \
                 rules is ignored, never half read.",
                call.what(),
                server.parent_span_id
            );
            if let Some(named) = &call.not_to_continue {
                assert!(
                    server.span_context.trace_id().to_string() != *named,
                    "{} is malformed, yet the frontend took up the trace id {named} written \
                     in it. A header that breaks the W3C rules is ignored whole.",
                    call.what()
                );
            }
            traces.push(server.span_context.trace_id());
        }
    }
    let mut distinct = traces.clone();
    distinct.sort_by_key(|t| t.to_string());
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        traces.len(),
        "{} requests without a valid caller were recorded in {} trace(s): each starts a new \
         trace of its own.",
        traces.len(),
        distinct.len()
    );
}
