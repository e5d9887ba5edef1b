//! The grader of lab 03. `just lab 3` runs it and explains each result.
//!
//! Each check starts both services on their own ports (each with its own
//! tracer, spans in memory), sends the frontend a request over real HTTP,
//! stops both, and reads the spans they exported.

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

/// A valid W3C `traceparent`: version 00, a trace id, the caller's span id,
/// sampled.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Both services, one quote request with `traceparent` (if any), and what
/// they exported.
fn quote(traceparent: Option<&str>) -> (Result<Quote, String>, Spans) {
    let prices = Service::spawn("prices", prices::app(lab03::PROPAGATION));
    let frontend = Service::spawn("frontend", frontend::app(&prices.url(), lab03::PROPAGATION));
    let url = format!("{}/quote/8?quantity=3", frontend.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let response = request.send().await.map_err(|err| err.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the frontend answered {status}"));
        }
        response
            .json::<Quote>()
            .await
            .map_err(|err| err.to_string())
    });
    (answer, Spans::stop_all([frontend, prices]))
}

fn server_span<'a>(spans: &'a Spans, service: &str) -> &'a SpanData {
    spans
        .of(service)
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap_or_else(|| panic!("{service} recorded no server span"))
}

fn client_span(spans: &Spans) -> &SpanData {
    spans
        .of("frontend")
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("the frontend recorded its call to prices")
}

fn describe(spans: &Spans) -> String {
    spans
        .all()
        .map(|(service, s)| {
            format!(
                "  {service:<8} {:<22} trace {} span {} parent {}",
                s.name,
                s.span_context.trace_id(),
                s.span_context.span_id(),
                s.parent_span_id
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn the_quote_is_right() {
    let (answer, _) = quote(None);
    let quote = answer.unwrap_or_else(|err| panic!("The quote request failed: {err}."));
    assert_eq!(
        quote.total_cents,
        3 * 12_000,
        "Three seats at talk 8 cost 36,000 cents. Propagation must not change what the \
         services answer."
    );
}

fn both_services_share_one_trace() {
    let (answer, spans) = quote(None);
    answer.expect("the quote request succeeds");
    let frontend = server_span(&spans, "frontend").span_context.trace_id();
    let prices = server_span(&spans, "prices").span_context.trace_id();
    assert_eq!(
        frontend,
        prices,
        "The frontend's request and the work it asked of prices should be one trace, but \
         prices started a trace of its own. The frontend must write its context into the \
         request (`inject`, README step 2) and prices must read it (`extract`, step 1).\n\
         What the services recorded:\n{}",
        describe(&spans)
    );
}

fn downstream_server_span_is_child_of_upstream_client_span() {
    let (answer, spans) = quote(None);
    answer.expect("the quote request succeeds");
    let call = client_span(&spans);
    let server = server_span(&spans, "prices");
    assert_eq!(
        server.parent_span_id,
        call.span_context.span_id(),
        "The prices server span should be a child of the frontend's client span (the call \
         to prices). Inject the context of the span you are given, `span.context()`, not of \
         another one (README step 2).\nWhat the services recorded:\n{}",
        describe(&spans)
    );
    assert!(
        server.parent_span_is_remote,
        "its parent is in another service: a remote parent"
    );
    assert_eq!(
        attr(call, "peer.service").as_deref(),
        Some("prices"),
        "the client span names its peer"
    );
}

fn incoming_traceparent_is_continued() {
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let (answer, spans) = quote(Some(&traceparent));
    answer.expect("the quote request succeeds");
    let server = server_span(&spans, "frontend");
    assert_eq!(
        server.span_context.trace_id(),
        TraceId::from_hex(CALLER_TRACE).unwrap(),
        "A request that arrives with `traceparent: {traceparent}` belongs to the caller's \
         trace: the frontend's server span should continue it. `extract` reads the header \
         with `TraceContextPropagator` and `HeaderExtractor` (README step 1).\n\
         What the services recorded:\n{}",
        describe(&spans)
    );
    assert_eq!(
        server.parent_span_id,
        SpanId::from_hex(CALLER_SPAN).unwrap()
    );
}

fn malformed_traceparent_starts_a_new_trace() {
    for header in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    ] {
        let (answer, spans) = quote(Some(header));
        answer.unwrap_or_else(|err| {
            panic!("A malformed traceparent ({header:?}) must never fail the request: {err}")
        });
        let server = server_span(&spans, "frontend");
        assert_eq!(
            server.parent_span_id,
            SpanId::INVALID,
            "With a malformed traceparent ({header:?}), the frontend's span starts a new \
             trace: it has no parent."
        );
    }
}
