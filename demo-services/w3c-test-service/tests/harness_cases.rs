//! The W3C Trace Context harness's cases, over real HTTP: each request goes
//! to the test service with the harness's headers, the service calls back a
//! receiver here, and the headers that arrive are checked as the harness
//! checks them (same inputs, same expectations, STRICT_LEVEL 2).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::json;

const TRACE_ID: &str = "12345678901234567890123456789012";
const PARENT_ID: &str = "1234567890123456";

type Received = Arc<Mutex<Vec<HeaderMap>>>;

struct Harness {
    service: String,
    callback: String,
    received: Received,
    client: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let service = serve(w3c_test_service::app()).await;
        let received = Received::default();
        let receiver = Router::new()
            .route(
                "/callback",
                post(|State(r): State<Received>, headers: HeaderMap| async move {
                    r.lock().unwrap().push(headers);
                    "null"
                }),
            )
            .with_state(received.clone());
        let callback = format!("{}/callback", serve(receiver).await);
        Self {
            service: format!("{service}/test"),
            callback,
            received,
            client: reqwest::Client::new(),
        }
    }

    /// Sends the headers; returns (traceparent fields, tracestate) of each callback.
    async fn send(&self, headers: &[(&str, &str)], callbacks: usize) -> Vec<(Vec<String>, String)> {
        self.received.lock().unwrap().clear();
        let mut request = self.client.post(&self.service);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let calls: Vec<_> = (0..callbacks)
            .map(|_| json!({"url": self.callback, "arguments": []}))
            .collect();
        let response = request
            .json(&calls)
            .send()
            .await
            .expect("the service answers");
        assert!(
            response.status().is_success(),
            "{:?}: {}",
            headers,
            response.status()
        );
        let received = self.received.lock().unwrap().clone();
        assert_eq!(
            received.len(),
            callbacks,
            "the service calls back once per element"
        );
        received
            .iter()
            .map(|h| {
                let parents: Vec<_> = h.get_all("traceparent").iter().collect();
                assert_eq!(parents.len(), 1, "exactly one traceparent goes out");
                let fields = parents[0]
                    .to_str()
                    .unwrap()
                    .split('-')
                    .map(str::to_owned)
                    .collect::<Vec<_>>();
                assert_eq!(fields.len(), 4);
                assert_eq!(fields[0], "00");
                let state = h
                    .get_all("tracestate")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join(",");
                (fields, state)
            })
            .collect()
    }

    async fn one(&self, headers: &[(&str, &str)]) -> (String, String, String) {
        let (fields, state) = self.send(headers, 1).await.remove(0);
        (fields[1].clone(), fields[2].clone(), state)
    }

    async fn continues(&self, headers: &[(&str, &str)]) -> String {
        let (trace_id, parent_id, state) = self.one(headers).await;
        assert_eq!(trace_id, TRACE_ID, "{headers:?} continues the trace");
        assert_ne!(parent_id, PARENT_ID, "{headers:?} gets a new parent id");
        state
    }

    async fn restarts(&self, headers: &[(&str, &str)]) {
        let (trace_id, _, _) = self.one(headers).await;
        assert!(
            !TRACE_ID.starts_with(&trace_id)
                && trace_id != "12345678901234567890123456789011"
                && trace_id.bytes().any(|b| b != b'0'),
            "{headers:?} starts a new trace, got {trace_id}"
        );
    }
}

/// Serves `app` on a free port of this thread's runtime.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn with_traceparent<'a>(tracestates: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![(
        "traceparent",
        "00-12345678901234567890123456789012-1234567890123456-00",
    )];
    headers.extend(tracestates.iter().map(|s| ("tracestate", *s)));
    headers
}

#[tokio::test]
async fn the_test_service_passes_the_w3c_harness_cases() {
    // The service's spans need real ids: a tracer, exporting nowhere. The
    // runtime of this test is single-threaded, so this default covers the
    // service's tasks too.
    let provider = telemetry::tracer_provider::<opentelemetry_sdk::trace::InMemorySpanExporter>(
        "w3c-test-service",
        None,
    );
    let (subscriber, _log_writers) =
        telemetry::subscriber(&telemetry::Settings::quiet("w3c-test-service"), &provider);
    let _default = tracing::subscriber::set_default(subscriber);
    let h = Harness::start().await;
    let valid = "00-12345678901234567890123456789012-1234567890123456-01";

    // traceparent: continued when valid, in any header-name casing, with OWS, or a future version
    for name in ["traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        h.continues(&[(name, valid)]).await;
    }
    for value in [
        " 00-12345678901234567890123456789012-1234567890123456-01",
        "\t00-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-01 \t",
        "cc-12345678901234567890123456789012-1234567890123456-01",
        "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
    ] {
        h.continues(&[("traceparent", value)]).await;
    }
    // traceparent: a new trace for anything malformed, duplicated or misnamed
    h.one(&[]).await;
    h.restarts(&[
        (
            "traceparent",
            "00-12345678901234567890123456789011-1234567890123456-01",
        ),
        ("traceparent", valid),
    ])
    .await;
    h.restarts(&[("trace-parent", valid)]).await;
    h.restarts(&[("trace.parent", valid)]).await;
    for value in [
        "00-12345678901234567890123456789012-1234567890123456-01.",
        "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
        "ff-12345678901234567890123456789012-1234567890123456-01",
        ".0-12345678901234567890123456789012-1234567890123456-01",
        "0.-12345678901234567890123456789012-1234567890123456-01",
        "000-12345678901234567890123456789012-1234567890123456-01",
        "0000-12345678901234567890123456789012-1234567890123456-01",
        "0-12345678901234567890123456789012-1234567890123456-01",
        "00-00000000000000000000000000000000-1234567890123456-01",
        "00-.2345678901234567890123456789012-1234567890123456-01",
        "00-1234567890123456789012345678901.-1234567890123456-01",
        "00-123456789012345678901234567890123-1234567890123456-01",
        "00-1234567890123456789012345678901-1234567890123456-01",
        "00-12345678901234567890123456789012-0000000000000000-01",
        "00-12345678901234567890123456789012-.234567890123456-01",
        "00-12345678901234567890123456789012-123456789012345.-01",
        "00-12345678901234567890123456789012-12345678901234567-01",
        "00-12345678901234567890123456789012-123456789012345-01",
        "00-12345678901234567890123456789012-1234567890123456-.0",
        "00-12345678901234567890123456789012-1234567890123456-0.",
        "00-12345678901234567890123456789012-1234567890123456-001",
        "00-12345678901234567890123456789012-1234567890123456-1",
    ] {
        h.restarts(&[("traceparent", value)]).await;
    }

    // tracestate: inherited, combined in order, OWS trimmed, any casing of the name
    let state = h.continues(&with_traceparent(&["foo=1,bar=2"])).await;
    assert_eq!(state, "foo=1,bar=2");
    for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
        let headers = [
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-00",
            ),
            (name, "foo=1"),
        ];
        assert_eq!(h.continues(&headers).await, "foo=1");
    }
    let state = h
        .continues(&with_traceparent(&[
            "foo=1,bar=2",
            "rojo=1,congo=2",
            "baz=3",
        ]))
        .await;
    assert_eq!(state, "foo=1,bar=2,rojo=1,congo=2,baz=3");
    for ows in [
        "foo=1 \t , \t bar=2, \t baz=3",
        "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
    ] {
        assert_eq!(
            h.continues(&with_traceparent(&[ows])).await,
            "foo=1,bar=2,baz=3"
        );
    }
    assert_eq!(
        h.continues(&with_traceparent(&["foo=1", ""])).await,
        "foo=1"
    );
    assert_eq!(
        h.continues(&with_traceparent(&["", "foo=1"])).await,
        "foo=1"
    );
    let thirty_two: Vec<String> = (1..=32).map(|i| format!("bar{i:02}={i:02}")).collect();
    assert_eq!(
        h.continues(&with_traceparent(&[&thirty_two.join(",")]))
            .await,
        thirty_two.join(",")
    );
    let long_key = format!("{}=1", "z".repeat(256));
    assert_eq!(
        h.continues(&with_traceparent(&["foo=1", &long_key])).await,
        format!("foo=1,{long_key}")
    );
    // tracestate: misnamed, or without a traceparent: not passed on
    let misnamed = [
        (
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-00",
        ),
        ("trace-state", "foo=1"),
    ];
    assert_eq!(h.continues(&misnamed).await, "");
    assert_eq!(h.one(&[("tracestate", "foo=1")]).await.2, "");
    // tracestate: duplicate keys passed on (the harness accepts them as they
    // are or with one dropped)
    for (headers, expected) in [
        (&["foo=1,foo=1"][..], "foo=1,foo=1"),
        (&["foo=1,foo=2"][..], "foo=1,foo=2"),
        (&["foo=1", "foo=1"][..], "foo=1,foo=1"),
        (&["foo=1", "foo=2"][..], "foo=1,foo=2"),
    ] {
        assert_eq!(h.continues(&with_traceparent(headers)).await, expected);
    }
    // tracestate: `@` is a key character wherever it stands but first, and a
    // key may be 256 characters long
    for valid in [
        "foo@=1,bar=2".to_owned(),
        "foo@@bar=1,bar=2".to_owned(),
        "foo@bar@baz=1,bar=2".to_owned(),
        format!("foo=1,{}@{}=1", "t".repeat(241), "v".repeat(14)),
        format!("foo=1,{}@v=1", "t".repeat(242)),
        format!("foo=1,t@{}=1", "v".repeat(15)),
    ] {
        assert_eq!(
            h.continues(&with_traceparent(&[&valid])).await,
            valid,
            "{valid} is inherited"
        );
    }
    // tracestate: discarded whole when any member breaks the rules
    let thirty_three: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    for invalid in [
        "foo =1".to_owned(),
        "FOO=1".to_owned(),
        "foo.bar=1".to_owned(),
        "@foo=1,bar=2".to_owned(),
        "foo=bar=baz".to_owned(),
        "foo=,bar=3".to_owned(),
        format!("foo=1,{}=1", "z".repeat(257)),
        thirty_three.join(","),
    ] {
        assert_eq!(
            h.continues(&with_traceparent(&[&invalid])).await,
            "",
            "{invalid} is discarded"
        );
    }

    // Level 2: the random flag is passed on with the trace.
    let (fields, _) = h
        .send(
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-02",
            )],
            1,
        )
        .await
        .remove(0);
    assert_eq!(fields[1], TRACE_ID);
    let flags = u8::from_str_radix(&fields[3], 16).unwrap();
    assert_eq!(flags & 0x02, 0x02, "random flag not set: {fields:?}");

    // Several calls: one trace, a new parent id each time.
    let calls = h.send(&[("traceparent", valid)], 3).await;
    let parents: std::collections::HashSet<_> = calls.iter().map(|(f, _)| f[2].clone()).collect();
    assert!(calls.iter().all(|(f, _)| f[1] == TRACE_ID));
    assert_eq!(parents.len(), 3);
}
