//! The query API, in Jaeger's HTTP JSON shape, and the web UI that uses it.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/services` | service names |
//! | `GET /api/services/{service}/operations` | operation names |
//! | `GET /api/traces?service=&operation=&start=&end=&lookback=&minDuration=&maxDuration=&tags=&limit=` | traces with a span that matches them all, newest first (as Jaeger's: times in Unix µs, durations and lookback as `250ms`, `1.5s`, `10m`, tags as JSON `{"error":"true","http.route":"/orders"}`) |
//! | `GET /api/traces/{traceID}` | one trace |
//! | `GET /api/traces/{traceID}/critical-path` | its critical path (ours, not Jaeger's) |
//! | `GET /api/critical-paths?service=&operation=&start=&end=&lookback=` | critical paths across the endpoint's traces, after CRISP ([`trace_analysis::aggregate::Analysis`]); ours |
//! | `GET /api/critical-paths/flame.svg?service=&operation=&band=&start=&end=&lookback=` | their flame graph, over all traces or one band (`p50`, `p90`, `p95`, `p99`), drawn by inferno; ours |
//! | `GET /api/profiles/flame.svg?service=&operation=&endpointService=&endpointOperation=&band=&start=&end=&lookback=` | the CPU flame graph of the samples taken inside an operation's spans, of an endpoint's traces (of one band of them) or of every trace; ours |
//! | `GET /api/profiles/folded?…` | the same samples as folded stacks, as text; ours |
//! | `GET /api/profiles/profile.pb.gz?…` | the same samples as a pprof profile (gzip), each sample labelled with its trace and span; ours |
//! | `GET /api/traces/{traceID}/spans/{spanID}/flame.svg` | the CPU flame graph of one span's samples; ours |
//! | `GET /api/traces/{traceID}/spans/{spanID}/profile.pb.gz` | one span's samples as a pprof profile; ours |
//! | `GET /api/dependencies?endTs=&lookback=` | the service dependency graph, as Jaeger's (`[{parent, child, callCount}]`, `endTs` and `lookback` in ms), with each edge's `errorCount` (ours) |
//! | `GET /api/red?service=&since=` | per operation, requests, errors and p50/p99 from its server spans that started at or after `since` (Unix µs); ours |
//! | `GET /metrics` | the collector's own counters, as OpenMetrics text: spans and CPU samples received, stored, evicted, truncated and dropped, by reason, and the store's size against its bounds ([`crate::store::Stats`]); with tail sampling, the traces and spans it kept and dropped, by rule, and what waits for a decision ([`crate::tail_sampling::Counts`]) |
//! | `GET /`, `/trace/{traceID}`, `/compare/{a}/{b}`, `/dependencies`, `/critical-paths` | the web UI: search, a trace's waterfall, two traces side by side, the dependency graph, an endpoint's critical paths |
//!
//! Every time, duration and count in a query is a bound or a window, so a
//! number too large for 64 bits saturates (an end or a lookback beyond every
//! span is no bound at all; a start or a minimum beyond every span matches
//! none); anything that is not such a number, a negative one included, is a
//! 400 whose reason names the parameter.
//!
//! No query holds up ingestion. An analysis (the critical paths across
//! traces and their flame graph, one trace's critical path, the
//! dependencies, the RED figures, the CPU flame graphs) holds the store's lock only to copy what
//! it reads (the dependencies are counted as they are read, which costs no
//! more than a copy), and works on its copy without the lock. It runs on
//! tokio's blocking pool, so the async runtime's threads stay free for
//! ingestion; at most [`CONCURRENT_ANALYSES`] run at once, and each stops
//! at its deadline ([`ANALYSIS_DEADLINE`], its wait for a turn included)
//! with a 503 that says so.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::num::IntErrorKind;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use collector_client::{DEFAULT_LIMIT, MAX_LIMIT, duration_us, now_us, routes};
use foldhash::HashMap;
use serde::Deserialize;
use trace_analysis::aggregate::{Analysis, BANDS, Copied, Endpoint};
use trace_analysis::critical_path::{Section, critical_path};
use trace_analysis::flame;
use trace_analysis::jaeger::{self, ErrorEntry, Trace};
use trace_analysis::model::{Kind, Span, Value};
use trace_analysis::red;

use crate::exposition;
use crate::store::{OPENMETRICS_CONTENT_TYPE, Store, TraceQuery};
use crate::tail_sampling::TailSampler;

pub mod profiles;

/// How long an analysis may take, its wait for a turn included: past it,
/// it stops at its next trace and the answer is a 503 that says so. Each
/// analysis is O(n log n) in the spans it reads; the deadline is for a
/// machine too busy to give it its share, or a window too wide, and is
/// shorter than a person waits on a page before giving up.
pub const ANALYSIS_DEADLINE: Duration = Duration::from_secs(10);

/// Analyses that run at once; others wait for a turn, within their
/// deadline. Each keeps a core busy and holds a copy of what it reads: two
/// is what the critical-paths page asks for at once (the analysis and its
/// flame graph), and leaves the rest of a small machine to ingestion.
pub const CONCURRENT_ANALYSES: usize = 2;

const UI: &str = include_str!("../ui/index.html");

/// What the handlers share: the store, the analyses' turns, and the tail
/// sampler in front of the store, if there is one.
#[derive(Clone)]
struct Api {
    store: Arc<Store>,
    analyses: Arc<Analyses>,
    sampler: Option<Arc<TailSampler>>,
}

impl FromRef<Api> for Arc<Store> {
    fn from_ref(api: &Api) -> Self {
        Arc::clone(&api.store)
    }
}

/// The query API and the UI, each analysis held to [`ANALYSIS_DEADLINE`].
pub fn router(store: Arc<Store>) -> Router {
    router_with_deadline(store, ANALYSIS_DEADLINE)
}

/// The query API and the UI, each analysis held to `deadline`.
pub fn router_with_deadline(store: Arc<Store>, deadline: Duration) -> Router {
    routed(Api {
        store,
        analyses: Arc::new(Analyses::new(deadline)),
        sampler: None,
    })
}

/// The query API and the UI of the store behind `sampler`, each analysis
/// held to [`ANALYSIS_DEADLINE`]; `/metrics` adds the sampler's counts.
pub fn sampled_router(sampler: Arc<TailSampler>) -> Router {
    routed(Api {
        store: Arc::clone(sampler.store()),
        analyses: Arc::new(Analyses::new(ANALYSIS_DEADLINE)),
        sampler: Some(sampler),
    })
}

fn routed(api: Api) -> Router {
    Router::new()
        .route(routes::UI_SEARCH, get(ui))
        .route(routes::UI_TRACE, get(ui))
        .route(routes::UI_COMPARE, get(ui))
        .route(routes::UI_DEPENDENCIES, get(ui))
        .route(routes::UI_CRITICAL_PATHS, get(ui))
        .route(routes::DEPENDENCIES, get(dependencies))
        .route(
            routes::CRITICAL_PATHS_FLAME_GRAPH,
            get(critical_paths_flame),
        )
        .route(routes::SERVICES, get(services))
        .route(routes::METRICS, get(metrics))
        .route(routes::OPERATIONS, get(operations))
        .route(routes::TRACES, get(traces))
        .route(routes::RED, get(red_figures))
        .route(routes::CRITICAL_PATHS, get(critical_paths))
        .route(routes::TRACE, get(trace))
        .route(routes::TRACE_CRITICAL_PATH, get(trace_critical_path))
        .route(
            routes::PROFILE_FLAME_GRAPH,
            get(profiles::operation_flame_graph),
        )
        .route(routes::PROFILE_FOLDED, get(profiles::operation_folded))
        .route(routes::PROFILE_PPROF, get(profiles::operation_pprof))
        .route(routes::SPAN_FLAME_GRAPH, get(profiles::span_flame_graph))
        .route(routes::SPAN_PPROF, get(profiles::span_pprof))
        .with_state(api)
}

/// Where analyses run: on tokio's blocking pool, at most
/// [`CONCURRENT_ANALYSES`] at once, each by its deadline.
///
/// The turns are counted under a `std` mutex and waited for on a condition
/// variable, by the blocking thread itself, rather than with tokio's
/// semaphore and timer: a runtime built without its timer (as a test may
/// build one) serves the API all the same.
struct Analyses {
    deadline: Duration,
    running: Mutex<usize>,
    turn_given_back: Condvar,
}

/// A turn to run an analysis, given back when dropped.
struct Turn<'a>(&'a Analyses);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let Turn(analyses) = self;
        let mut running = analyses
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running -= 1;
        analyses.turn_given_back.notify_one();
    }
}

/// When an analysis must be done by, and what to say when it is not.
struct Deadline {
    /// `None`: a deadline so far off that no clock reaches it.
    at: Option<Instant>,
    allowed: Duration,
    what: String,
}

impl Deadline {
    fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    fn remaining(&self) -> Duration {
        self.at.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    fn missed(&self) -> QueryError {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} did not finish within its deadline of {:?}: ask for a shorter window (start, end, lookback), or again once other analyses are done",
                self.what, self.allowed
            ),
        )
    }

    fn check(&self) -> Result<(), QueryError> {
        if self.passed() {
            Err(self.missed())
        } else {
            Ok(())
        }
    }
}

impl Analyses {
    fn new(deadline: Duration) -> Self {
        Self {
            deadline,
            running: Mutex::new(0),
            turn_given_back: Condvar::new(),
        }
    }

    /// A turn, waited for until the deadline at the most.
    fn turn(&self, deadline: &Deadline) -> Option<Turn<'_>> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut running, _) = self
            .turn_given_back
            .wait_timeout_while(running, deadline.remaining(), |running| {
                *running >= CONCURRENT_ANALYSES
            })
            .unwrap_or_else(PoisonError::into_inner);
        if *running >= CONCURRENT_ANALYSES {
            return None;
        }
        *running += 1;
        Some(Turn(self))
    }

    /// Runs `work` (`what`, for the messages) on the blocking pool in its
    /// turn, by the deadline, which `work` is given to stop at. It keeps
    /// its turn until it stops, so that no more than
    /// [`CONCURRENT_ANALYSES`] ever run.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        what: String,
        work: impl FnOnce(&Deadline) -> Result<T, QueryError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let deadline = Deadline {
            at: Instant::now().checked_add(self.deadline),
            allowed: self.deadline,
            what,
        };
        let analyses = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let Some(_turn) = analyses.turn(&deadline) else {
                return Err(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{} found no turn within its deadline of {:?}: {CONCURRENT_ANALYSES} other analyses were running; ask again once they are done",
                        deadline.what, deadline.allowed
                    ),
                ));
            };
            deadline.check()?;
            work(&deadline)
        })
        .await
        .unwrap_or_else(|failed| {
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the analysis failed: {failed}"),
            ))
        })
    }
}

async fn ui() -> Response {
    // The page is self-contained (no external script, style or font), so it
    // works with no network at all.
    ([(header::CACHE_CONTROL, "no-cache")], Html(UI)).into_response()
}

/// A failed query, answered in Jaeger's shape: `{"data": null, "errors": [{code, msg}]}`.
struct QueryError(StatusCode, String);

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        let QueryError(status, msg) = self;
        let body = jaeger::Response::<Option<()>> {
            data: None,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![ErrorEntry {
                code: status.as_u16(),
                msg,
            }]),
        };
        (status, axum::Json(body)).into_response()
    }
}

fn error(status: StatusCode, msg: impl Into<String>) -> QueryError {
    QueryError(status, msg.into())
}

/// What the store has received, kept and let go of: a bound that is
/// reached is counted here, not only logged. With tail sampling, what the
/// sampler kept, dropped and holds, too.
async fn metrics(State(api): State<Api>) -> Response {
    let mut text = String::new();
    api.store.stats().write_openmetrics(&mut text);
    if let Some(sampler) = &api.sampler {
        sampler.counts().write_openmetrics(&mut text);
    }
    exposition::end(&mut text);
    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
}

async fn services(State(store): State<Arc<Store>>) -> Response {
    let services = store.services();
    let total = services.len();
    axum::Json(jaeger::Response::new(services, total)).into_response()
}

/// A service's operations: read from every stored span, so on the
/// analyses' pool, never on the threads that take exports.
async fn operations(
    State(api): State<Api>,
    Path(service): Path<String>,
) -> Result<Response, QueryError> {
    let store = Arc::clone(&api.store);
    let operations = api
        .analyses
        .run(format!("the operations of {service}"), move |_| {
            Ok(store.operations(&service))
        })
        .await?;
    let total = operations.len();
    Ok(axum::Json(jaeger::Response::new(operations, total)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TracesParams {
    service: Option<String>,
    operation: Option<String>,
    start: Option<String>,
    end: Option<String>,
    lookback: Option<String>,
    min_duration: Option<String>,
    max_duration: Option<String>,
    tags: Option<String>,
    limit: Option<String>,
}

/// A query parameter, or `None` when it is absent or empty (as the UI's
/// form sends the fields left blank).
fn given(param: &Option<String>) -> Option<&str> {
    param.as_deref().map(str::trim).filter(|p| !p.is_empty())
}

/// A whole number of 0 or more, saturated at `u64::MAX` (the module's
/// documentation says why); `None` for anything else: a minus sign, a
/// fraction, a unit, letters.
fn saturating_u64(text: &str) -> Option<u64> {
    match text.parse::<u64>() {
        Ok(number) => Some(number),
        Err(err) if *err.kind() == IntErrorKind::PosOverflow => Some(u64::MAX),
        Err(_) => None,
    }
}

/// A time in Unix microseconds (saturating: see [`saturating_u64`]).
fn micros(name: &str, param: &Option<String>) -> Result<Option<u64>, QueryError> {
    given(param)
        .map(|text| {
            saturating_u64(text).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{name} {text:?} is not a time in Unix microseconds (a whole number, 0 or more)"
                    ),
                )
            })
        })
        .transpose()
}

fn duration(name: &str, param: &Option<String>) -> Result<Option<u64>, QueryError> {
    given(param)
        .map(|text| {
            duration_us(text).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("{name} {text:?} is not a duration such as 250ms, 1.5s or 10m"),
                )
            })
        })
        .transpose()
}

/// `start`, or `lookback` before now; and `end`.
fn window(
    start: &Option<String>,
    end: &Option<String>,
    lookback: &Option<String>,
) -> Result<(Option<u64>, Option<u64>), QueryError> {
    let start = match (micros("start", start)?, duration("lookback", lookback)?) {
        (Some(start), _) => Some(start),
        (None, Some(lookback)) => Some(now_us().saturating_sub(lookback)),
        (None, None) => None,
    };
    Ok((start, micros("end", end)?))
}

fn tags(param: &Option<String>) -> Result<Vec<(String, String)>, QueryError> {
    let Some(text) = given(param) else {
        return Ok(Vec::new());
    };
    let map: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("tags {text:?} is not a JSON object such as {{\"error\":\"true\"}}"),
            )
        })?;
    Ok(map
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => (key, s),
            other => (key, other.to_string()),
        })
        .collect())
}

async fn traces(
    State(api): State<Api>,
    Query(params): Query<TracesParams>,
) -> Result<Response, QueryError> {
    let limit = match given(&params.limit) {
        None => DEFAULT_LIMIT,
        // Any limit past MAX_LIMIT is MAX_LIMIT, one past u64 included.
        Some(text) => saturating_u64(text)
            .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("limit {text:?} is not a number of traces (a whole number)"),
                )
            })?
            .clamp(1, MAX_LIMIT),
    };
    let (start_us, end_us) = window(&params.start, &params.end, &params.lookback)?;
    let query = TraceQuery {
        service: given(&params.service).map(str::to_owned),
        operation: given(&params.operation).map(str::to_owned),
        start_us,
        end_us,
        min_duration_us: duration("minDuration", &params.min_duration)?,
        max_duration_us: duration("maxDuration", &params.max_duration)?,
        tags: tags(&params.tags)?,
        limit,
    };
    // Up to a thousand traces searched, shaped and written as JSON: on the
    // analyses' pool, never on the threads that take exports.
    let store = Arc::clone(&api.store);
    let body = api
        .analyses
        .run("the trace search".to_owned(), move |_| {
            let found: Vec<Trace> = store
                .traces(&query)
                .iter()
                .map(|spans| jaeger::trace(spans))
                .collect();
            let total = found.len();
            serde_json::to_vec(&jaeger::Response::new(found, total))
                .map_err(|err| error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
struct CriticalPathsParams {
    service: Option<String>,
    operation: Option<String>,
    start: Option<String>,
    end: Option<String>,
    lookback: Option<String>,
    /// For the flame graph: `all` (the default) or a band.
    band: Option<String>,
}

/// The traces an analysis across traces is about: an endpoint's, whose
/// root starts in a window.
struct Wanted {
    endpoint: Endpoint,
    start: Option<u64>,
    end: Option<u64>,
}

impl Wanted {
    fn of(params: &CriticalPathsParams) -> Result<Self, QueryError> {
        let (Some(service), Some(operation)) = (given(&params.service), given(&params.operation))
        else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "say which endpoint: service=…&operation=… (the root span's)",
            ));
        };
        let (start, end) = window(&params.start, &params.end, &params.lookback)?;
        Ok(Self {
            endpoint: Endpoint {
                service: service.to_owned(),
                operation: operation.to_owned(),
            },
            start,
            end,
        })
    }

    fn what(&self) -> String {
        format!(
            "the analysis of {} {}",
            self.endpoint.service, self.endpoint.operation
        )
    }

    /// Copies what the analysis reads of the endpoint's traces (each as
    /// stored when it began) and analyses the copies, by the deadline.
    fn analyse(self, store: &Store, deadline: &Deadline) -> Result<Analysis, QueryError> {
        let mut copied = Copied::new(self.endpoint, self.start, self.end);
        store.for_each_trace(|spans| {
            // Past the deadline, the rest of the traces are passed over.
            if !deadline.passed() {
                copied.add(spans);
            }
        });
        deadline.check()?;
        copied
            .analyse(|| !deadline.passed())
            .ok_or_else(|| deadline.missed())
    }
}

async fn critical_paths(
    State(api): State<Api>,
    Query(params): Query<CriticalPathsParams>,
) -> Result<Response, QueryError> {
    let wanted = Wanted::of(&params)?;
    let store = Arc::clone(&api.store);
    let analysis = api
        .analyses
        .run(wanted.what(), move |deadline| {
            wanted.analyse(&store, deadline)
        })
        .await?;
    let total = analysis.traces;
    Ok(axum::Json(jaeger::Response::new(analysis, total)).into_response())
}

async fn critical_paths_flame(
    State(api): State<Api>,
    Query(params): Query<CriticalPathsParams>,
) -> Result<Response, QueryError> {
    let band = given(&params.band)
        .filter(|b| *b != "all")
        .map(str::to_owned);
    if let Some(band) = band
        .as_deref()
        .filter(|b| !BANDS.iter().any(|(name, _)| name == b))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("band {band:?} is not all, p50, p90, p95 or p99"),
        ));
    }
    let wanted = Wanted::of(&params)?;
    let store = Arc::clone(&api.store);
    let what = format!("the flame graph of {}", wanted.what());
    let svg = api
        .analyses
        .run(what, move |deadline| {
            let endpoint = wanted.endpoint.clone();
            let analysis = wanted.analyse(&store, deadline)?;
            let folded = analysis.folded(band.as_deref());
            if folded.is_empty() {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no trace has {} {} as its root here",
                        endpoint.service, endpoint.operation
                    ),
                ));
            }
            let subtitle = match analysis.band(band.as_deref().unwrap_or_default()) {
                Some(b) => format!(
                    "mean µs per trace over the {} traces from p{} to p{}",
                    b.traces, b.from_percentile, b.to_percentile
                ),
                None => format!("mean µs per trace over all {} traces", analysis.traces),
            };
            let title = format!("{} {}: critical path", endpoint.service, endpoint.operation);
            deadline.check()?;
            let mut svg = Vec::new();
            flame::flame_graph(&folded, &title, &subtitle, &mut svg)
                .map_err(|err| error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
            Ok(svg)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DependenciesParams {
    end_ts: Option<String>,
    lookback: Option<String>,
}

/// One edge of the dependency graph, in Jaeger's shape, with its errors.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
    pub error_count: u64,
}

/// `endTs` or `lookback` of `GET /api/dependencies`: milliseconds, as
/// Jaeger's, or a duration such as `1h`; in microseconds. Both saturate (see
/// [`saturating_u64`]): an end past `u64::MAX` µs is after every span, a
/// lookback past it reaches back to the epoch.
fn millis_in_micros(name: &str, param: &Option<String>) -> Result<Option<u64>, QueryError> {
    given(param)
        .map(|text| {
            saturating_u64(text)
                .map(|ms| ms.saturating_mul(1_000))
                .or_else(|| duration_us(text))
                .ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "{name} {text:?} is not milliseconds (a whole number, 0 or more) or a duration such as 1h"
                        ),
                    )
                })
        })
        .transpose()
}

/// `GET /api/dependencies`, as Jaeger's: `endTs` and `lookback` in
/// milliseconds (a duration such as `1h` is taken too); all stored spans
/// when neither is given.
async fn dependencies(
    State(api): State<Api>,
    Query(params): Query<DependenciesParams>,
) -> Result<Response, QueryError> {
    let end = millis_in_micros("endTs", &params.end_ts)?.unwrap_or(u64::MAX);
    let start = match millis_in_micros("lookback", &params.lookback)? {
        Some(lookback) => end.min(now_us()).saturating_sub(lookback),
        None => 0,
    };
    let store = Arc::clone(&api.store);
    let edges = api
        .analyses
        .run("the dependency graph".to_owned(), move |deadline| {
            // No allocation a span, only one for an edge first seen.
            let mut edges = Edges::new();
            store.for_each_trace(|spans| {
                if !deadline.passed() {
                    for ((caller, callee), (calls, errors)) in dependencies_of(spans, start, end) {
                        count_calls(&mut edges, caller, &callee, calls, errors);
                    }
                }
            });
            deadline.check()?;
            Ok(edges)
        })
        .await?;
    let list: Vec<Dependency> = edges
        .into_iter()
        .flat_map(|(parent, callees)| {
            callees
                .into_iter()
                .map(move |(child, (call_count, error_count))| Dependency {
                    parent: parent.clone(),
                    child,
                    call_count,
                    error_count,
                })
        })
        .collect();
    let total = list.len();
    Ok(axum::Json(jaeger::Response::new(list, total)).into_response())
}

/// Calls and errors, by caller (a service) and callee (a service or a
/// database), in the order of their names.
type Edges = BTreeMap<String, BTreeMap<String, (u64, u64)>>;

/// One trace's calls and errors by caller and callee, borrowed from its
/// spans.
type CallsInTrace<'a> = HashMap<(&'a str, Cow<'a, str>), (u64, u64)>;

/// Adds calls to an edge, allocating its names only when it is new.
fn count_calls(edges: &mut Edges, caller: &str, callee: &str, calls: u64, errors: u64) {
    if !edges.contains_key(caller) {
        edges.insert(caller.to_owned(), BTreeMap::new());
    }
    let Some(callees) = edges.get_mut(caller) else {
        return;
    };
    if !callees.contains_key(callee) {
        callees.insert(callee.to_owned(), (0, 0));
    }
    if let Some(counts) = callees.get_mut(callee) {
        counts.0 += calls;
        counts.1 += errors;
    }
}

/// The calls in one trace: a span whose parent belongs to another service
/// is a call from that service to its own (a client span and the server
/// span under it count once: the edge is drawn at the server span); a
/// client span that names a database (`db.system.name`) is a call to it.
/// By `(caller, callee)`, calls and errors.
fn dependencies_of(spans: &[Span], start: u64, end: u64) -> CallsInTrace<'_> {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut edges = CallsInTrace::default();
    for span in spans.iter().filter(|s| (start..=end).contains(&s.start_us)) {
        let callee = match span.attribute("db.system.name") {
            Some(Value::Str(db)) => Some((span.service.as_str(), Cow::Borrowed(db.as_str()))),
            Some(db) => Some((span.service.as_str(), Cow::Owned(db.to_string()))),
            None => span
                .parent_span_id
                .as_deref()
                .and_then(|id| by_id.get(id).copied())
                .filter(|parent| parent.service != span.service)
                .map(|parent| {
                    (
                        parent.service.as_str(),
                        Cow::Borrowed(span.service.as_str()),
                    )
                }),
        };
        if let Some(edge) = callee {
            let counts = edges.entry(edge).or_default();
            counts.0 += 1;
            counts.1 += u64::from(span.is_error());
        }
    }
    edges
}

#[derive(Deserialize)]
struct RedParams {
    service: Option<String>,
    since: Option<String>,
}

async fn red_figures(
    State(api): State<Api>,
    Query(params): Query<RedParams>,
) -> Result<Response, QueryError> {
    let since = micros("since", &params.since)?.unwrap_or(0);
    let service = given(&params.service).map(str::to_owned);
    let store = Arc::clone(&api.store);
    let figures = api
        .analyses
        .run("the RED figures".to_owned(), move |_| {
            // Only server spans count: only they are copied.
            let spans = store.spans_where(|span| {
                span.kind == Kind::Server
                    && span.start_us >= since
                    && service.as_ref().is_none_or(|svc| &span.service == svc)
            });
            Ok(red::by_operation(&spans))
        })
        .await?;
    let total = figures.len();
    Ok(axum::Json(jaeger::Response::new(figures, total)).into_response())
}

/// A 400 unless `trace_id` is one (32 hex digits).
fn check_trace_id(trace_id: &str) -> Result<(), QueryError> {
    let valid = trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        Ok(())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            format!("{trace_id:?} is not a trace id (32 hex digits)"),
        ))
    }
}

fn find(store: &Store, trace_id: &str) -> Result<Trace, QueryError> {
    check_trace_id(trace_id)?;
    store
        .trace(trace_id)
        .map(|spans| jaeger::trace(&spans))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "trace not found"))
}

async fn trace(
    State(store): State<Arc<Store>>,
    Path(trace_id): Path<String>,
) -> Result<Response, QueryError> {
    let trace = find(&store, &trace_id)?;
    Ok(axum::Json(jaeger::Response::new(vec![trace], 1)).into_response())
}

async fn trace_critical_path(
    State(api): State<Api>,
    Path(trace_id): Path<String>,
) -> Result<Response, QueryError> {
    check_trace_id(&trace_id)?;
    let store = Arc::clone(&api.store);
    let what = format!("the critical path of trace {trace_id}");
    let path: Vec<Section> = api
        .analyses
        .run(what, move |_| Ok(critical_path(&find(&store, &trace_id)?)))
        .await?;
    let total = path.len();
    Ok(axum::Json(jaeger::Response::new(path, total)).into_response())
}
