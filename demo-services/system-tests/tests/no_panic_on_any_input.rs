//! No request to any route of the shop panics a service or gets a 5xx: a
//! property test per service (the gateway, the inventory, the catalog,
//! pricing, payments), each against a shop of its own that runs as in the
//! other system tests: every service in process on its own port, thread
//! and runtime (`in_process`), the catalog and the inventory on SQLite
//! files of the test's own, the planted problems in. A request that passes
//! validation reaches the peers and the database. Two things differ, both
//! load rather than input: the payment processor neither fails at random
//! nor is ever busy (`PROCESSOR`), and the gateway gives its peers
//! `PEER_TIMEOUT` to answer.
//!
//! The requests go to every route of the service's `app`, to the three
//! every service has (`/health`, `/stats`, `/metrics`) and to paths that
//! are no route: methods known, lowercased and made up; paths whose ids are
//! valid, at the bounds of their types, huge, negative, no number,
//! percent-encoded, raw Unicode, or carry `.` and `..` segments; query
//! strings; headers (Content-Type variants, `traceparent` and `tracestate`
//! valid, malformed and huge, odd `Host`s, others with bytes that are not
//! UTF-8 and values of kilobytes, all within hyper's limits); and bodies:
//! JSON of the route's type with valid values, 0, `u32::MAX`, `u64::MAX`,
//! numbers past 64 bits, negative numbers, floats, strings where numbers
//! belong and the other way round, fields missing or twice; JSON cut short,
//! nested thousands deep, random bytes, nothing, and bodies around the
//! 64 KiB limit.
//!
//! The property, for every request: an answer comes (by `DEADLINE`, which
//! only a failure reaches) on a connection that stays up until it is
//! whole; it is a 2xx or a 4xx, never a 5xx; a 4xx carries the shop's JSON
//! reason (`ErrorBody`); and a request that must be refused (a method its
//! route does not take; a JSON body missing, cut short, not JSON of its
//! type, or over the limit; no Content-Type) is refused. After each
//! service's requests every service of its shop still answers
//! `GET /health`, and no thread of the process panicked.
//!
//! How the shop shows a panic: it catches none. `shop::server::with_defaults`
//! adds no `CatchPanicLayer` (tower-http's `catch-panic` feature is off),
//! so a handler that panics unwinds through the task that serves its
//! connection; tokio ends that task and the connection closes with no
//! answer. So a connection closed before its answer is what this test
//! fails on, with the panic's message, which a panic hook records from
//! whichever thread panicked; a 500 fails it as well. The run first shows
//! that the check sees each broken promise, against a service that breaks
//! them on purpose.
//!
//! How many: at least 100,000 requests a run (`MIN_CASES`), a quarter to
//! the gateway, a fifth each to the inventory and the catalog, the rest to
//! pricing and payments (`TARGETS`). That is the floor this test was asked
//! for, and what a debug build on two cores should answer in about a minute
//! with 16 in flight at once over kept-alive connections: an extractor
//! refuses most of them in well under a millisecond, and the routes that
//! cost tens of milliseconds (the gateway's programme and its orders, which
//! call every peer; a quote with a coupon, which rebuilds the coupon index;
//! the catalog's programme, two queries per talk) get a few percent of the
//! requests. `PROPTEST_CASES` above the floor raises it, and
//! `PROPTEST_RNG_SEED` makes a run's requests again.
//!
//! A failure is the first request that breaks the property, shrunk by
//! proptest (sent again, one at a time, simpler each time) to the smallest
//! that still does, and reported with its method, target, headers and
//! body, and the answer.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::ops::Range;
use std::panic::PanicHookInfo;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::routing::get;
use futures_util::stream::{self, StreamExt};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use in_process::Service;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
use shop::error::ErrorBody;
use system_tests::{DatabaseFile, Options, Shop};
use telemetry::with_causes;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// Requests a run sends at the least, over the five services.
const MIN_CASES: u32 = 100_000;

/// Requests in flight at once, each on a kept-alive connection of its own.
const AT_ONCE: usize = 16;

/// Bounds the wait for one answer. Only a failure comes near it: the
/// slowest request, an order of ten lines, makes some thirty calls between
/// the services, each a few milliseconds.
const DEADLINE: Duration = Duration::from_secs(60);

/// How long the gateway waits for a peer. The shop's own 2 s would make a
/// machine slow enough answer 504, which is load, not input: this test is
/// about input, so the peers get time, and `DEADLINE` bounds the rest.
const PEER_TIMEOUT: Duration = Duration::from_secs(20);

/// The payment processor without its planted failures: neither at random
/// nor "busy" (room for every request in flight, and their retries).
/// Those are 503s by design, not answers to bad input.
const PROCESSOR: payments::Processor = payments::Processor {
    capacity: 64,
    failure_rate: 0.0,
    latency: Duration::from_millis(3),
};

/// The largest body a request carries that its handler may leave unread
/// (another path or method than its route's, no JSON content type).
/// hyper closes such a connection after the answer, and a body larger than
/// the server's socket takes at once could still be on its way: the close
/// would then be a reset, which can lose the answer on the client's side,
/// a race of the test's own, not a fault of the shop's.
const UNREAD_BODY_BYTES: usize = 16 * 1024;

/// The content type the shop's JSON routes take.
const JSON: &[u8] = b"application/json";

/// The largest answer read whole; `/metrics`, the largest, is some
/// kilobytes.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Shrinking a failure sends at most this many requests...
const MAX_SHRINK_ITERS: u32 = 4_096;
/// ...for at most this long, in milliseconds.
const MAX_SHRINK_MILLIS: u32 = 60_000;

/// A service under test, and its part of a run.
struct Target {
    service: &'static str,
    /// Its part of the run's requests, in thousandths.
    share: u64,
    /// Its own routes; every service also has `EVERY_SERVICE`'s.
    routes: &'static [Route],
}

impl Target {
    /// Its requests of a run of `total`: rounded up, so that the five
    /// together make at least `total`.
    fn cases(&self, total: u32) -> u32 {
        u32::try_from((u64::from(total) * self.share).div_ceil(1_000))
            .expect("a share of a u32 count fits a u32")
    }
}

/// The services, with the routes each one's `app` has. The expensive
/// routes weigh little, so that a run stays about a minute long.
static TARGETS: [Target; 5] = [
    Target {
        service: "gateway",
        share: 250,
        routes: &[
            Route {
                method: "GET",
                path: "/talks",
                id: None,
                payload: Payload::Nothing,
                weight: 1,
            },
            Route {
                method: "POST",
                path: "/orders",
                id: None,
                payload: Payload::Order,
                weight: 24,
            },
            Route {
                method: "GET",
                path: "/orders/{}",
                id: Some(Id::Order),
                payload: Payload::Nothing,
                weight: 8,
            },
        ],
    },
    Target {
        service: "inventory",
        share: 200,
        routes: &[
            Route {
                method: "GET",
                path: "/seats/{}",
                id: Some(Id::Talk),
                payload: Payload::Nothing,
                weight: 8,
            },
            Route {
                method: "POST",
                path: "/reservations",
                id: None,
                payload: Payload::Reservation,
                weight: 12,
            },
            Route {
                method: "DELETE",
                path: "/reservations/{}",
                id: Some(Id::Reservation),
                payload: Payload::Nothing,
                // A transaction for any id that parses, on the inventory's
                // one connection.
                weight: 4,
            },
        ],
    },
    Target {
        service: "catalog",
        share: 200,
        routes: &[
            Route {
                method: "GET",
                path: "/talks",
                id: None,
                payload: Payload::Nothing,
                weight: 1,
            },
            Route {
                method: "GET",
                path: "/talks/{}",
                id: Some(Id::Talk),
                payload: Payload::Nothing,
                weight: 12,
            },
        ],
    },
    Target {
        service: "pricing",
        share: 175,
        routes: &[Route {
            method: "POST",
            path: "/quote",
            id: None,
            payload: Payload::Quote,
            weight: 12,
        }],
    },
    Target {
        service: "payments",
        share: 175,
        routes: &[Route {
            method: "POST",
            path: "/charges",
            id: None,
            payload: Payload::Charge,
            weight: 12,
        }],
    },
];

/// The routes `shop::server::with_defaults` gives every service.
static EVERY_SERVICE: [Route; 3] = [
    Route {
        method: "GET",
        path: "/health",
        id: None,
        payload: Payload::Nothing,
        weight: 1,
    },
    Route {
        method: "GET",
        path: "/stats",
        id: None,
        payload: Payload::Nothing,
        weight: 1,
    },
    Route {
        method: "GET",
        path: "/metrics",
        id: None,
        payload: Payload::Nothing,
        weight: 1,
    },
];

/// A route as its service's `app` declares it.
struct Route {
    method: &'static str,
    /// The template, `{}` where its id goes.
    path: &'static str,
    id: Option<Id>,
    payload: Payload,
    /// How often it is picked, against the other routes of its service.
    weight: u32,
}

/// What a path's id names, which decides its valid values.
#[derive(Clone, Copy, Debug)]
enum Id {
    Talk,
    Order,
    Reservation,
}

/// The JSON body a route reads, if any.
#[derive(Clone, Copy, Debug)]
enum Payload {
    Nothing,
    /// The gateway's `PlaceOrder`.
    Order,
    /// `QuoteRequest`.
    Quote,
    /// `ReservationRequest`.
    Reservation,
    /// `ChargeRequest`.
    Charge,
}

#[test]
fn no_request_to_any_route_panics_a_service_or_gets_a_5xx() {
    // Recorded from here on, whichever thread panics.
    panic_log();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the client");
    the_check_sees_every_broken_promise(&runtime);

    let total = MIN_CASES.max(Config::default().cases);
    let seed = seed();
    let replay = format!("seed {seed}; PROPTEST_RNG_SEED={seed} makes the same requests again");
    // Shown with any failure, a panic of the test's own too.
    eprintln!("no panic on any input: {total} requests, {replay}");
    let mut answered = 0;
    let mut failures = Vec::new();
    for (phase, target) in (0..).zip(TARGETS.iter()) {
        let started = Instant::now();
        let cases = target.cases(total);
        match fuzz(target, cases, seed.wrapping_add(phase), &runtime) {
            Ok(count) => {
                answered += count;
                eprintln!(
                    "{}: {count} requests answered in {:.1?}",
                    target.service,
                    started.elapsed()
                );
            }
            Err(failure) => failures.push(failure),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the {} services broke the promise ({replay}):\n\n{}",
        failures.len(),
        TARGETS.len(),
        failures.join("\n\n")
    );
    assert!(
        answered >= u64::from(total),
        "only {answered} of the {total} requests were sent and answered"
    );
}

/// The check must be able to fail: against a service whose routes break
/// each promise on purpose, it reports each, and it passes a good answer.
fn the_check_sees_every_broken_promise(runtime: &Runtime) {
    let routes = Router::new()
        .route("/panics", get(panics_on_purpose))
        .route(
            "/fails",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/refuses", get(|| async { StatusCode::BAD_REQUEST }))
        .route("/accepts", get(|| async { "accepted" }));
    let service = Service::spawn("broken", shop::server::with_defaults("broken", routes));
    let client = Client::new(&service.url());
    let ask = |target: &str, flaw: Option<&'static str>| {
        runtime.block_on(check(&client, &Probe::get(target, flaw)))
    };
    for (target, flaw, seen) in [
        ("/panics", None, "a panic on purpose"),
        ("/fails", None, "500"),
        ("/refuses", None, "without a JSON reason"),
        (
            "/accepts",
            Some("it is flawed on purpose"),
            "accepted a request",
        ),
    ] {
        let failure = ask(target, flaw)
            .err()
            .unwrap_or_else(|| panic!("the check passed GET {target}, which breaks a promise"));
        assert!(
            failure.contains(seen),
            "the check failed GET {target}, but not for what it breaks ({seen:?}): {failure}"
        );
    }
    assert_eq!(
        ask("/health", None),
        Ok(()),
        "the check fails a good answer"
    );
    drop(client);
    drop(service.stop());
    // The panic on purpose, and nothing else, is in the log: clear it.
    take_panics();
}

async fn panics_on_purpose() -> &'static str {
    panic!("a panic on purpose, which the check must see")
}

/// Sends `cases` requests to `target`'s service, in a shop of its own; the
/// count answered, or what broke, the failing request shrunk.
fn fuzz(target: &Target, cases: u32, seed: u64, runtime: &Runtime) -> Result<u64, String> {
    let shop = FuzzedShop::start(target.service);
    let client = Client::new(&shop.shop.url(target.service));
    let strategy = requests(target);
    let mut runner = TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // No regression files in the source tree: a failure names its request.
        failure_persistence: None,
        max_shrink_iters: MAX_SHRINK_ITERS,
        max_shrink_time: MAX_SHRINK_MILLIS,
        ..Config::default()
    });
    let (answered, found) = runtime.block_on(first_failure(&mut runner, &strategy, &client, cases));
    let mut broken = Vec::new();
    if let Some((case, failure)) = found {
        broken.push(shrunk(&mut runner, case, &failure, &client, runtime));
    }
    if let Err(unhealthy) = runtime.block_on(every_service_answers(&shop)) {
        broken.push(unhealthy);
    }
    let panics = take_panics();
    if !panics.is_empty() {
        broken.push(format!("threads panicked: {}", panics.join("\n")));
    }
    drop(client);
    shop.stop();
    if broken.is_empty() {
        Ok(answered)
    } else {
        Err(format!(
            "{}, after {answered} of {cases} requests:\n{}",
            target.service,
            broken.join("\n")
        ))
    }
}

/// A generated request, with what proptest shrinks it by.
type Case = Box<dyn ValueTree<Value = Probe>>;

/// Sends `cases` requests made by `strategy`, `AT_ONCE` at a time; how
/// many were answered, and the first that broke the property, with why.
async fn first_failure(
    runner: &mut TestRunner,
    strategy: &BoxedStrategy<Probe>,
    client: &Client,
    cases: u32,
) -> (u64, Option<(Case, String)>) {
    let mut answered = 0;
    let mut verdicts = stream::iter(0..cases)
        .map(|_| {
            let case = strategy
                .new_tree(runner)
                .expect("the request strategies have no filter that could give up");
            async move {
                let verdict = check(client, &case.current()).await;
                (case, verdict)
            }
        })
        .buffer_unordered(AT_ONCE);
    while let Some((case, verdict)) = verdicts.next().await {
        answered += 1;
        if let Err(failure) = verdict {
            return (answered, Some((case, failure)));
        }
    }
    (answered, None)
}

/// The failure of `case`, shrunk: proptest sends simpler requests, one at
/// a time, while they still fail.
fn shrunk(
    runner: &mut TestRunner,
    case: Case,
    failure: &str,
    client: &Client,
    runtime: &Runtime,
) -> String {
    let original = case.current();
    let outcome = runner.run_one(case, |probe| {
        runtime
            .block_on(check(client, &probe))
            .map_err(TestCaseError::fail)
    });
    match outcome {
        Err(TestError::Fail(reason, smallest)) => {
            format!("{reason}\nthe smallest request found that does so:\n{smallest:?}")
        }
        Err(TestError::Abort(why)) => {
            format!("{failure}\nthe request:\n{original:?}\n(not shrunk: {why})")
        }
        Ok(_) => format!(
            "{failure}\nthe request:\n{original:?}\n(it passed when sent again alone: \
             what failed it ran beside it)"
        ),
    }
}

/// The promise, for one request: an answer, on a connection that stays up
/// until it is whole; a 2xx or a 4xx, never a 5xx; a JSON reason with a
/// 4xx; a refusal when the request must be refused.
async fn check(client: &Client, probe: &Probe) -> Result<(), String> {
    let answer = match tokio::time::timeout(DEADLINE, client.send(probe)).await {
        Err(_) => return Err(format!("no answer within {DEADLINE:?}{}", panics_seen())),
        Ok(Err(lost)) => return Err(format!("no answer: {lost}{}", panics_seen())),
        Ok(Ok(answer)) => answer,
    };
    verdict(probe, &answer).map_err(|broken| format!("{broken}; the answer: {answer}"))
}

fn verdict(probe: &Probe, answer: &Answer) -> Result<(), String> {
    let status = answer.status;
    if status.is_server_error() {
        return Err(format!(
            "answered {status}, a fault of the shop's, not of the request"
        ));
    }
    if status.is_success() {
        return match probe.flaw {
            Some(flaw) => Err(format!("accepted a request that must be refused: {flaw}")),
            None => Ok(()),
        };
    }
    if !status.is_client_error() {
        return Err(format!(
            "answered {status}, neither a success nor a refusal"
        ));
    }
    // The answer to a HEAD has no body, by HTTP's rules.
    if probe.method == "HEAD" {
        return Ok(());
    }
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(reason) if !reason.error.trim().is_empty() => Ok(()),
        _ => Err(format!(
            "refused ({status}) without a JSON reason, {{\"error\": \"…\"}}"
        )),
    }
}

/// One request, as generated.
#[derive(Clone)]
struct Probe {
    method: String,
    /// Path and query, as sent.
    target: String,
    host: Host,
    /// Every header but `Host`.
    headers: Headers,
    body: Vec<u8>,
    /// Why the shop must refuse it, when it must.
    flaw: Option<&'static str>,
}

/// Headers by name, in order, a name twice if so generated.
type Headers = Vec<(String, Vec<u8>)>;

/// The `Host` header a request sends.
#[derive(Clone, Debug)]
enum Host {
    /// The service's own address, as a client would send it.
    Service,
    Missing,
    Sent(Vec<u8>),
}

impl Probe {
    /// A plain GET, for the check's own test.
    fn get(target: &str, flaw: Option<&'static str>) -> Self {
        Self {
            method: "GET".to_owned(),
            target: target.to_owned(),
            host: Host::Service,
            headers: Vec::new(),
            body: Vec::new(),
            flaw,
        }
    }

    /// The request, to the service at `authority`. The strategies make
    /// only what HTTP can carry, so an error here is the test's own.
    fn request(&self, authority: &str) -> Result<Request<Body>, String> {
        let made_wrong =
            |what: String| format!("the test made a request HTTP cannot carry: {what}");
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|err| made_wrong(format!("method {:?}: {err}", self.method)))?;
        let uri = Uri::try_from(self.target.as_str())
            .map_err(|err| made_wrong(format!("target {:?}: {err}", self.target)))?;
        let value = |bytes: &[u8]| {
            HeaderValue::from_bytes(bytes)
                .map_err(|err| made_wrong(format!("header value {:?}: {err}", shown(bytes))))
        };
        let mut request = Request::builder().method(method).uri(uri);
        match &self.host {
            Host::Service => request = request.header(HOST, value(authority.as_bytes())?),
            Host::Missing => {}
            Host::Sent(host) => request = request.header(HOST, value(host.as_slice())?),
        }
        for (name, bytes) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|err| made_wrong(format!("header name {name:?}: {err}")))?;
            request = request.header(name, value(bytes.as_slice())?);
        }
        request
            .body(Body::from(self.body.clone()))
            .map_err(|err| made_wrong(err.to_string()))
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {}",
            shown(self.method.as_bytes()),
            shown(self.target.as_bytes())
        )?;
        match &self.host {
            Host::Service => writeln!(f, "host: (the service's address)")?,
            Host::Missing => writeln!(f, "(no host header)")?,
            Host::Sent(host) => writeln!(f, "host: {}", shown(host))?,
        }
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {}", shown(value))?;
        }
        write!(f, "body, {} bytes: {}", self.body.len(), shown(&self.body))?;
        if let Some(flaw) = self.flaw {
            write!(f, "\n(the shop must refuse it: {flaw})")?;
        }
        Ok(())
    }
}

/// What came back.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Bytes,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(content_type) = &self.content_type {
            write!(f, ", Content-Type: {content_type}")?;
        }
        write!(f, ", body: {}", shown(&self.body))
    }
}

/// Bytes a person can read: UTF-8 as it is, control characters and bytes
/// that are no UTF-8 escaped, cut after a couple of thousand characters.
fn shown(bytes: &[u8]) -> String {
    const SHOWN: usize = 2_000;
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                text.extend(c.escape_default());
            } else {
                text.push(c);
            }
        }
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    if text.chars().count() > SHOWN {
        let start: String = text.chars().take(SHOWN).collect();
        format!("{start}… ({} bytes in all)", bytes.len())
    } else {
        text
    }
}

/// A service's address and the connections kept alive to it: HTTP/1.1
/// written by hyper's own client, which sends a request's target as it
/// is, where reqwest would resolve its `..` segments first.
struct Client {
    addr: SocketAddr,
    /// `127.0.0.1:PORT`, for the `Host` header.
    authority: String,
    idle: Mutex<Vec<SendRequest<Body>>>,
}

impl Client {
    fn new(url: &str) -> Self {
        let authority = url.trim_start_matches("http://").to_owned();
        let addr = authority
            .parse()
            .unwrap_or_else(|err| panic!("{url} is no address and port: {err}"));
        Self {
            addr,
            authority,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `probe` and reads its answer whole; an error if the
    /// connection closed before that.
    async fn send(&self, probe: &Probe) -> Result<Answer, String> {
        // hyper closes a connection after an answer when the request's body
        // was left unread, and this side may not have seen the close yet: a
        // request lost on a kept-alive connection goes again on a new one,
        // where losing it can only be the server's doing.
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(mut connection) = kept
            && connection.ready().await.is_ok()
            && let Ok(answer) = self.exchange(connection, probe).await
        {
            return Ok(answer);
        }
        let connection = self.connect().await?;
        self.exchange(connection, probe).await
    }

    async fn connect(&self) -> Result<SendRequest<Body>, String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|err| format!("connecting to {} failed: {err}", self.addr))?;
        let (connection, io) =
            hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
                .await
                .map_err(|err| format!("the HTTP/1.1 handshake failed: {}", with_causes(&err)))?;
        // Reads and writes the connection; how it ends shows in `connection`.
        tokio::spawn(io);
        Ok(connection)
    }

    async fn exchange(
        &self,
        mut connection: SendRequest<Body>,
        probe: &Probe,
    ) -> Result<Answer, String> {
        let request = probe.request(&self.authority)?;
        let response = connection.send_request(request).await.map_err(|err| {
            format!(
                "the connection closed before an answer, which is how a handler's panic \
                     shows (the shop catches none): {}",
                with_causes(&err)
            )
        })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| shown(value.as_bytes()));
        let body = axum::body::to_bytes(Body::new(response.into_body()), MAX_ANSWER_BYTES)
            .await
            .map_err(|err| format!("the connection closed mid-answer: {}", with_causes(&err)))?;
        if !connection.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }
}

/// Every panic of any thread of this process since last taken: a handler
/// that panics shows to its client only as a closed connection, and this
/// says which thread panicked, where and why.
fn panic_log() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic: &PanicHookInfo<'_>| {
            if let Some(log) = LOG.get() {
                let thread = std::thread::current();
                let name = thread.name().unwrap_or("unnamed");
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(format!("thread '{name}' {panic}"));
            }
            report(panic);
        }));
        Mutex::new(Vec::new())
    })
}

fn take_panics() -> Vec<String> {
    std::mem::take(&mut *panic_log().lock().unwrap_or_else(PoisonError::into_inner))
}

/// The panics since last taken, as words to add to a failure.
fn panics_seen() -> String {
    let panics = take_panics();
    if panics.is_empty() {
        String::new()
    } else {
        format!("; meanwhile {}", panics.join("; "))
    }
}

/// The run's seed: `PROPTEST_RNG_SEED`, or a new one.
fn seed() -> u64 {
    match Config::default().rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => RandomState::new().hash_one("no panic on any input"),
    }
}

/// The five services, for one target's requests, the catalog and the
/// inventory on SQLite files of their own.
struct FuzzedShop {
    shop: Shop,
    /// Removed once the services have stopped.
    databases: [DatabaseFile; 2],
}

impl FuzzedShop {
    /// A shop of its own for each target: the harness keeps every span a
    /// service makes until it stops, and one shop for a whole run would
    /// hold hundreds of thousands of them.
    fn start(run: &str) -> Self {
        let catalog = DatabaseFile::new(&format!("no-panic-{run}-catalog"));
        let inventory = DatabaseFile::new(&format!("no-panic-{run}-inventory"));
        let shop = Shop::start(Options {
            processor: PROCESSOR,
            peer_timeout: PEER_TIMEOUT,
            catalog_database: Some(catalog.url()),
            inventory_database: Some(inventory.url()),
            ..Options::default()
        });
        Self {
            shop,
            databases: [catalog, inventory],
        }
    }

    /// Stops every service gracefully, the gateway first, then removes the
    /// database files.
    fn stop(self) {
        drop(self.shop.stop());
        drop(self.databases);
    }
}

/// Whether every service of `shop` still answers `GET /health` with its
/// `"status": "ok"`.
async fn every_service_answers(shop: &FuzzedShop) -> Result<(), String> {
    let client = reqwest::Client::new();
    let mut unhealthy = Vec::new();
    for service in shop.shop.services() {
        let url = format!("{}/health", service.url());
        let asked = async {
            let response = client.get(&url).send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.json::<serde_json::Value>().await?))
        };
        match tokio::time::timeout(DEADLINE, asked).await {
            Ok(Ok((status, body))) if status == StatusCode::OK && body["status"] == "ok" => {}
            Ok(Ok((status, body))) => unhealthy.push(format!(
                "{} answered GET /health {status}: {body}",
                service.name()
            )),
            Ok(Err(err)) => unhealthy.push(format!(
                "{} did not answer GET /health: {}",
                service.name(),
                with_causes(&err)
            )),
            Err(_) => unhealthy.push(format!(
                "{} did not answer GET /health within {DEADLINE:?}",
                service.name()
            )),
        }
    }
    if unhealthy.is_empty() {
        Ok(())
    } else {
        Err(format!("afterwards, {}", unhealthy.join("; ")))
    }
}

// The requests. Each `prop_oneof!` lists its plainest choice first: that
// is where proptest's shrinking goes.

/// Requests to every route of `target`'s service, by the routes' weights.
fn requests(target: &Target) -> BoxedStrategy<Probe> {
    let routes = target
        .routes
        .iter()
        .chain(EVERY_SERVICE.iter())
        .map(|route| (route.weight, requests_to(route)))
        .collect();
    Union::new_weighted(routes).boxed()
}

/// Requests meant for `route`, and which of them it must refuse.
fn requests_to(route: &'static Route) -> BoxedStrategy<Probe> {
    (
        method(route),
        path(route),
        query(),
        headers(route.payload),
        body(route.payload),
    )
        .prop_map(move |(method, (path, aim), query, headers, body)| {
            let (host, headers, content_type) = headers;
            let (mut body, body_flaw) = body;
            if method == "CONNECT" {
                // A CONNECT asks the server to turn the connection into a
                // tunnel; its body is no part of what is tested here.
                body.clear();
            }
            let takes_method =
                method == route.method || (method == "HEAD" && route.method == "GET");
            let read_as_json = aim == Aim::Route
                && takes_method
                && route.payload.is_json()
                && content_type.as_deref() == Some(JSON);
            let body_flaw = if !read_as_json && body.len() > UNREAD_BODY_BYTES {
                body.truncate(UNREAD_BODY_BYTES);
                route.payload.is_json().then_some("its body is cut short")
            } else {
                body_flaw
            };
            // A path of another route, or of none, may be answered anyhow.
            let flaw = if aim == Aim::Elsewhere {
                None
            } else if !takes_method {
                Some("its method is not its route's")
            } else if route.payload.is_json() && content_type.is_none() {
                Some("its route reads JSON, and it has no Content-Type")
            } else {
                body_flaw
            };
            Probe {
                method,
                target: format!("{path}{query}"),
                host,
                headers,
                body,
                flaw,
            }
        })
        .boxed()
}

const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

const ODD_METHODS: &[&str] = &[
    "get", "Get", "BREW", "PROPFIND", "M-SEARCH", "QUERY", "PURGE", "_OTHER", "HTTP", "*",
];

/// Every character a method or header name may have (RFC 9110's `tchar`).
const TOKEN_CHARS: &str =
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn method(route: &'static Route) -> BoxedStrategy<String> {
    prop_oneof![
        14 => Just(route.method.to_owned()),
        3 => select(KNOWN_METHODS).prop_map(str::to_owned),
        1 => Just(route.method.to_ascii_lowercase()),
        1 => select(ODD_METHODS).prop_map(str::to_owned),
        1 => prop::collection::vec(select(TOKEN_CHARS.chars().collect::<Vec<_>>()), 1..24)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
    ]
    .boxed()
}

/// Characters a path segment may carry as they are (RFC 3986's `pchar`).
const PATH_SAFE: &[u8] = b"-._~!$&'()*+,;=:@";
/// Characters a query part may carry as they are; `&`, `=` and `#` are
/// escaped, so that a part stays one.
const QUERY_SAFE: &[u8] = b"-._~!$'()*+,;:@/?";

/// `text` for a path or a query: the characters they may carry as they
/// are, the others percent-encoded; with `raw_unicode`, characters past
/// ASCII as they are too (their UTF-8), which http's parser takes.
fn uri_text(text: &str, safe: &[u8], raw_unicode: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for c in text.chars() {
        let as_is = if c.is_ascii() {
            c.is_ascii_alphanumeric() || u8::try_from(c).is_ok_and(|byte| safe.contains(&byte))
        } else {
            raw_unicode
        };
        if as_is {
            encoded.push(c);
        } else {
            for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    encoded
}

fn text(length: Range<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(any::<char>(), length)
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .boxed()
}

/// Any text, made fit for a path segment or a query.
fn uri_part(length: Range<usize>, safe: &'static [u8]) -> BoxedStrategy<String> {
    (text(length), any::<bool>())
        .prop_map(move |(text, raw_unicode)| uri_text(&text, safe, raw_unicode))
        .boxed()
}

/// Ids no route takes, or takes only at its type's bounds.
const ODD_IDS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "+1",
    "%201",
    "1.5",
    "1e3",
    "0x10",
    "00001",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "abc",
    "null",
    "%31",
    "%FF",
    "%00",
    "%",
    "%zz",
    "%2F",
    "%2e%2e",
    "..",
    ".",
    "%E2%82%AC",
    "١",
    "٣٤",
    "💥",
    "ünï",
    "1;2",
    "1,2",
    "1%3F",
    "{talk_id}",
    "{}",
    "",
];

fn id(kind: Id) -> BoxedStrategy<String> {
    let valid = match kind {
        Id::Talk => (1u32..=8).prop_map(|id| id.to_string()).boxed(),
        Id::Order => (1u64..=50).prop_map(|id| id.to_string()).boxed(),
        Id::Reservation => (1u64..=400).prop_map(|id| id.to_string()).boxed(),
    };
    prop_oneof![
        10 => valid,
        3 => select(ODD_IDS).prop_map(str::to_owned),
        1 => any::<u64>().prop_map(|id| id.to_string()),
        1 => any::<i64>().prop_map(|id| id.to_string()),
        1 => (1usize..16_000).prop_map(|digits| "9".repeat(digits)),
        2 => uri_part(1..12, PATH_SAFE),
    ]
    .boxed()
}

/// A way to bend a route's path that no route of the shop takes.
#[derive(Clone, Copy, Debug)]
enum Twist {
    TrailingSlash,
    DotSegment,
    DotDotSegment,
    EncodedDotDot,
    Detour,
    DoubledSlashes,
    Uppercase,
    EncodedFirstLetter,
}

impl Twist {
    fn apply(self, path: &str) -> String {
        match self {
            Twist::TrailingSlash => format!("{path}/"),
            Twist::DotSegment => format!("{path}/."),
            Twist::DotDotSegment => format!("{path}/.."),
            Twist::EncodedDotDot => format!("{path}/%2e%2e"),
            Twist::Detour => format!("/detour/..{path}"),
            Twist::DoubledSlashes => path.replace('/', "//"),
            Twist::Uppercase => path.to_uppercase(),
            Twist::EncodedFirstLetter => match path.chars().nth(1) {
                Some(first) if first.is_ascii_alphabetic() => {
                    format!("/%{:02X}{}", u32::from(first), &path[2..])
                }
                _ => path.to_owned(),
            },
        }
    }
}

const TWISTS: &[Twist] = &[
    Twist::TrailingSlash,
    Twist::DotSegment,
    Twist::DotDotSegment,
    Twist::EncodedDotDot,
    Twist::Detour,
    Twist::DoubledSlashes,
    Twist::Uppercase,
    Twist::EncodedFirstLetter,
];

/// Segments of paths that are no route, or almost one.
const WORDS: &[&str] = &[
    "talks",
    "orders",
    "seats",
    "reservations",
    "quote",
    "charges",
    "health",
    "stats",
    "metrics",
    "1",
    "..",
    ".",
    "%2e%2e",
    "",
    "admin",
    "v1",
    "TALKS",
    "favicon.ico",
];

const ODD_PATHS: &[&str] = &[
    "/",
    "//",
    "/.",
    "/..",
    "/../health",
    "/%2e%2e/health",
    "/health/",
    "/HEALTH",
    "/health/..",
    "/talks/",
    "/talks/1/2",
    "/talks//1",
    "/orders/",
    "/reservations/",
    "/seats",
    "/seats/",
    "/quote/1",
    "/charges/1",
    "/metrics/x",
    "/%",
    "/%zz",
    "/%00",
    "/%2F",
    "/talks%2F1",
    "/~",
    "/;",
    "/talks;1",
    "/*",
];

/// What a request's path is to the route it was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aim {
    /// The route's own path.
    Route,
    /// The route's path bent: no route takes it, or the route itself does
    /// (`/orders/..` is `/orders/{order_id}`, whose id `..` is refused), so
    /// what the route must refuse is refused.
    Bent,
    /// Another route's path, or none's: answered anyhow.
    Elsewhere,
}

/// A path for `route`: its own, its own bent, or another.
fn path(route: &'static Route) -> BoxedStrategy<(String, Aim)> {
    let own = match route.id {
        Some(kind) => id(kind)
            .prop_map(move |id| route.path.replace("{}", &id))
            .boxed(),
        None => Just(route.path.to_owned()).boxed(),
    };
    let segment = prop_oneof![
        3 => select(WORDS).prop_map(str::to_owned),
        1 => uri_part(1..10, PATH_SAFE),
    ];
    prop_oneof![
        14 => own.clone().prop_map(|path| (path, Aim::Route)),
        2 => (own, select(TWISTS)).prop_map(|(path, twist)| (twist.apply(&path), Aim::Bent)),
        1 => select(ODD_PATHS).prop_map(|path| (path.to_owned(), Aim::Elsewhere)),
        1 => prop::collection::vec(segment, 0..5)
            .prop_map(|segments| (format!("/{}", segments.join("/")), Aim::Elsewhere)),
    ]
    .boxed()
}

/// Query text sent as it is: stray and broken escapes, separators.
const ODD_QUERY_PARTS: &[&str] = &[
    "%",
    "%G1",
    "%FF",
    "%C3%28",
    "+",
    "%2B",
    "%00",
    "=",
    "==",
    "&",
    ";",
    "a=1&a=2",
    "talk_id=-1",
    "a[b]=c",
    "💥",
];

fn query() -> BoxedStrategy<String> {
    let part = uri_part(0..10, QUERY_SAFE);
    let parameter = prop_oneof![
        4 => (part.clone(), part).prop_map(|(name, value)| format!("{name}={value}")),
        1 => select(ODD_QUERY_PARTS).prop_map(str::to_owned),
    ];
    prop_oneof![
        10 => Just(String::new()),
        1 => Just("?".to_owned()),
        4 => prop::collection::vec(parameter, 1..5)
            .prop_map(|parameters| format!("?{}", parameters.join("&"))),
        1 => (1usize..16_000).prop_map(|length| format!("?q={}", "x".repeat(length))),
    ]
    .boxed()
}

/// Bytes a header's value may hold: visible ASCII, spaces and tabs, and
/// obs-text (0x80 to 0xFF), which is no UTF-8 on its own.
fn header_bytes(length: Range<usize>) -> BoxedStrategy<Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x20u8..0x7f,
        1 => 0x80u8..=0xff,
        1 => Just(b'\t'),
    ];
    prop::collection::vec(byte, length).boxed()
}

/// A header's value of kilobytes, of one byte repeated.
fn huge_header_value() -> BoxedStrategy<Vec<u8>> {
    const BYTES: &[u8] = b"a ,=\xff";
    (select(BYTES), 1usize..8_000)
        .prop_map(|(byte, length)| vec![byte; length])
        .boxed()
}

const ODD_HOSTS: &[&str] = &[
    "",
    "localhost",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "[::1]:8080",
    "[::1",
    "例え.jp",
    "a b",
    "host:port",
    ":",
    "@",
    "user:pass@host:1",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json; charset=utf-8",
    "application/JSON",
    "APPLICATION/JSON",
    "application/problem+json",
    "application/vnd.shop+json; version=2",
    "application/json; charset=latin1",
    "application/json;;;",
    "application/json, text/plain",
    " application/json\t",
    "text/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/",
    "/json",
    "json",
    "",
    ";",
    "*/*",
    "application/octet-stream",
    "application/jsonx",
    "application/json+xml",
];

const ODD_TRACEPARENTS: &[&str] = &[
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    "00-not-a-trace-01",
    "---",
    "",
    " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",
];

/// Flags of a `traceparent`: sampled, random (Trace Context Level 2),
/// both, others no version defines yet, all.
const TRACE_FLAGS: &[&str] = &["00", "01", "02", "03", "09", "ff"];

/// Bytes a `tracestate` key may have, some of them.
const TRACESTATE_KEY_BYTES: &[u8] = b"abcxyz0123_-*/@";

const ODD_TRACESTATE_MEMBERS: &[&str] = &[
    "rojo=00f067aa0ba902b7",
    "congo=t61rcWkgMzE",
    "a@b=c",
    "foo@@bar=1",
    "k=",
    "=v",
    "K=1",
    " k = v ",
    "k=v=w",
    "",
    "\t",
];

/// `traceparent` and `tracestate`: absent, valid, malformed or huge.
fn trace_headers() -> BoxedStrategy<Headers> {
    let valid_traceparent = (any::<u128>(), any::<u64>(), select(TRACE_FLAGS))
        .prop_map(|(trace, span, flags)| format!("00-{trace:032x}-{span:016x}-{flags}"));
    let traceparent = prop_oneof![
        6 => Just(None),
        3 => valid_traceparent.clone().prop_map(|value| Some(value.into_bytes())),
        1 => select(ODD_TRACEPARENTS).prop_map(|value| Some(value.as_bytes().to_vec())),
        1 => header_bytes(0..120).prop_map(Some),
        // A later version's fields, which a reader of version 00 skips.
        1 => (valid_traceparent, 1usize..8_000).prop_map(|(valid, length)| {
            Some(format!("cc{}-{}", &valid[2..], "f".repeat(length)).into_bytes())
        }),
    ];
    let key = prop::collection::vec(select(TRACESTATE_KEY_BYTES), 1..10);
    let member = prop_oneof![
        3 => (key, header_bytes(1..12))
            .prop_map(|(key, value)| [key, b"=".to_vec(), value].concat()),
        1 => select(ODD_TRACESTATE_MEMBERS).prop_map(|member| member.as_bytes().to_vec()),
    ];
    let tracestate = prop_oneof![
        6 => Just(None),
        // Past 32 members, a list is no valid one.
        3 => prop::collection::vec(member, 1..40).prop_map(|members| Some(members.join(&b','))),
        1 => header_bytes(0..200).prop_map(Some),
        1 => (1usize..8_000)
            .prop_map(|length| Some(format!("k={}", "v".repeat(length)).into_bytes())),
    ];
    (traceparent, tracestate)
        .prop_map(|(traceparent, tracestate)| {
            let named =
                |name: &str, value: Option<Vec<u8>>| value.map(|value| (name.to_owned(), value));
            named("traceparent", traceparent)
                .into_iter()
                .chain(named("tracestate", tracestate))
                .collect::<Headers>()
        })
        .boxed()
}

/// Headers beside those the shop reads; never those that frame the
/// message (`Content-Length`, `Transfer-Encoding`, `Connection`), which
/// hyper writes.
const HEADER_NAMES: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "user-agent",
    "cookie",
    "authorization",
    "origin",
    "referer",
    "x-forwarded-for",
    "x-request-id",
    "baggage",
    "traceparent",
    "tracestate",
    "content-encoding",
    "range",
    "if-none-match",
    "forwarded",
];

fn other_headers() -> BoxedStrategy<Headers> {
    let name = prop_oneof![
        3 => select(HEADER_NAMES).prop_map(str::to_owned),
        1 => prop::collection::vec(select(TOKEN_CHARS.chars().collect::<Vec<_>>()), 1..20)
            .prop_map(|chars| format!("x-{}", chars.into_iter().collect::<String>())),
    ];
    let value = prop_oneof![
        6 => header_bytes(0..64),
        1 => huge_header_value(),
    ];
    prop_oneof![
        6 => Just(Vec::new()),
        2 => prop::collection::vec((name, value), 1..5),
    ]
    .boxed()
}

/// The `Host`, every other header, and the Content-Type among them.
fn headers(payload: Payload) -> BoxedStrategy<(Host, Headers, Option<Vec<u8>>)> {
    let host = prop_oneof![
        12 => Just(Host::Service),
        1 => Just(Host::Missing),
        1 => select(ODD_HOSTS).prop_map(|host| Host::Sent(host.as_bytes().to_vec())),
        1 => header_bytes(0..40).prop_map(Host::Sent),
    ];
    let json = || Just(Some(JSON.to_vec()));
    let other = || select(CONTENT_TYPES).prop_map(|value| Some(value.as_bytes().to_vec()));
    let content_type = if payload.is_json() {
        prop_oneof![
            12 => json(),
            3 => other(),
            1 => Just(None),
            1 => header_bytes(0..40).prop_map(Some),
        ]
        .boxed()
    } else {
        prop_oneof![
            10 => Just(None),
            1 => json(),
            1 => other(),
        ]
        .boxed()
    };
    (host, content_type, trace_headers(), other_headers())
        .prop_map(|(host, content_type, trace, others)| {
            let headers: Headers = content_type
                .clone()
                .map(|value| ("content-type".to_owned(), value))
                .into_iter()
                .chain(trace)
                .chain(others)
                .collect();
            (host, headers, content_type)
        })
        .boxed()
}

/// A body, and why the shop must refuse it, when it must.
type SentBody = (Vec<u8>, Option<&'static str>);

fn body(payload: Payload) -> BoxedStrategy<SentBody> {
    let Some(typed) = payload.json() else {
        // A route that reads no body: what comes with it changes nothing.
        return prop_oneof![
            10 => Just(Vec::new()),
            1 => any_json().prop_map(|json| json.text().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 1..256),
        ]
        .prop_map(|bytes| -> SentBody { (bytes, None) })
        .boxed();
    };
    prop_oneof![
        14 => typed.clone().prop_map(|json| within_limit(json.text().into_bytes(), None)),
        2 => (typed.clone(), any::<Index>()).prop_map(|(json, cut)| {
            let text = json.text().into_bytes();
            let end = cut.index(text.len());
            (text[..end].to_vec(), Some("its body is JSON cut short"))
        }),
        1 => Just((Vec::new(), Some("its body is empty"))),
        1 => prop::collection::vec(any::<u8>(), 1..256)
            .prop_map(|bytes| (bytes, Some("its body is random bytes"))),
        1 => nested(14_000)
            .prop_map(|text| (text.into_bytes(), Some("its body is nested arrays or objects"))),
        // No flaw: serde reads a struct from an array too, so `[3,1]` is a
        // valid reservation.
        1 => any_json().prop_map(|json| within_limit(json.text().into_bytes(), None)),
        // Around the body limit: an unknown field is ignored, a body past
        // the limit refused.
        1 => (typed, 60_000usize..70_000).prop_map(|(json, length)| {
            within_limit(padded(json, length).text().into_bytes(), None)
        }),
    ]
    .boxed()
}

/// `body` with its flaw, or the flaw of a body past the shop's limit.
fn within_limit(body: Vec<u8>, flaw: Option<&'static str>) -> SentBody {
    if body.len() > shop::server::MAX_BODY_BYTES {
        (body, Some("its body is larger than the shop takes"))
    } else {
        (body, flaw)
    }
}

/// `json` with one more member, a string `length` bytes long.
fn padded(json: Json, length: usize) -> Json {
    match json {
        Json::Object(mut members) => {
            members.push(("padding".to_owned(), Json::Text("x".repeat(length))));
            Json::Object(members)
        }
        other => other,
    }
}

impl Payload {
    fn is_json(self) -> bool {
        !matches!(self, Payload::Nothing)
    }

    /// JSON of the route's type, its fields' values mostly valid.
    fn json(self) -> Option<BoxedStrategy<Json>> {
        let json = match self {
            Payload::Nothing => return None,
            Payload::Order => object(vec![
                field("customer", customer(), 1),
                field("lines", lines(), 1),
                field("coupon", coupon(), 80),
                field("card_number", card_number(), 1),
            ]),
            Payload::Quote => object(vec![
                field("lines", lines(), 1),
                field("coupon", coupon(), 80),
            ]),
            Payload::Reservation => object(vec![
                field("talk_id", talk_id(), 1),
                field("quantity", quantity(), 1),
            ]),
            Payload::Charge => object(vec![
                field("order_id", value(any::<u64>().prop_map(number).boxed()), 1),
                field("amount_cents", amount(), 1),
                field("card_number", card_number(), 1),
            ]),
        };
        Some(json)
    }
}

/// JSON written here rather than by serde_json, whose values cannot hold a
/// number past 64 bits, a member twice, or text that is no JSON.
#[derive(Clone, Debug)]
enum Json {
    Null,
    Bool(bool),
    Text(String),
    Array(Vec<Json>),
    /// Members in order, a key twice if so generated.
    Object(Vec<(String, Json)>),
    /// Written as it is: a number, valid JSON or not, or nesting.
    Literal(String),
}

impl Json {
    fn text(&self) -> String {
        let mut text = String::new();
        self.write(&mut text);
        text
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Text(text) => quote(text, out),
            Json::Array(items) => {
                out.push('[');
                for (at, item) in items.iter().enumerate() {
                    if at > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (at, (key, value)) in members.iter().enumerate() {
                    if at > 0 {
                        out.push(',');
                    }
                    quote(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
            Json::Literal(literal) => out.push_str(literal),
        }
    }
}

/// `text` as a JSON string, escaped as JSON asks.
fn quote(text: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(text).expect("any text is a JSON string"));
}

fn number(value: impl ToString) -> Json {
    Json::Literal(value.to_string())
}

/// An object of `fields` (each of which may be left out), now and then
/// with a member more: an unknown one, or a known one twice.
fn object(fields: Vec<BoxedStrategy<Option<(String, Json)>>>) -> BoxedStrategy<Json> {
    let name = prop_oneof![
        3 => select(FIELD_NAMES).prop_map(str::to_owned),
        1 => text(0..12),
    ];
    let others = prop_oneof![
        10 => Just(Vec::new()),
        1 => prop::collection::vec((name, any_json()), 1..3),
    ];
    (fields, others)
        .prop_map(|(fields, others)| {
            Json::Object(fields.into_iter().flatten().chain(others).collect())
        })
        .boxed()
}

const FIELD_NAMES: &[&str] = &[
    "customer",
    "lines",
    "coupon",
    "card_number",
    "talk_id",
    "quantity",
    "order_id",
    "amount_cents",
];

/// A field: mostly there, with its own name; left out once in `missing`
/// more; or there under its name in capitals.
fn field(
    name: &'static str,
    value: BoxedStrategy<Json>,
    missing: u32,
) -> BoxedStrategy<Option<(String, Json)>> {
    prop_oneof![
        20 => value.clone().prop_map(move |value| Some((name.to_owned(), value))),
        missing => Just(None),
        1 => value.prop_map(move |value| Some((name.to_uppercase(), value))),
    ]
    .boxed()
}

/// A field's value: mostly one of its type, else a number of any size or
/// form, another type, any JSON, or nesting deeper than a parser goes.
fn value(valid: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    prop_oneof![
        14 => valid,
        2 => any_number(),
        2 => another_type(),
        1 => any_json(),
        1 => nested(5_000).prop_map(Json::Literal),
    ]
    .boxed()
}

/// A text field's value: mostly one of `texts`, else what [`value`] sends
/// in place of a field's type.
fn text_value(texts: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Json> {
    value(texts.prop_map(Json::Text).boxed())
}

/// Numbers at the bounds of the shop's types and past them, and literals
/// that only look like numbers.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-0",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "0.0",
    "1.5",
    "-1.5",
    "1e3",
    "1E400",
    "1e-400",
    "01",
    "1.",
    ".5",
    "+1",
    "0x10",
    "NaN",
    "Infinity",
    "-",
];

fn any_number() -> BoxedStrategy<Json> {
    prop_oneof![
        3 => select(EDGE_NUMBERS).prop_map(number),
        2 => any::<u64>().prop_map(number),
        2 => any::<i64>().prop_map(number),
        1 => (any::<i32>(), any::<u16>(), -400i32..400)
            .prop_map(|(whole, fraction, exponent)| {
                number(format!("{whole}.{fraction}e{exponent}"))
            }),
        1 => (1usize..400).prop_map(|digits| number("9".repeat(digits))),
    ]
    .boxed()
}

fn another_type() -> BoxedStrategy<Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        text(0..8).prop_map(Json::Text),
        Just(Json::Array(Vec::new())),
        Just(Json::Object(Vec::new())),
    ]
    .boxed()
}

/// Any JSON, a few levels deep.
fn any_json() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any_number(),
        text(0..16).prop_map(Json::Text),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((text(0..8), inner), 0..4).prop_map(Json::Object),
        ]
    })
    .boxed()
}

/// Arrays or objects nested up to `max_depth` deep, closed or left open.
fn nested(max_depth: usize) -> BoxedStrategy<String> {
    (1..max_depth, any::<bool>(), any::<bool>())
        .prop_map(|(depth, arrays, closed)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            let mut text = open.repeat(depth);
            if closed {
                text.push_str("null");
                text.push_str(&close.repeat(depth));
            }
            text
        })
        .boxed()
}

/// Characters of huge text, some of which JSON escapes (to six bytes).
const HUGE_TEXT_UNITS: &[&str] = &["a", "é", "💥", "\"", "\\", "\u{0}", " "];

/// Text in kilobytes, up to past the body limit: one character repeated.
fn huge_text() -> BoxedStrategy<String> {
    (select(HUGE_TEXT_UNITS), 1usize..12_000)
        .prop_map(|(unit, count)| unit.repeat(count))
        .boxed()
}

fn talk_id() -> BoxedStrategy<Json> {
    value(
        prop_oneof![4 => 1u32..=8, 1 => 0u32..=20]
            .prop_map(number)
            .boxed(),
    )
}

fn quantity() -> BoxedStrategy<Json> {
    value(
        prop_oneof![4 => 1u32..=3, 1 => 0u32..=12]
            .prop_map(number)
            .boxed(),
    )
}

fn amount() -> BoxedStrategy<Json> {
    value(
        prop_oneof![4 => 1u64..=100_000, 1 => Just(0u64)]
            .prop_map(number)
            .boxed(),
    )
}

fn customer() -> BoxedStrategy<Json> {
    const CUSTOMERS: &[&str] = &["ada", "Grace Hopper", "Ümit", "李雷"];
    const BLANKS: &[&str] = &["", " ", "\t\n"];
    text_value(prop_oneof![
        6 => select(CUSTOMERS).prop_map(str::to_owned),
        2 => text(0..40),
        // Around the 100 characters a name may have.
        1 => (95usize..=105).prop_map(|length| "x".repeat(length)),
        1 => select(BLANKS).prop_map(str::to_owned),
        1 => huge_text(),
    ])
}

fn card_number() -> BoxedStrategy<Json> {
    const CARDS: &[&str] = &[
        "4242424242424242",
        "4242 4242 4242 4242",
        // Declined, like real processors' test card.
        "4000000000000002",
        "424242424242",
        "4242424242424242424",
    ];
    text_value(prop_oneof![
        6 => select(CARDS).prop_map(str::to_owned),
        2 => prop::collection::vec(prop::char::range('0', '9'), 0..24)
            .prop_map(|digits| digits.into_iter().collect::<String>()),
        1 => text(0..24),
        1 => huge_text(),
    ])
}

fn coupon() -> BoxedStrategy<Json> {
    const COUPONS: &[&str] = &[
        "EARLYBIRD",
        "earlybird",
        "STUDENT",
        "WORKSHOP20",
        "guest-00042",
        "GUEST-06000",
        "guest-06001",
        "guest-00000",
        "",
    ];
    value(
        prop_oneof![
            4 => select(COUPONS).prop_map(|code| Json::Text(code.to_owned())),
            1 => Just(Json::Null),
            1 => text(0..20).prop_map(Json::Text),
        ]
        .boxed(),
    )
}

fn lines() -> BoxedStrategy<Json> {
    let line = object(vec![
        field("talk_id", talk_id(), 1),
        field("quantity", quantity(), 1),
    ]);
    value(
        prop_oneof![
            6 => prop::collection::vec(line.clone(), 1..=2).prop_map(Json::Array),
            // Up to past the ten lines an order may have.
            1 => prop::collection::vec(line, 0..=12).prop_map(Json::Array),
        ]
        .boxed(),
    )
}
