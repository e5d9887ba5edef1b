//! The grader of lab 04. `just lab 4` runs it and explains each result.
//!
//! Each check runs your talks service and the given seats service on
//! loopback, each with its own tracer (the harness the shop's system tests
//! use), over a programme of talks the check draws at random (its ids,
//! titles and speakers, inserted in an order that is not the talks' order).
//! It sends real HTTP requests, in a random order: some with a query
//! string, one to no route, one with a method the route does not take, some
//! carrying a caller's `traceparent` (valid or not), and one that its
//! caller abandons before any answer. Then it reads the spans both services
//! exported: their names, kinds and attributes (OpenTelemetry's HTTP and
//! database conventions), and who is whose parent, across the hop to the
//! seats service.
//!
//! Where the conventions make an attribute an int (a status code, a port),
//! the check serves the requests once more on its own thread and reads the
//! fields as your code recorded them, before OpenTelemetry turns them into
//! attributes: an int must be recorded as an int, not as its text.

use std::fmt;
use std::time::Duration;

use grader_kit::scenario::{self, Rng};
use grader_kit::services::{Service, Spans, attr};
use grader_kit::{Captured, SpanRecord};
use lab04::{Seats, Talk};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use tokio::io::AsyncReadExt;
use tracing::Instrument;

grader_kit::checks![
    server_spans_follow_the_http_conventions,
    server_spans_continue_the_callers_trace,
    client_spans_follow_the_conventions_and_carry_the_context,
    each_statement_is_one_database_span,
    the_talk_list_is_one_statement,
    answers_are_unchanged,
];

/// The route templates of the talks service.
const LIST: &str = "/talks";
const SEATS: &str = "/talks/{talk_id}/seats";
const STATUS: &str = "http.response.status_code";
/// The given code's span around making the tables: the service's start.
const OPEN_SPAN: &str = "open_talks";
/// The span the grader puts its own programme in with: part of the
/// service's start, like the given `open_talks`, not of any request.
const SEED_SPAN: &str = "seed_talks";
/// A span the grader opens and closes at once when the talks service's
/// start is over: when that was. Not the seed span's end, which comes only
/// when its last handle goes, and sqlx's SQLite worker may hold one until
/// after the first request has begun (on a busy machine, it did).
const READY_SPAN: &str = "talks_ready";

// ---------------------------------------------------------------------------
// The scenario: a programme of talks, and the requests.

/// A programme of the scenario's own, written over the given one: random
/// ids, titles and speakers, so that no answer copied from the given
/// programme passes, inserted in an order that is not the order of the
/// talks' ids (nor of their titles, speakers' names or speakers' ids), so
/// that only an order by id gives the answer.
#[derive(Clone, Debug)]
struct Programme {
    /// (id, name), in the order they are inserted.
    speakers: Vec<(i64, String)>,
    /// (id, title, speaker id), in the order they are inserted.
    talks: Vec<(i64, String, i64)>,
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

fn ascending<T: PartialOrd>(keys: &[T]) -> bool {
    keys.windows(2).all(|w| w[0] <= w[1])
}

impl Programme {
    fn draw(rng: &mut Rng) -> Self {
        loop {
            let count = rng.usize(3..=4);
            let ids = scenario::distinct(rng, count, |r| r.i64(1..=99));
            let names = scenario::distinct(rng, count, |r| {
                let len = r.usize(4..=8);
                capitalised(&scenario::word(r, len))
            });
            let speakers: Vec<(i64, String)> = ids.into_iter().zip(names).collect();
            let count = rng.usize(5..=8);
            let ids = scenario::distinct(rng, count, |r| r.i64(1..=999));
            let mut talks = Vec::with_capacity(count);
            for id in ids {
                let (first, second) = (rng.usize(3..=8), rng.usize(3..=9));
                let title = format!(
                    "{} {}",
                    capitalised(&scenario::word(rng, first)),
                    scenario::word(rng, second)
                );
                let speaker = speakers[rng.usize(..speakers.len())].0;
                talks.push((id, title, speaker));
            }
            let programme = Programme { speakers, talks };
            if programme.tells_orders_apart() {
                return programme;
            }
        }
    }

    fn by_id(&self) -> Vec<(i64, String, i64)> {
        let mut talks = self.talks.clone();
        talks.sort_by_key(|t| t.0);
        talks
    }

    fn tells_orders_apart(&self) -> bool {
        let inserted: Vec<i64> = self.talks.iter().map(|t| t.0).collect();
        let by_id = self.by_id();
        let titles: Vec<&str> = by_id.iter().map(|t| t.1.as_str()).collect();
        let speaker_ids: Vec<i64> = by_id.iter().map(|t| t.2).collect();
        let names: Vec<String> = by_id.iter().map(|t| self.name_of(t.2)).collect();
        !ascending(&inserted)
            && !ascending(&titles)
            && !ascending(&speaker_ids)
            && !ascending(&names)
    }

    fn name_of(&self, speaker: i64) -> String {
        self.speakers
            .iter()
            .find(|s| s.0 == speaker)
            .map(|s| s.1.clone())
            .unwrap_or_default()
    }

    /// What `GET /talks` must answer: every talk with its speaker, by id.
    fn answer(&self) -> Vec<Talk> {
        self.by_id()
            .into_iter()
            .map(|(id, title, speaker)| Talk {
                id,
                title,
                speaker: self.name_of(speaker),
            })
            .collect()
    }

    /// Replaces the given programme with this one.
    async fn seed(&self, db: &shop::db::Db) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM talks").execute(db).await?;
        sqlx::query("DELETE FROM speakers").execute(db).await?;
        for (id, name) in &self.speakers {
            sqlx::query("INSERT INTO speakers (id, name) VALUES ($1, $2)")
                .bind(*id)
                .bind(name.clone())
                .execute(db)
                .await?;
        }
        for (id, title, speaker) in &self.talks {
            sqlx::query("INSERT INTO talks (id, title, speaker_id) VALUES ($1, $2, $3)")
                .bind(*id)
                .bind(title.clone())
                .bind(*speaker)
                .execute(db)
                .await?;
        }
        Ok(())
    }
}

/// The talks the given seats service knows (it answers 404 for others).
fn known_talks() -> Vec<i64> {
    lab04::programme().iter().map(|t| t.id).collect()
}

fn known_talk(rng: &mut Rng) -> i64 {
    let known = known_talks();
    known[rng.usize(..known.len())]
}

/// A talk the seats service does not know.
fn unknown_talk(rng: &mut Rng) -> i64 {
    rng.i64(100..=99_999)
}

/// A query string, which is not part of `url.path` or the route.
fn query(rng: &mut Rng) -> String {
    let (key, value) = (rng.usize(3..=6), rng.usize(2..=8));
    let key = scenario::word(rng, key);
    let value = scenario::word(rng, value);
    format!("?{key}={value}")
}

/// A query string, or none.
fn maybe_query(rng: &mut Rng) -> String {
    if rng.bool() {
        query(rng)
    } else {
        String::new()
    }
}

/// One request as the grader sends it.
#[derive(Clone, Debug)]
struct Ask {
    method: reqwest::Method,
    /// The path as sent, with its query string if it has one.
    target: String,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl fmt::Display for Ask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.target)
    }
}

/// A request, and what its server span must say.
#[derive(Clone, Debug)]
struct Case {
    ask: Ask,
    /// `http.route`: the template the request matched, if it matched one.
    route: Option<&'static str>,
    /// `url.path`: the path, without the query string.
    path: String,
    /// The talk the talks service asks the seats service about, if it calls.
    calls: Option<i64>,
    /// Whether the request reads the database (`GET /talks`).
    reads_db: bool,
}

fn case(method: reqwest::Method, path: String, query: String, route: Option<&'static str>) -> Case {
    Case {
        ask: Ask {
            method,
            target: format!("{path}{query}"),
            traceparent: None,
            tracestate: None,
        },
        route,
        path,
        calls: None,
        reads_db: false,
    }
}

fn list(query: String) -> Case {
    Case {
        reads_db: true,
        ..case(reqwest::Method::GET, LIST.to_owned(), query, Some(LIST))
    }
}

fn seats(talk: i64, query: String) -> Case {
    Case {
        calls: Some(talk),
        ..case(
            reqwest::Method::GET,
            format!("/talks/{talk}/seats"),
            query,
            Some(SEATS),
        )
    }
}

/// A talk id that is no number: the route matches, the handler refuses it.
fn not_a_talk_id(rng: &mut Rng) -> Case {
    let len = rng.usize(3..=8);
    let word = scenario::word(rng, len);
    case(
        reqwest::Method::GET,
        format!("/talks/{word}/seats"),
        String::new(),
        Some(SEATS),
    )
}

/// A path that matches no route.
fn unmatched(rng: &mut Rng) -> Case {
    let (first, second) = (rng.usize(3..=8), rng.usize(3..=8));
    let path = format!(
        "/{}/{}",
        scenario::word(rng, first),
        scenario::word(rng, second)
    );
    let query = maybe_query(rng);
    case(reqwest::Method::GET, path, query, None)
}

/// A method the route does not take.
fn post_to_list() -> Case {
    case(
        reqwest::Method::POST,
        LIST.to_owned(),
        String::new(),
        Some(LIST),
    )
}

/// A caller's span context, as its `traceparent` and `tracestate` carry it.
#[derive(Clone, Debug)]
struct Caller {
    trace: String,
    span: String,
    state: String,
}

impl Caller {
    fn draw(rng: &mut Rng) -> Self {
        let (key, value) = (rng.usize(3..=6), rng.usize(4..=10));
        let key = scenario::word(rng, key);
        let value = scenario::word(rng, value);
        Caller {
            trace: format!("{:032x}", rng.u128(1..)),
            span: format!("{:016x}", rng.u64(1..)),
            state: format!("{key}={value}"),
        }
    }

    fn calls(&self, mut case: Case) -> Case {
        case.ask.traceparent = Some(format!("00-{}-{}-01", self.trace, self.span));
        case.ask.tracestate = Some(self.state.clone());
        case
    }
}

/// A `traceparent` that the W3C format refuses, so that the request starts
/// a trace of its own.
fn invalid_traceparent(rng: &mut Rng) -> String {
    let caller = Caller::draw(rng);
    match rng.usize(..4) {
        0 => format!("00-{}-{}-01", "0".repeat(32), caller.span),
        1 => format!("00-{}-{}-01", caller.trace, "0".repeat(16)),
        2 => format!("ff-{}-{}-01", caller.trace, caller.span),
        _ => format!("00-{}-{}", caller.trace, caller.span),
    }
}

// ---------------------------------------------------------------------------
// Running the services.

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The talks service, on a database holding `programme`, asking the seats
/// service at `seats_url`.
fn spawn_talks(seats_url: String, programme: &Programme) -> Service {
    let programme = programme.clone();
    Service::spawn_with("talks", move || async move {
        let db = shop::db::in_memory().await.expect("an in-memory database");
        lab04::open(&db).await.expect("the given tables");
        programme
            .seed(&db)
            .instrument(tracing::info_span!(SEED_SPAN))
            .await
            .expect("the scenario's programme in the database");
        tracing::info_span!(READY_SPAN).in_scope(|| ());
        lab04::app(db, seats_url)
    })
}

async fn send(client: &reqwest::Client, base: &str, ask: &Ask) -> (u16, String) {
    let mut request = client.request(ask.method.clone(), format!("{base}{}", ask.target));
    if let Some(traceparent) = &ask.traceparent {
        request = request.header("traceparent", traceparent.as_str());
    }
    if let Some(tracestate) = &ask.tracestate {
        request = request.header("tracestate", tracestate.as_str());
    }
    let response = request.send().await.expect("the talks service answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// What one run of both services answered and exported.
struct Run {
    /// Each request's status and body, in the order sent.
    replies: Vec<(u16, String)>,
    spans: Spans,
    seats_url: String,
}

/// Sends `cases`, one after another, to the talks service (and through it,
/// the seats service); returns the answers and every span both exported.
fn run(cases: &[Case], programme: &Programme) -> Run {
    let seats = Service::spawn("seats", lab04::seats_app());
    let seats_url = seats.url();
    let talks = spawn_talks(seats_url.clone(), programme);
    let base = talks.url();
    let runtime = runtime();
    let replies = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut replies = Vec::with_capacity(cases.len());
        for case in cases {
            replies.push(send(&client, &base, &case.ask).await);
        }
        replies
    });
    drop(runtime);
    Run {
        replies,
        spans: Spans::stop_all([talks, seats]),
        seats_url,
    }
}

/// `GET /talks/{talk}/seats`, abandoned by its caller: the talks service
/// calls a seats service that takes the call and never answers, and once
/// the call is under way the caller drops its request. Returns the talks
/// service's spans.
fn abandoned(talk: i64, programme: &Programme) -> Spans {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    silent
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let silent_url = format!("http://{}", silent.local_addr().expect("bound"));
    let talks = spawn_talks(silent_url, programme);
    let url = format!("{}/talks/{talk}/seats", talks.url());
    let runtime = runtime();
    runtime.block_on(async move {
        let silent = tokio::net::TcpListener::from_std(silent).expect("a listener");
        let request = tokio::spawn(async move { reqwest::Client::new().get(url).send().await });
        // Once the talks service calls, the request's spans are open.
        let call = tokio::time::timeout(Duration::from_secs(10), silent.accept()).await;
        request.abort();
        let _ = request.await;
        if let Ok(Ok((mut call, _))) = call {
            // A server drops the work of a request whose caller has gone,
            // and the call with it: wait for that (a few seconds at most),
            // then hang up, which ends the call either way.
            let mut buffer = [0_u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(3), async {
                while call.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
            })
            .await;
        }
    });
    drop(runtime);
    Spans::stop_all([talks])
}

/// The fields your code recorded on its spans, as `tracing` saw them: the
/// requests of `cases` that read no database, served by your talks service
/// on this thread under a capturing subscriber (no OpenTelemetry, so no
/// traces: only the fields).
/// The spans recorded, and the port of the seats service they called (not
/// the exported run's: this run has a seats service of its own).
fn recorded(cases: &[Case]) -> (Vec<SpanRecord>, i64) {
    let seats = Service::spawn("seats", lab04::seats_app());
    let seats_url = seats.url();
    let seats_port: i64 = seats_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the seats service's port");
    let asks: Vec<Ask> = cases
        .iter()
        .filter(|c| !c.reads_db)
        .map(|c| c.ask.clone())
        .collect();
    let ((), captured): ((), Captured) = grader_kit::capture(|| {
        runtime().block_on(async {
            sqlx::any::install_default_drivers();
            let db = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect_lazy("sqlite::memory:")
                .expect("a database that opens when first used");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a free port");
            let base = format!("http://{}", listener.local_addr().expect("bound"));
            let app = lab04::app(db, seats_url);
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let client = reqwest::Client::new();
            for ask in &asks {
                send(&client, &base, ask).await;
            }
            server.abort();
        });
    });
    drop(seats.stop());
    (captured.spans(), seats_port)
}

// ---------------------------------------------------------------------------
// Reading the spans.

/// The traces of the talks service's start (the given `open_talks`, the
/// grader's programme, its marker of the start's end): no request's.
fn start_traces(spans: &Spans) -> Vec<TraceId> {
    spans
        .of("talks")
        .iter()
        .filter(|s| [OPEN_SPAN, SEED_SPAN, READY_SPAN].contains(&s.name.as_ref()))
        .map(|s| s.span_context.trace_id())
        .collect()
}

/// The talks service's spans of the requests: all but its start's (those
/// in the start's traces, and any that began before the start was over,
/// such as a connection's own configuration).
fn request_spans(spans: &Spans) -> Vec<&SpanData> {
    let start = start_traces(spans);
    let ready = spans
        .of("talks")
        .iter()
        .filter(|s| s.name == READY_SPAN)
        .map(|s| s.end_time)
        .max();
    spans
        .of("talks")
        .iter()
        .filter(|s| !start.contains(&s.span_context.trace_id()))
        .filter(|s| ready.is_none_or(|ready| s.start_time >= ready))
        .collect()
}

/// A database span: made by the telemetry layer from sqlx's statement log.
fn is_statement(span: &SpanData) -> bool {
    attr(span, "db.system.name").is_some()
}

fn by_start(mut spans: Vec<&SpanData>) -> Vec<&SpanData> {
    spans.sort_by_key(|s| s.start_time);
    spans
}

/// The talks service's request spans, one per line, for messages.
fn describe(spans: &Spans) -> String {
    let lines: Vec<String> = request_spans(spans)
        .into_iter()
        .map(|s| {
            let attributes: Vec<String> = s
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            format!(
                "  {} ({:?}, span {}, parent {}) {}",
                s.name,
                s.span_kind,
                s.span_context.span_id(),
                s.parent_span_id,
                attributes.join(", ")
            )
        })
        .collect();
    if lines.is_empty() {
        "  (none)".to_owned()
    } else {
        lines.join("\n")
    }
}

fn list_asks(cases: &[Case]) -> String {
    cases
        .iter()
        .map(|c| format!("  {}", c.ask))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The talks service's server spans, in the order of the requests (sent
/// one after another): one per request.
fn server_spans<'a>(run: &'a Run, cases: &[Case]) -> Vec<&'a SpanData> {
    let servers = by_start(
        run.spans
            .of("talks")
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .collect(),
    );
    assert!(
        servers.len() == cases.len(),
        "The talks service was sent {} requests, one after another:\n{}\nand exported {} spans \
         of kind server. Every request, whatever its route or its answer (an unknown path, a \
         method the route does not take), is one server span: a request with none is missing \
         from every count of the service's traffic, and one with two is counted twice. \
         (README step 1.) It exported:\n{}",
        cases.len(),
        list_asks(cases),
        servers.len(),
        describe(&run.spans)
    );
    servers
}

/// A recorded field as text: what a log line would show.
fn field_text(span: &SpanRecord, key: &str) -> Option<String> {
    span.field(key).map(|v| match v {
        grader_kit::Value::Debug(s) => s.trim_matches('"').to_owned(),
        other => other.to_string(),
    })
}

/// The recorded span of this kind (`otel.kind`) for which `matches` holds.
fn recorded_span<'a>(
    recorded: &'a [SpanRecord],
    kind: &str,
    matches: impl Fn(&SpanRecord) -> bool,
) -> Option<&'a SpanRecord> {
    recorded.iter().find(|s| {
        field_text(s, "otel.kind").is_some_and(|k| k.eq_ignore_ascii_case(kind)) && matches(s)
    })
}

fn expect_attr(span: &SpanData, key: &str, expected: &str, what: &str, step: u8) {
    let found = attr(span, key);
    assert!(
        found.as_deref() == Some(expected),
        "{what}: `{key}` should be \"{expected}\", but it is {}. (README step {step}.)",
        found.map_or("missing".to_owned(), |f| format!("\"{f}\""))
    );
}

/// Whether an attribute that OpenTelemetry's conventions make an int is
/// this int. It is if it was exported as one, or if your code recorded an
/// integer: tracing-opentelemetry exports unsigned integers (a `u16`
/// status) as their text, which is not your code's doing. `Err` says what
/// was found instead.
fn int_attribute(
    span: &SpanData,
    recorded: Option<&SpanRecord>,
    key: &str,
    expected: i64,
) -> Result<(), String> {
    int_attribute_in_runs(span, recorded, key, expected, expected)
}

/// [`int_attribute`], where the run that recorded `recorded` expects
/// `expected_recorded` (another port, say).
fn int_attribute_in_runs(
    span: &SpanData,
    recorded: Option<&SpanRecord>,
    key: &str,
    expected: i64,
    expected_recorded: i64,
) -> Result<(), String> {
    let exported = span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value);
    if let Some(opentelemetry::Value::I64(n)) = exported {
        return if *n == expected {
            Ok(())
        } else {
            Err(format!("the int {n}"))
        };
    }
    match recorded.and_then(|r| r.field(key)) {
        Some(grader_kit::Value::U64(n)) if i64::try_from(*n) == Ok(expected_recorded) => Ok(()),
        Some(grader_kit::Value::I64(n)) if *n == expected_recorded => Ok(()),
        Some(v @ (grader_kit::Value::U64(_) | grader_kit::Value::I64(_))) => {
            Err(format!("the int {v}"))
        }
        Some(grader_kit::Value::Str(s)) => Err(format!(
            "the text \"{s}\", recorded as a string, not as a number"
        )),
        Some(grader_kit::Value::Debug(s)) => Err(format!(
            "the text {s}, recorded with its Debug form, not as a number"
        )),
        Some(other) => Err(format!("{other}, which is not an int")),
        None => Err(match exported {
            Some(value) => format!("\"{value}\", exported as text, not as a number"),
            None => "missing".to_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------
// The checks.

fn server_spans_follow_the_http_conventions() {
    let mut rng = scenario::rng();
    let programme = Programme::draw(&mut rng);
    let mut cases = vec![
        list(maybe_query(&mut rng)),
        seats(known_talk(&mut rng), query(&mut rng)),
        seats(unknown_talk(&mut rng), maybe_query(&mut rng)),
        not_a_talk_id(&mut rng),
        unmatched(&mut rng),
        post_to_list(),
    ];
    rng.shuffle(&mut cases);
    let run = run(&cases, &programme);
    grader_kit::checks::evidence("The talks service's spans", describe(&run.spans));
    let servers = server_spans(&run, &cases);
    let (recorded, _) = recorded(&cases);
    for ((case, span), (status, _)) in cases.iter().zip(&servers).zip(&run.replies) {
        let what = format!("The server span of {}", case.ask);
        let method = case.ask.method.as_str();
        match case.route {
            Some(route) => assert!(
                span.name == format!("{method} {route}"),
                "{what} is named \"{}\"; it should be \"{method} {route}\": the request's method \
                 and the route template it matched, not the raw path, so that every talk's \
                 requests are one operation. (README step 1.)",
                span.name
            ),
            None => assert!(
                span.name.trim() == method,
                "{what} is named \"{}\". This request matched no route, so its span is named \
                 after its method alone, \"{method}\": a name made of the raw path makes one \
                 operation of every URL anyone types. (README step 1.)",
                span.name
            ),
        }
        expect_attr(span, "http.request.method", method, &what, 1);
        match case.route {
            Some(route) => expect_attr(span, "http.route", route, &what, 1),
            None => {
                let route = attr(span, "http.route");
                assert!(
                    route.as_deref().is_none_or(str::is_empty),
                    "{what}: `http.route` is \"{}\", but this request matched no route: there \
                     is no template to record, and the raw path is not one. (README step 1.)",
                    route.unwrap_or_default()
                );
            }
        }
        let path = attr(span, "url.path");
        assert!(
            path.as_deref() == Some(case.path.as_str()),
            "{what}: `url.path` should be the path alone, \"{}\" (the query string is not part \
             of it), but it is {}. (README step 1.)",
            case.path,
            path.map_or("missing".to_owned(), |p| format!("\"{p}\""))
        );
        if case.reads_db {
            // Not served again on the grader's thread (it needs the
            // database): its type is judged on the other requests.
            expect_attr(span, STATUS, &status.to_string(), &what, 1);
        } else {
            let mine = recorded_span(&recorded, "server", |r| {
                field_text(r, "url.path").as_deref() == Some(case.path.as_str())
                    && field_text(r, "http.request.method").as_deref() == Some(method)
            });
            if let Err(found) = int_attribute(span, mine, STATUS, i64::from(*status)) {
                panic!(
                    "{what}: `{STATUS}` should be the status the client received, the int \
                     {status}; it is {found}. OpenTelemetry's HTTP conventions make it an int, \
                     so that a backend compares and counts statuses as numbers: a status \
                     missing, or of another type, escapes every search and count by status. \
                     (README step 1.)"
                );
            }
        }
    }

    // A caller that gives up before any answer: its request still has its
    // one server span, which claims no status that was never sent.
    let talk = known_talk(&mut rng);
    let spans = abandoned(talk, &programme);
    grader_kit::checks::evidence("The talks service's spans", describe(&spans));
    let servers: Vec<&SpanData> = spans
        .of("talks")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let [span] = servers.as_slice() else {
        panic!(
            "A caller sent GET /talks/{talk}/seats and gave up before any answer came (the \
             seats service took the call and never answered). That request is still one \
             server span, ended when its work was dropped; the talks service exported {} \
             spans of kind server:\n{}\n(README step 1.)",
            servers.len(),
            describe(&spans)
        );
    };
    assert!(
        span.name == format!("GET {SEATS}"),
        "The server span of GET /talks/{talk}/seats, abandoned by its caller, is named \"{}\"; \
         it should be \"GET {SEATS}\", like every request to that route. (README step 1.)",
        span.name
    );
    if let Some(status) = attr(span, STATUS) {
        assert!(
            !status.starts_with('2'),
            "A caller sent GET /talks/{talk}/seats and gave up before any answer, yet its \
             server span says `{STATUS}` = {status}: no such response was ever sent, so the \
             span reports a success that no client saw. (README step 1.)"
        );
    }
}

fn server_spans_continue_the_callers_trace() {
    let mut rng = scenario::rng();
    let programme = Programme::draw(&mut rng);
    // Each request carries another caller's context (or none, or one that
    // is not valid), so that only the request's own headers give its parent.
    let callers: Vec<Caller> = (0..rng.usize(2..=3))
        .map(|_| Caller::draw(&mut rng))
        .collect();
    let mut cases: Vec<(Case, Option<usize>)> = Vec::new();
    for (i, caller) in callers.iter().enumerate() {
        let case = match rng.usize(..3) {
            0 => seats(known_talk(&mut rng), maybe_query(&mut rng)),
            1 => seats(unknown_talk(&mut rng), maybe_query(&mut rng)),
            _ => list(maybe_query(&mut rng)),
        };
        cases.push((caller.calls(case), Some(i)));
    }
    cases.push((seats(known_talk(&mut rng), String::new()), None));
    let mut invalid = list(maybe_query(&mut rng));
    invalid.ask.traceparent = Some(invalid_traceparent(&mut rng));
    cases.push((invalid, None));
    rng.shuffle(&mut cases);
    let (cases, origins): (Vec<Case>, Vec<Option<usize>>) = cases.into_iter().unzip();

    let run = run(&cases, &programme);
    grader_kit::checks::evidence("The talks service's spans", describe(&run.spans));
    let servers = server_spans(&run, &cases);
    let caller_traces: Vec<TraceId> = callers
        .iter()
        .map(|c| TraceId::from_hex(&c.trace).expect("hex"))
        .collect();
    let mut own_traces: Vec<TraceId> = Vec::new();
    for ((case, span), origin) in cases.iter().zip(&servers).zip(&origins) {
        let trace = span.span_context.trace_id();
        match origin {
            Some(i) => {
                let caller = &callers[*i];
                assert!(
                    trace == caller_traces[*i],
                    "{} carried a `traceparent` of trace {}, but its server span is in trace \
                     {trace}: the request's work is cut off from the caller's trace (or joined \
                     to another request's), so the caller cannot find it. (README step 1.)",
                    case.ask,
                    caller.trace
                );
                assert!(
                    span.parent_span_id == SpanId::from_hex(&caller.span).expect("hex"),
                    "{} carried a `traceparent` whose span is {}; its server span is in the \
                     caller's trace, but its parent is {}, not the caller's span. (README step \
                     1.)",
                    case.ask,
                    caller.span,
                    span.parent_span_id
                );
                let state = span.span_context.trace_state().header();
                assert!(
                    state == caller.state,
                    "{} carried `tracestate: {}` beside its `traceparent`, but its server span's \
                     trace state is \"{state}\": the caller's context is both headers, and the \
                     vendors' entries in `tracestate` did not survive the request's way in. \
                     (README step 1.)",
                    case.ask,
                    caller.state
                );
            }
            None => {
                let what = match &case.ask.traceparent {
                    Some(invalid) => format!(
                        "{} carried a `traceparent` that is not valid (\"{invalid}\")",
                        case.ask
                    ),
                    None => format!("{} carried no `traceparent`", case.ask),
                };
                assert!(
                    span.parent_span_id == SpanId::INVALID,
                    "{what}, so it starts a trace: its server span has no parent, but this one \
                     has {}. (README step 1.)",
                    span.parent_span_id
                );
                assert!(
                    !caller_traces.contains(&trace) && !own_traces.contains(&trace),
                    "{what}, so it starts a trace of its own, but its server span is in trace \
                     {trace}, another request's. (README step 1.)"
                );
                own_traces.push(trace);
            }
        }
    }
}

fn client_spans_follow_the_conventions_and_carry_the_context() {
    let mut rng = scenario::rng();
    let programme = Programme::draw(&mut rng);
    // Calls for a talk the seats service knows (200) and one it does not
    // (404), and maybe another of either; and a request that calls nothing.
    let mut asked = vec![known_talk(&mut rng), unknown_talk(&mut rng)];
    if rng.bool() {
        let third = loop {
            let talk = if rng.bool() {
                known_talk(&mut rng)
            } else {
                unknown_talk(&mut rng)
            };
            if !asked.contains(&talk) {
                break talk;
            }
        };
        asked.push(third);
    }
    let mut cases: Vec<Case> = Vec::new();
    for &talk in &asked {
        let case = seats(talk, maybe_query(&mut rng));
        if rng.bool() {
            cases.push(Caller::draw(&mut rng).calls(case));
        } else {
            cases.push(case);
        }
    }
    cases.push(match rng.usize(..3) {
        0 => list(maybe_query(&mut rng)),
        1 => unmatched(&mut rng),
        _ => not_a_talk_id(&mut rng),
    });
    rng.shuffle(&mut cases);

    let run = run(&cases, &programme);
    grader_kit::checks::evidence("The talks service's spans", describe(&run.spans));
    let servers = server_spans(&run, &cases);
    let calling: Vec<(usize, i64)> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.calls.map(|talk| (i, talk)))
        .collect();
    let clients = by_start(
        run.spans
            .of("talks")
            .iter()
            .filter(|s| s.span_kind == SpanKind::Client && !is_statement(s))
            .collect(),
    );
    assert!(
        clients.len() == calling.len(),
        "The talks service was sent:\n{}\nof which {} call the seats service, once each, so it \
         should export {} spans of kind client, one per call, and none for the request \
         that calls no one; it exported {}:\n{}\n(README step 2.)",
        list_asks(&cases),
        calling.len(),
        calling.len(),
        clients.len(),
        describe(&run.spans)
    );
    let seats_servers: Vec<&SpanData> = run
        .spans
        .of("seats")
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let (recorded, recorded_port) = recorded(&cases);
    let port: i64 = run
        .seats_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the seats service's port");
    let known = known_talks();
    for (&(i, talk), client) in calling.iter().zip(&clients) {
        let case = &cases[i];
        let what = format!(
            "The client span of the call to the seats service for {}",
            case.ask
        );
        assert!(
            client.name == "GET",
            "{what} is named \"{}\": OpenTelemetry names a client span after the method it \
             sends, \"GET\". (README step 2.)",
            client.name
        );
        expect_attr(client, "http.request.method", "GET", &what, 2);
        let called = format!("{}/seats/{talk}", run.seats_url);
        expect_attr(client, "url.full", &called, &what, 2);
        expect_attr(client, "server.address", "127.0.0.1", &what, 2);
        let mine = recorded_span(&recorded, "client", |r| {
            field_text(r, "url.full").is_some_and(|u| u.ends_with(&format!("/seats/{talk}")))
        });
        if let Err(found) = int_attribute_in_runs(client, mine, "server.port", port, recorded_port)
        {
            panic!(
                "{what}: `server.port` should be the port called, the int {port}; it is {found}. \
                 OpenTelemetry's conventions make it an int. (README step 2.)"
            );
        }
        let status = if known.contains(&talk) { 200 } else { 404 };
        if let Err(found) = int_attribute(client, mine, STATUS, status) {
            panic!(
                "{what}: `{STATUS}` should be the status the seats service answered, the int \
                 {status}; it is {found}. OpenTelemetry's conventions make it an int, the \
                 status of the response that came back. (README step 2.)"
            );
        }
        let server = servers[i];
        assert!(
            client.parent_span_id == server.span_context.span_id()
                && client.span_context.trace_id() == server.span_context.trace_id(),
            "{what} is not a child of that request's server span (it has parent {}, the server \
             span is {}): the call is made inside the request, so its span starts there. \
             (README step 2.)",
            client.parent_span_id,
            server.span_context.span_id()
        );
        let path = format!("/seats/{talk}");
        let Some(seats_server) = seats_servers
            .iter()
            .find(|s| attr(s, "url.path").as_deref() == Some(path.as_str()))
        else {
            panic!("The seats service exported no server span for GET {path}.");
        };
        assert!(
            seats_server.span_context.trace_id() == client.span_context.trace_id()
                && seats_server.parent_span_id == client.span_context.span_id(),
            "The seats service's server span for GET {path} is not the child of your client \
             span: it is in trace {} with parent {}; your client span is {} in trace {}. The \
             seats service's work hangs somewhere other than under the call that asked for \
             it, so the trace cannot show how much of the call's time it spent. (README step \
             2.)",
            seats_server.span_context.trace_id(),
            seats_server.parent_span_id,
            client.span_context.span_id(),
            client.span_context.trace_id()
        );
    }
}

/// The talks service's outermost span of a request, whatever its kind (so
/// that the database checks stand on their own, before step 1 is done):
/// the first to start of the spans whose parent is none of the service's.
fn request_span<'a>(spans: &[&'a SpanData], case: &Case, run: &Run) -> &'a SpanData {
    let roots: Vec<&SpanData> = spans
        .iter()
        .copied()
        .filter(|s| {
            !spans
                .iter()
                .any(|p| p.span_context.span_id() == s.parent_span_id)
        })
        .collect();
    by_start(roots).first().copied().unwrap_or_else(|| {
        panic!(
            "For {}, the talks service exported no span for the request:\n{}",
            case.ask,
            describe(&run.spans)
        )
    })
}

fn each_statement_is_one_database_span() {
    let mut rng = scenario::rng();
    let programme = Programme::draw(&mut rng);
    for case in [
        list(maybe_query(&mut rng)),
        seats(known_talk(&mut rng), maybe_query(&mut rng)),
    ] {
        let run = run(std::slice::from_ref(&case), &programme);
        grader_kit::checks::evidence("The talks service's spans", describe(&run.spans));
        let spans = request_spans(&run.spans);
        let statements: Vec<&SpanData> =
            spans.iter().copied().filter(|s| is_statement(s)).collect();
        assert!(
            !case.reads_db || !statements.is_empty(),
            "{} ran no statement that made a database span: the talks are read from the \
             database, and each statement is a span of its own, from the driver's statement \
             log. (README step 3.) The service exported:\n{}",
            case.ask,
            describe(&run.spans)
        );
        let request = request_span(&spans, &case, &run);
        let hand_made: Vec<String> = spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Internal)
            .filter(|s| s.span_context.span_id() != request.span_context.span_id())
            .map(|s| format!("\"{}\"", s.name))
            .collect();
        assert!(
            hand_made.is_empty(),
            "{} exported spans of kind internal besides the request's: {}. The framework and \
             the driver make every span this service needs (the server span, the client span, \
             a span per statement): a span opened by hand around a query or a call duplicates \
             one of them. (README step 3.)",
            case.ask,
            hand_made.join(", ")
        );
        for statement in statements {
            assert!(
                statement.parent_span_id == request.span_context.span_id()
                    && statement.span_context.trace_id() == request.span_context.trace_id(),
                "The database span \"{}\" of {} is not a child of the request's span \"{}\" \
                 (its parent is {}): every statement runs in the request's span itself, with \
                 nothing opened between them. (README step 3.)",
                statement.name,
                case.ask,
                request.name,
                statement.parent_span_id
            );
        }
    }
}

/// Talks as a short list, for messages: `id "title" by speaker`.
fn describe_talks(talks: &[Talk]) -> String {
    let items: Vec<String> = talks
        .iter()
        .map(|t| format!("{} \"{}\" by {}", t.id, t.title, t.speaker))
        .collect();
    format!("[{}]", items.join(", "))
}

fn the_talk_list_is_one_statement() {
    let mut rng = scenario::rng();
    let programme = Programme::draw(&mut rng);
    let case = list(maybe_query(&mut rng));
    let run = run(std::slice::from_ref(&case), &programme);
    grader_kit::checks::evidence("The talks service's spans", describe(&run.spans));
    // Every statement the service ran for the request, in its trace or not.
    let names: Vec<String> = request_spans(&run.spans)
        .into_iter()
        .filter(|s| is_statement(s))
        .map(|s| s.name.to_string())
        .collect();
    assert!(
        names.len() == 1,
        "{} ran {} statements ({}) for a programme of {} talks, where one statement can read \
         every talk with its speaker: each statement is one more round trip to the database, \
         and a statement per talk (the N+1 pattern) makes the list slower with every talk \
         added. (README step 4.)",
        case.ask,
        names.len(),
        names.join(", "),
        programme.talks.len()
    );
    let (status, body) = &run.replies[0];
    let talks: Vec<Talk> = serde_json::from_str(body).unwrap_or_default();
    let expected = programme.answer();
    assert!(
        *status == 200 && talks == expected,
        "{} runs one statement, but answers {status} with {}, while the database holds {}: every \
         talk with its speaker, in order of id (the order rows come back in without one is the \
         order they were inserted, which is not it). (README step 4.)",
        case.ask,
        describe_talks(&talks),
        describe_talks(&expected)
    );
}

fn answers_are_unchanged() {
    let mut rng = scenario::rng();
    let programme = Programme::draw(&mut rng);
    let talk = known_talk(&mut rng);
    let unknown = unknown_talk(&mut rng);
    let cases = [
        list(maybe_query(&mut rng)),
        seats(talk, maybe_query(&mut rng)),
        seats(unknown, maybe_query(&mut rng)),
    ];
    let run = run(&cases, &programme);
    let (status, body) = &run.replies[0];
    let talks: Vec<Talk> = serde_json::from_str(body).unwrap_or_default();
    let expected = programme.answer();
    assert!(
        *status == 200 && talks == expected,
        "{} should answer 200 with every talk of the database with its speaker, in order of id: \
         {}; it answered {status} with {}",
        cases[0].ask,
        describe_talks(&expected),
        describe_talks(&talks)
    );
    let (status, body) = &run.replies[1];
    let seats: Option<Seats> = serde_json::from_str(body).ok();
    // The given seats service's answer, passed on unchanged.
    let expected = Seats {
        talk_id: talk,
        available: 100 - 7 * talk,
    };
    assert!(
        *status == 200 && seats.as_ref() == Some(&expected),
        "{} should answer 200 with the seats service's answer, {expected:?}; it answered \
         {status} with {body:?}",
        cases[1].ask
    );
    let (status, _) = &run.replies[2];
    assert!(
        *status == 404,
        "{} asks about a talk the seats service does not know: a 404, not {status}",
        cases[2].ask
    );
}
