//! The grader of lab 04. `just lab 4` runs it and explains each result.
//!
//! Each check runs your talks service and the given seats service on
//! loopback, each with its own tracer (the harness the shop's system tests
//! use), sends real HTTP requests, some carrying a caller's `traceparent`,
//! and reads the spans both services exported: their names, kinds and
//! attributes (OpenTelemetry's HTTP and database conventions), and who is
//! whose parent, across the hop to the seats service.

use grader_kit::services::{Service, Spans, attr};
use lab04::{Seats, Talk, programme};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;

grader_kit::checks![
    server_spans_follow_the_http_conventions,
    server_spans_continue_the_callers_trace,
    client_spans_follow_the_conventions_and_carry_the_context,
    each_statement_is_one_database_span,
    the_talk_list_is_one_statement,
    answers_are_unchanged,
];

/// The caller's trace, as a `traceparent` would carry it.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One request to the talks service (and through it, the seats service):
/// the status, the body, and every span both exported.
fn ask(path: &str, traceparent: bool) -> (u16, String, Spans) {
    let seats = Service::spawn("seats", lab04::seats_app());
    let seats_url = seats.url();
    let talks = Service::spawn_with("talks", move || async move {
        let db = shop::db::in_memory().await.expect("an in-memory database");
        lab04::open(&db)
            .await
            .expect("the programme in the database");
        lab04::app(db, seats_url)
    });
    let url = format!("{}{path}", talks.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (status, body) = runtime.block_on(async {
        let mut request = reqwest::Client::new().get(&url);
        if traceparent {
            request = request.header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"));
        }
        let response = request.send().await.expect("the talks service answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    });
    let spans = Spans::stop_all([talks, seats]);
    (status, body, spans)
}

/// Every span of a service but those of its start (the given `open`),
/// one per line, for messages.
fn describe(spans: &Spans, service: &str) -> String {
    let start = spans
        .of(service)
        .iter()
        .find(|s| s.name == "open_talks")
        .map(|s| s.span_context.trace_id());
    let lines: Vec<String> = spans
        .of(service)
        .iter()
        .filter(|s| Some(s.span_context.trace_id()) != start)
        .map(|s| {
            let attributes: Vec<String> = s
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            format!("  {} ({:?}) {}", s.name, s.span_kind, attributes.join(", "))
        })
        .collect();
    if lines.is_empty() {
        "  (none)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// The talks service's server span: the one with kind server.
fn server_span<'a>(spans: &'a Spans, path: &str) -> &'a SpanData {
    let servers: Vec<&SpanData> = spans
        .of("talks")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    match servers.as_slice() {
        [one] => one,
        [] => panic!(
            "For GET {path}, the talks service exported no span of kind server; it exported:\n{}\n\
             A server span comes from tower-http's `TraceLayer` with `otel.kind = \"server\"` \
             among its fields. (README step 1.)",
            describe(spans, "talks")
        ),
        more => panic!(
            "For one request, GET {path}, the talks service exported {} spans of kind server: \
             one request is one server span. Is the hand-made middleware still there beside \
             the `TraceLayer`? (README step 1.)\n{}",
            more.len(),
            describe(spans, "talks")
        ),
    }
}

fn expect_attr(span: &SpanData, key: &str, expected: &str, what: &str, step: u8) {
    let found = attr(span, key);
    assert!(
        found.as_deref() == Some(expected),
        "{what}: `{key}` should be \"{expected}\", but it is {}. (README step {step}.)",
        found.map_or("missing".to_owned(), |f| format!("\"{f}\""))
    );
}

fn server_spans_follow_the_http_conventions() {
    for (path, route, status) in [
        ("/talks/3/seats", "/talks/{talk_id}/seats", "200"),
        ("/talks/42/seats", "/talks/{talk_id}/seats", "404"),
        ("/talks", "/talks", "200"),
    ] {
        let (_, _, spans) = ask(path, false);
        let span = server_span(&spans, path);
        let what = format!("The server span of GET {path}");
        assert!(
            span.name == format!("GET {route}"),
            "{what} is named \"{}\"; it should be \"GET {route}\": the method and the route \
             template (`MatchedPath`), not the raw path, so that every talk's requests are one \
             operation. Name it with the `otel.name` field. (README step 1.)",
            span.name
        );
        expect_attr(span, "http.request.method", "GET", &what, 1);
        expect_attr(span, "http.route", route, &what, 1);
        expect_attr(span, "url.path", path, &what, 1);
        expect_attr(span, "http.response.status_code", status, &what, 1);
    }
}

fn server_spans_continue_the_callers_trace() {
    let (_, _, spans) = ask("/talks/2/seats", true);
    let span = server_span(&spans, "/talks/2/seats");
    assert!(
        span.span_context.trace_id() == TraceId::from_hex(CALLER_TRACE).expect("hex"),
        "The request carried a `traceparent` (trace {CALLER_TRACE}), but the server span is in \
         trace {}: extract the caller's context from the request's headers with \
         `TraceContextPropagator` and make it the span's parent (`span.set_parent(…)`), as in \
         lab 03. (README step 1.)",
        span.span_context.trace_id()
    );
    assert!(
        span.parent_span_id == SpanId::from_hex(CALLER_SPAN).expect("hex"),
        "The server span is in the caller's trace but its parent is {}, not the caller's span \
         {CALLER_SPAN}. (README step 1.)",
        span.parent_span_id
    );
    // Without a traceparent, a trace of its own (not the previous one's).
    let (_, _, spans) = ask("/talks", false);
    let span = server_span(&spans, "/talks");
    assert!(
        span.parent_span_id == SpanId::INVALID,
        "A request without a `traceparent` starts a trace: its server span has no parent, \
         but this one has {}. (README step 1.)",
        span.parent_span_id
    );
}

fn client_spans_follow_the_conventions_and_carry_the_context() {
    for (talk, status) in [(4, "200"), (99, "404")] {
        let path = format!("/talks/{talk}/seats");
        let (_, _, spans) = ask(&path, true);
        let server = server_span(&spans, &path);
        let clients: Vec<&SpanData> = spans
            .of("talks")
            .iter()
            .filter(|s| s.span_kind == SpanKind::Client && attr(s, "db.system.name").is_none())
            .collect();
        let [client] = clients.as_slice() else {
            panic!(
                "GET {path} calls the seats service once, so the talks service should export \
                 one span of kind client for it (`otel.kind = \"client\"`, from a \
                 reqwest-middleware `Middleware`); it exported {}:\n{}\n(README step 2.)",
                clients.len(),
                describe(&spans, "talks")
            );
        };
        let what = format!("The client span of the call to the seats service for GET {path}");
        assert!(
            client.name == "GET",
            "{what} is named \"{}\": OpenTelemetry names a client span after its method, \
             \"GET\". (README step 2.)",
            client.name
        );
        expect_attr(client, "http.request.method", "GET", &what, 2);
        let full = attr(client, "url.full").unwrap_or_default();
        assert!(
            full.starts_with("http://127.0.0.1:") && full.ends_with(&format!("/seats/{talk}")),
            "{what}: `url.full` should be the whole URL called, http://127.0.0.1:PORT/seats/{talk}, \
             but it is \"{full}\". (README step 2.)"
        );
        expect_attr(client, "server.address", "127.0.0.1", &what, 2);
        let port = full
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        expect_attr(client, "server.port", &port, &what, 2);
        expect_attr(client, "http.response.status_code", status, &what, 2);
        assert!(
            client.parent_span_id == server.span_context.span_id(),
            "{what} is not a child of the request's server span: make the call inside the \
             request (the handler runs in the server span) and start the client span there. \
             (README step 2.)"
        );
        let seats_server = spans
            .of("seats")
            .iter()
            .find(|s| s.span_kind == SpanKind::Server)
            .expect("the seats service's server span");
        assert!(
            seats_server.span_context.trace_id() == client.span_context.trace_id()
                && seats_server.parent_span_id == client.span_context.span_id(),
            "The seats service's server span is not the child of your client span: it is in \
             trace {} with parent {}, your client span is {} in trace {}. Inject the client \
             span's context into the request's headers (`traceparent`) before it is sent. \
             (README step 2.)",
            seats_server.span_context.trace_id(),
            seats_server.parent_span_id,
            client.span_context.span_id(),
            client.span_context.trace_id()
        );
    }
}

/// The talks service's outermost span for the request, whatever its kind
/// (so that the database checks stand on their own, before step 1 is done):
/// the one whose parent is not one of the service's own spans, outside the
/// start's trace.
fn request_span<'a>(spans: &'a Spans, path: &str) -> &'a SpanData {
    let own = spans.of("talks");
    own.iter()
        .filter(|s| s.name != "open_talks")
        .find(|s| {
            !own.iter()
                .any(|p| p.span_context.span_id() == s.parent_span_id)
        })
        .unwrap_or_else(|| {
            panic!(
                "For GET {path}, the talks service exported no span for the request:\n{}",
                describe(spans, "talks")
            )
        })
}

/// The database spans of a request: the talks service's spans with
/// `db.system.name`, made by the telemetry layer from sqlx's statement log.
fn statements<'a>(spans: &'a Spans, path: &str) -> Vec<&'a SpanData> {
    let trace = request_span(spans, path).span_context.trace_id();
    spans
        .of("talks")
        .iter()
        .filter(|s| s.span_context.trace_id() == trace && attr(s, "db.system.name").is_some())
        .collect()
}

fn each_statement_is_one_database_span() {
    for path in ["/talks", "/talks/1/seats"] {
        let (_, _, spans) = ask(path, false);
        let request = request_span(&spans, path);
        // The request's own trace: the start's `open_talks` is another.
        let trace = request.span_context.trace_id();
        let others: Vec<String> = spans
            .of("talks")
            .iter()
            .filter(|s| s.span_context.trace_id() == trace && s.span_kind == SpanKind::Internal)
            .filter(|s| s.span_context.span_id() != request.span_context.span_id())
            .map(|s| s.name.to_string())
            .collect();
        assert!(
            others.is_empty(),
            "GET {path} exported spans of kind internal: {others:?}. The framework and the \
             driver make every span this service needs (the server span, the client span, a \
             span per statement from sqlx's statement log): a span opened by hand around a \
             query or a call duplicates one of them. Remove them. (README step 3.)"
        );
        for statement in statements(&spans, path) {
            assert!(
                statement.parent_span_id == request.span_context.span_id(),
                "The database span \"{}\" of GET {path} is not a child of the request's span: \
                 is a span opened by hand around the query? (README step 3.)",
                statement.name
            );
        }
    }
    let (_, _, spans) = ask("/talks", false);
    assert!(
        !statements(&spans, "/talks").is_empty(),
        "GET /talks ran no statement that made a database span: the talks are read from the \
         database, and each statement is a span of its own. (README step 3.)"
    );
}

fn the_talk_list_is_one_statement() {
    let (_, body, spans) = ask("/talks", false);
    let names: Vec<String> = statements(&spans, "/talks")
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert!(
        names.len() == 1,
        "GET /talks ran {} statements ({}): the talks, then a speaker per talk, is the N+1 \
         pattern. Read the talks with their speakers in one statement, a JOIN. (README step 4.)",
        names.len(),
        names.join(", ")
    );
    let talks: Vec<Talk> = serde_json::from_str(&body).unwrap_or_default();
    assert!(
        talks == programme(),
        "GET /talks in one statement answers {} talks, not the programme: the JOIN must keep \
         every talk and its speaker, in order of id. (README step 4.)",
        talks.len()
    );
}

fn answers_are_unchanged() {
    let (status, body, _) = ask("/talks", false);
    assert_eq!(status, 200, "GET /talks answers 200");
    let talks: Vec<Talk> = serde_json::from_str(&body).expect("GET /talks answers talks");
    assert!(
        talks == programme(),
        "GET /talks answers the programme, every talk with its speaker, in order of id"
    );
    let (status, body, _) = ask("/talks/5/seats", false);
    assert_eq!(status, 200, "GET /talks/5/seats answers 200");
    let seats: Seats = serde_json::from_str(&body).expect("seats");
    assert_eq!(seats.available, 65, "the seats service's answer, passed on");
    let (status, _, _) = ask("/talks/77/seats", false);
    assert_eq!(
        status, 404,
        "a talk the seats service does not know is a 404"
    );
}
