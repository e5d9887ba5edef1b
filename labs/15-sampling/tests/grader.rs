//! The grader of lab 15. `just lab 15` runs it and explains each result.
//!
//! The head sampler runs in a real OpenTelemetry SDK tracer provider, its
//! sampled spans exported to memory as they end. Requests arrive with their
//! caller's trace, sampled or not, and roots start with none; the grader
//! reads what was sampled.
//!
//! The tail policy decides on traffic drawn afresh on every run (a failure
//! prints the seed that replays it): three to five endpoints whose usual
//! latencies differ fifteen- to twenty-five-fold, each with its own part of
//! the traffic, its own size of trace, its own error rate (the root failed,
//! or more often a child span alone) and its own outliers, four to ten times
//! its usual latency, one every 300 to 500 of its traces. The busiest
//! endpoint but the slowest becomes eight to twelve times faster part-way
//! through, as when a cache has warmed, and three of its outliers come just
//! after its 1,000th trace at the new speed, when its last 1,000 traces are
//! all new: a p99 that reaches further back judges them by the old speed.
//! The traffic ends with an outage in which every trace fails, whose spans
//! exceed what the budget earns while it lasts: only room saved before it
//! holds them. Traces come to the policy in the order they ended. The
//! grader judges every trace as the README says: failed when any of its
//! spans failed, slow against the p99 of its endpoint's last 1,000 traces
//! before it; and it counts the spans kept against the budget over the
//! traffic's own clock (when each trace ended), never the wall clock.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use grader_kit::checks::{disturbed, evidence, measured};
use grader_kit::scenario::{Dice, distinct, word};
use lab15::budget::Budget;
use lab15::completed::{CompletedTrace, Endpoint};
use lab15::head::head_sampler;
use lab15::keep::Keep;
use lab15::tail::TailPolicy;
use opentelemetry::Context;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

grader_kit::checks![
    head_sampler_follows_the_parent,
    head_sampler_leaves_room_in_the_budget,
    every_error_trace_is_kept,
    every_slow_trace_is_kept,
    the_rest_fits_the_budget,
    memory_stays_bounded,
];

/// The traces of its endpoint a trace is judged against: the last 1,000
/// that ended before it.
const WINDOW: usize = 1_000;
/// How many times its endpoint's p99 a trace must take before the grader
/// requires it kept: room for a p99 estimated another way (a histogram's
/// precision, a window of 500 to 1,000 traces, a rank counted otherwise),
/// which moves it by a few percent, by chance up to a third.
const ROOM_ABOVE_P99: f64 = 1.5;
/// The least part of what the budget leaves it that a sampler must use: a
/// tenth.
const LEAST_USE: f64 = 0.1;
/// How many standard deviations of chance a share drawn by trace id may
/// stray from its expected value before the grader counts it as wrong.
const SIGMAS: f64 = 4.0;
/// Requests with a caller's trace, for each budget.
const REQUESTS: usize = 200;
/// Root traces started, for each budget.
const ROOTS: usize = 10_000;
/// Traces in each scenario of the tail policy, and scenarios per check.
const TRACES: usize = 50_000;
const SCENARIOS: usize = 2;
/// Traces in each scenario of the budget's check: four times as many, so
/// that the chance in a share of the rest drawn trace by trace (one
/// standard deviation under 1 % of the budget over so many traces, 1.5 %
/// over 50,000) is small beside the tenth of headroom the README asks for.
const BUDGET_TRACES: usize = 200_000;
/// What the outage that ends every scenario takes beyond what the budget
/// earns while it lasts, as a part of the budget over the whole traffic:
/// about half of a tenth, so that a policy that planned a tenth less than
/// the budget holds it with five or more standard deviations of a share's
/// chance to spare, and one that planned the whole budget exceeds it by as
/// many.
const OUTAGE_EXCESS: (f64, f64) = (0.045, 0.055);
/// The first trace of the endpoint that becomes faster, counted from 0 at
/// the change, whose last 1,000 traces are all at the new speed: its
/// 1,001st at that speed.
const FIRST_ALL_NEW: usize = WINDOW;
/// Where the outliers placed just after [`FIRST_ALL_NEW`] come, counted
/// from it: three, each up to nine traces after one of these.
const PLACED_OUTLIERS: [usize; 3] = [0, 20, 40];
/// How far any other outlier of that endpoint stays from the placed ones:
/// so that no 1,000 of its traces hold more than five outliers, and no 500
/// more than three, too few to make any p99 of them an outlier's.
const CLEAR_OF_PLACED: usize = 500;
/// The memory check: traces decided, how many endpoints they come from,
/// the trace from which the growth is counted, and the most it may be.
const MEMORY_TRACES: usize = 600_000;
const MEMORY_ENDPOINTS: usize = 50;
const MEASURED_FROM: usize = 150_000;
const MOST_GROWTH_KIB: u64 = 1_024;

// ---------------------------------------------------------------------------
// Draws
// ---------------------------------------------------------------------------

/// The draws this grader needs beyond the kit's.
trait Draws {
    /// A number from `low` to `high`.
    fn uniform(&mut self, low: f64, high: f64) -> f64;
    /// A number from `low` to `high`, as likely in each doubling.
    fn log_uniform(&mut self, low: f64, high: f64) -> f64;
    /// A number from the standard normal distribution.
    fn normal(&mut self) -> f64;
    /// Seconds until the next of events that come at random, `per_second`
    /// on average.
    fn gap(&mut self, per_second: f64) -> f64;
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool;
    /// A valid trace id, as a service draws one.
    fn trace_id(&mut self) -> TraceId;
    /// A valid span id.
    fn span_id(&mut self) -> SpanId;
}

impl Draws for Dice {
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + self.0.f64() * (high - low)
    }

    fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        self.uniform(low.ln(), high.ln()).exp()
    }

    fn normal(&mut self) -> f64 {
        // Box and Muller; `1 - f64()` is in (0, 1], whose logarithm is finite.
        let (u, v) = (1.0 - self.0.f64(), self.0.f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn gap(&mut self, per_second: f64) -> f64 {
        -(1.0 - self.0.f64()).ln() / per_second
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.f64() < p
    }

    fn trace_id(&mut self) -> TraceId {
        TraceId::from(self.0.u128(1..))
    }

    fn span_id(&mut self) -> SpanId {
        SpanId::from(self.0.u64(1..))
    }
}

/// `count` distinct endpoints, each a service and an operation named afresh.
fn endpoints(dice: &mut Dice, count: usize) -> Vec<Endpoint> {
    const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
    distinct(&mut dice.0, count, |rng| {
        let len = rng.usize(5..=8);
        let service = word(rng, len);
        let method = METHODS[rng.usize(..METHODS.len())];
        let len = rng.usize(4..=9);
        let path = word(rng, len);
        Endpoint {
            service,
            operation: format!("{method} /{path}"),
        }
    })
}

fn name(endpoint: &Endpoint) -> String {
    format!("{} {}", endpoint.service, endpoint.operation)
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1_000.0)
}

fn ms_of(duration: Duration) -> String {
    ms(duration.as_secs_f64())
}

// ---------------------------------------------------------------------------
// The head sampler
// ---------------------------------------------------------------------------

/// A budget that affords `share` of a traffic drawn at random.
fn budget_affording(dice: &mut Dice, share: f64) -> Budget {
    let traces = dice.uniform(50.0, 5_000.0);
    let spans = dice.uniform(2.0, 40.0);
    Budget {
        stored_spans_per_second: share * traces * spans,
        expected_traces_per_second: traces,
        expected_spans_per_trace: spans,
    }
}

/// A service's tracer provider, built with your head sampler for `budget`,
/// exporting every sampled span to memory as it ends.
fn service(budget: &Budget) -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(head_sampler(budget))
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

/// A request that comes with its caller's trace, as its `traceparent`
/// says.
struct Request {
    trace_id: TraceId,
    caller_span: SpanId,
    caller_sampled: bool,
}

/// Which of a request's two spans were exported: the service's span for
/// the request, child of the caller's, and the database query's inside it.
struct Exported {
    request_span: bool,
    query_span: bool,
}

fn exported_for(request: &Request, spans: &[SpanData]) -> Exported {
    let of_trace: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.span_context.trace_id() == request.trace_id)
        .collect();
    Exported {
        request_span: of_trace
            .iter()
            .any(|span| span.parent_span_id == request.caller_span),
        query_span: of_trace
            .iter()
            .any(|span| span.parent_span_id != request.caller_span),
    }
}

/// A span whose request came with its caller's trace follows the caller's
/// decision, and a child in the same service follows its parent's: a trace
/// is recorded everywhere or nowhere.
fn head_sampler_follows_the_parent() {
    let mut dice = Dice::new();
    for _ in 0..2 {
        let share = dice.uniform(0.05, 0.5);
        let budget = budget_affording(&mut dice, share);
        let (provider, exporter) = service(&budget);
        let tracer = provider.tracer("lab15-grader");
        let requests: Vec<Request> = (0..REQUESTS)
            .map(|_| Request {
                trace_id: dice.trace_id(),
                caller_span: dice.span_id(),
                caller_sampled: dice.one_in(2),
            })
            .collect();
        for request in &requests {
            let flags = if request.caller_sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::NOT_SAMPLED
            };
            let caller = Context::new().with_remote_span_context(SpanContext::new(
                request.trace_id,
                request.caller_span,
                flags,
                true,
                TraceState::default(),
            ));
            let handling = caller.with_span(tracer.start_with_context("handle request", &caller));
            tracer
                .start_with_context("query the database", &handling)
                .end();
            handling.span().end();
        }
        // Read before the provider goes: shutting it down empties the exporter.
        let spans = exporter.get_finished_spans().unwrap_or_default();
        drop(provider);

        let (mut sampled, mut holes) = (0, Vec::new());
        let (mut unsampled, mut headless) = (0, Vec::new());
        let mut halves = Vec::new();
        for request in &requests {
            let exported = exported_for(request, &spans);
            if request.caller_sampled {
                sampled += 1;
                if !exported.request_span {
                    holes.push(request.trace_id);
                }
            } else {
                unsampled += 1;
                if exported.request_span || exported.query_span {
                    headless.push(request.trace_id);
                }
            }
            if exported.request_span != exported.query_span {
                halves.push(request.trace_id);
            }
        }
        let mut problems = Vec::new();
        if let Some(first) = holes.first() {
            problems.push(format!(
                "of {sampled} requests whose caller had sampled its trace (`traceparent` flags \
                 01), {} were not sampled here, such as trace {first}: the caller's spans are \
                 stored and this service's are not, a hole in the middle of each such trace",
                holes.len()
            ));
        }
        if let Some(first) = headless.first() {
            problems.push(format!(
                "of {unsampled} requests whose caller had not sampled its trace (flags 00), {} \
                 were sampled here, such as trace {first}: this service's spans are stored \
                 without the root and the callers' spans above them, a trace with no beginning",
                headless.len()
            ));
        }
        if let Some(first) = halves.first() {
            problems.push(format!(
                "in {} requests, such as trace {first}, the database query's span, a child in \
                 the same service, was not decided as the request's span it ran in was",
                halves.len()
            ));
        }
        assert!(
            problems.is_empty(),
            "With a budget that affords {:.0} % of the traffic: {}. A span with a parent \
             follows its parent's decision, wherever the parent ran; only a root decides \
             (README step 1).",
            share * 100.0,
            problems.join("; ")
        );
    }
}

/// Over many root traces, the share sampled stores no more spans per
/// second than the budget, and uses at least a tenth of it.
fn head_sampler_leaves_room_in_the_budget() {
    let mut dice = Dice::new();
    // Budgets across the whole range, above half the traffic too: a
    // share is a fraction, not always one trace in a whole number of them.
    let mut shares = [
        dice.uniform(0.02, 0.08),
        dice.uniform(0.1, 0.3),
        dice.uniform(0.35, 0.5),
        dice.uniform(0.55, 0.9),
    ];
    dice.shuffle(&mut shares);
    for share in shares {
        let budget = budget_affording(&mut dice, share);
        let (provider, exporter) = service(&budget);
        let tracer = provider.tracer("lab15-grader");
        for _ in 0..ROOTS {
            tracer
                .start_with_context("GET /talks", &Context::new())
                .end();
        }
        let sampled = exporter.get_finished_spans().unwrap_or_default().len();
        drop(provider);

        let roots = ROOTS as f64;
        let offered = budget.expected_traces_per_second * budget.expected_spans_per_trace;
        let stored = sampled as f64 / roots * offered;
        let allowed = budget.stored_spans_per_second;
        measured(
            format!(
                "your head sampler: {stored:.0} spans per second stored; the budget {allowed:.0}"
            ),
            stored,
            allowed,
        );
        let most = roots * share + SIGMAS * (roots * share * (1.0 - share)).sqrt();
        let least_share = share * LEAST_USE;
        let least =
            roots * least_share - SIGMAS * (roots * least_share * (1.0 - least_share)).sqrt();
        let sampled_percent = sampled as f64 * 100.0 / roots;
        if sampled as f64 > most {
            // The budget's spans taken for traces: a trace is not one span.
            let per_trace_share = (allowed / budget.expected_traces_per_second).min(1.0);
            let as_if_traces = (sampled as f64 - roots * per_trace_share).abs()
                <= SIGMAS * (roots * per_trace_share * (1.0 - per_trace_share)).sqrt() + 1.0;
            let diagnosis = if sampled == ROOTS {
                " It sampled every root, as the SDK's default does."
            } else if as_if_traces {
                " That is about the budget's spans per second over the traces per second: \
                 but a trace is not one span."
            } else {
                ""
            };
            panic!(
                "Your head sampler sampled {sampled} of {ROOTS} traces that started at the \
                 service ({sampled_percent:.1} %). At {:.0} traces per second of {:.1} spans \
                 each, that stores about {stored:.0} spans per second, {:.1} times the budget of \
                 {allowed:.0}.{diagnosis} A head sampler decides before anything has happened \
                 in the trace: its share alone must fit the budget (README step 1).",
                budget.expected_traces_per_second,
                budget.expected_spans_per_trace,
                stored / allowed
            );
        }
        assert!(
            sampled as f64 >= least,
            "Your head sampler sampled {sampled} of {ROOTS} traces that started at the service \
             ({sampled_percent:.2} %), where the budget affords {:.1} %: it leaves nearly all of \
             the budget unused, and a store that holds next to nothing shows next to nothing. \
             Use what the budget affords, at least a tenth of it (README step 1).",
            share * 100.0
        );
    }
}

// ---------------------------------------------------------------------------
// The tail policy: traffic
// ---------------------------------------------------------------------------

/// How one endpoint's traces are drawn.
struct EndpointTraffic {
    endpoint: Endpoint,
    /// Its part of the traces, between 0 and 1.
    weight: f64,
    /// Its usual root duration (the median of the usual ones), in seconds.
    median: f64,
    /// How widely its usual durations spread: the standard deviation of
    /// their logarithm.
    spread: f64,
    /// The index of its next outlier, a trace four to ten times its usual
    /// duration: one every 300 to 500 traces, never more, so that no window
    /// of 500 traces holds enough of them to make its p99 an outlier's.
    next_outlier: usize,
    /// The indexes of the outliers placed just after its 1,000th trace at
    /// its new speed, for the endpoint that becomes faster (none for the
    /// others). The usual outliers keep [`CLEAR_OF_PLACED`] away from them.
    placed_outliers: Vec<usize>,
    /// The chance that a trace fails.
    error_rate: f64,
    /// The fewest and the most spans of its traces.
    spans: (usize, usize),
    /// The change part-way: from its trace with this index on, so many
    /// times faster.
    faster: Option<(usize, f64)>,
    /// Its traces drawn so far.
    drawn: usize,
}

/// Where a trace failed.
#[derive(Clone, Copy, Debug)]
enum Failure {
    /// Its root span.
    Root,
    /// A child span alone (at this index of `span_statuses`), while the
    /// root's status was unset or Ok.
    InAChild { at: usize, root_ok: bool },
}

/// A trace as drawn, with what the grader knows of it besides.
struct Drawn {
    trace: CompletedTrace,
    endpoint: usize,
    failure: Option<Failure>,
    /// Its endpoint's traces since the endpoint became faster, when it has.
    since_faster: Option<usize>,
}

/// A scenario's traffic and budget, its traces drawn one at a time, in the
/// order they end.
struct Traffic {
    endpoints: Vec<EndpointTraffic>,
    budget: Budget,
    start: SystemTime,
    /// Seconds from the start to the end of the last trace drawn.
    clock: f64,
    /// Traces drawn so far.
    drawn: usize,
    /// The first trace of the outage: it and every trace after it fail.
    outage_from: usize,
    /// Seconds from the end of the last trace before the outage to the end
    /// of the last trace drawn in it.
    outage_seconds: f64,
}

/// Three to five endpoints, and a budget of 8 to 12 % of the traffic's
/// spans, for a scenario of `traces` traces.
fn draw_traffic(dice: &mut Dice, traces: usize) -> Traffic {
    let count = dice.between(3, 5) as usize;
    let names = endpoints(dice, count);
    let fastest = dice.uniform(1.5, 5.0) / 1_000.0;
    let slowest = fastest * dice.uniform(15.0, 25.0);
    let mut medians: Vec<f64> = (0..count)
        .map(|i| match i {
            0 => fastest,
            1 => slowest,
            _ => dice.log_uniform(fastest, slowest),
        })
        .collect();
    dice.shuffle(&mut medians);
    let raw: Vec<f64> = (0..count).map(|_| dice.uniform(1.0, 4.0)).collect();
    let total: f64 = raw.iter().sum();
    let mut endpoints: Vec<EndpointTraffic> = names
        .into_iter()
        .zip(medians)
        .zip(raw)
        .map(|((endpoint, median), raw)| {
            let fewest = dice.between(6, 20) as usize;
            let most = fewest + dice.between(0, 12) as usize;
            EndpointTraffic {
                endpoint,
                weight: raw / total,
                median,
                spread: dice.uniform(0.15, 0.3),
                next_outlier: dice.between(100, 500) as usize,
                placed_outliers: Vec::new(),
                error_rate: dice.uniform(0.015, 0.035),
                spans: (fewest, most),
                faster: None,
                drawn: 0,
            }
        })
        .collect();
    // The slowest endpoint keeps its latency, so that the endpoints differ
    // fifteenfold and more throughout.
    let slowest_endpoint = (0..count)
        .max_by(|&a, &b| endpoints[a].median.total_cmp(&endpoints[b].median))
        .expect("endpoints");
    let busiest = (0..count)
        .filter(|&i| i != slowest_endpoint)
        .max_by(|&a, &b| endpoints[a].weight.total_cmp(&endpoints[b].weight))
        .expect("endpoints besides the slowest");
    // The change comes about 30 to 50 % of the way through the endpoint's
    // traces, and 100 to 900 traces past a multiple of 1,000 of them: a
    // history that turns in halves of 1,000 of the endpoint's traces, as
    // the collector's does, or reads its p99 from the last full batch of
    // 1,000, then still holds at least 100 durations from before the change
    // when the placed outliers come.
    let expected = traces as f64 * endpoints[busiest].weight;
    let thousands = (expected * dice.uniform(0.3, 0.5)) as usize / 1_000;
    let from = thousands * 1_000 + dice.between(100, 900) as usize;
    endpoints[busiest].faster = Some((from, dice.uniform(8.0, 12.0)));
    endpoints[busiest].placed_outliers = PLACED_OUTLIERS
        .iter()
        .map(|&after| from + FIRST_ALL_NEW + after + dice.between(0, 9) as usize)
        .collect();
    let traces_per_second = dice.uniform(200.0, 1_000.0);
    let spans_per_trace: f64 = endpoints
        .iter()
        .map(|e| e.weight * (e.spans.0 + e.spans.1) as f64 / 2.0)
        .sum();
    let share = dice.uniform(0.08, 0.12);
    // While every trace fails, each brings its spans and the budget earns
    // `share` of them: the outage's last `outage` traces take `1 - share`
    // of their spans beyond it, against `share` of every trace's over the
    // whole traffic.
    let excess = dice.uniform(OUTAGE_EXCESS.0, OUTAGE_EXCESS.1);
    let outage = (excess * share * traces as f64 / (1.0 - share)).round() as usize;
    Traffic {
        endpoints,
        budget: Budget {
            stored_spans_per_second: share * traces_per_second * spans_per_trace,
            expected_traces_per_second: traces_per_second,
            expected_spans_per_trace: spans_per_trace,
        },
        start: SystemTime::UNIX_EPOCH
            + Duration::from_secs(dice.between(1_600_000_000, 2_000_000_000)),
        clock: 0.0,
        drawn: 0,
        outage_from: traces - outage,
        outage_seconds: 0.0,
    }
}

impl Traffic {
    fn pick_endpoint(&self, dice: &mut Dice) -> usize {
        let mut left = dice.0.f64();
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            if left < endpoint.weight {
                return index;
            }
            left -= endpoint.weight;
        }
        self.endpoints.len() - 1
    }

    /// The next trace to complete.
    fn next(&mut self, dice: &mut Dice) -> Drawn {
        let endpoint = self.pick_endpoint(dice);
        let plan = &mut self.endpoints[endpoint];
        let since_faster = plan
            .faster
            .and_then(|(from, _)| plan.drawn.checked_sub(from));
        let usual = match (plan.faster, since_faster) {
            (Some((_, times)), Some(_)) => plan.median / times,
            _ => plan.median,
        };
        let usual_outlier = plan.drawn == plan.next_outlier;
        if usual_outlier {
            plan.next_outlier += dice.between(300, 500) as usize;
        }
        let near_placed = plan
            .placed_outliers
            .iter()
            .any(|&placed| placed.abs_diff(plan.drawn) < CLEAR_OF_PLACED);
        let seconds = if plan.placed_outliers.contains(&plan.drawn) {
            // Four to six times the new usual: clearly slow by the last
            // 1,000 traces, and below nearly every duration from before the
            // change, eight to twelve times the new usual.
            usual * dice.uniform(4.0, 6.0)
        } else if usual_outlier && !near_placed {
            usual * dice.uniform(4.0, 10.0)
        } else {
            usual * (plan.spread * dice.normal()).exp()
        };
        plan.drawn += 1;
        let spans = dice.0.usize(plan.spans.0..=plan.spans.1);
        let mut span_statuses = vec![Status::Unset; spans];
        let root_ok = dice.one_in(3);
        if root_ok {
            span_statuses[0] = Status::Ok;
        }
        let in_outage = self.drawn >= self.outage_from;
        self.drawn += 1;
        let fails = in_outage || dice.chance(plan.error_rate);
        let failure = if !fails {
            None
        } else if dice.one_in(3) {
            span_statuses[0] = Status::error("the request failed");
            Some(Failure::Root)
        } else {
            let at = dice.0.usize(1..spans);
            span_statuses[at] = Status::error("connection reset by peer");
            Some(Failure::InAChild { at, root_ok })
        };
        let gap = dice.gap(self.budget.expected_traces_per_second);
        self.clock += gap;
        if in_outage {
            self.outage_seconds += gap;
        }
        let trace = CompletedTrace {
            trace_id: dice.trace_id(),
            endpoint: plan.endpoint.clone(),
            root_duration: Duration::from_secs_f64(seconds),
            ended: self.start + Duration::from_secs_f64(self.clock),
            span_statuses,
        };
        Drawn {
            trace,
            endpoint,
            failure,
            since_faster,
        }
    }
}

/// The grader's own reading of an endpoint's recent latency: its last
/// [`WINDOW`] root durations, in the order the traces ended (which is the
/// order they come to the policy) and sorted.
#[derive(Default)]
struct Window {
    in_order: VecDeque<Duration>,
    sorted: Vec<Duration>,
}

impl Window {
    /// The p99, nearest rank (the 990th fastest of 1,000), once the window
    /// is full.
    fn p99(&self) -> Option<Duration> {
        (self.sorted.len() == WINDOW).then(|| self.sorted[(WINDOW * 99).div_ceil(100) - 1])
    }

    fn push(&mut self, duration: Duration) {
        if self.in_order.len() == WINDOW {
            let oldest = self.in_order.pop_front().expect("a full window");
            let at = self
                .sorted
                .binary_search(&oldest)
                .expect("the oldest duration is in the window");
            self.sorted.remove(at);
        }
        let at = self.sorted.partition_point(|&known| known < duration);
        self.sorted.insert(at, duration);
        self.in_order.push_back(duration);
    }
}

/// One trace as the grader judged it, and whether your policy kept it.
struct Judged {
    endpoint: usize,
    trace_id: TraceId,
    duration: Duration,
    spans: usize,
    failure: Option<Failure>,
    /// The p99 of its endpoint's last [`WINDOW`] traces before it, once
    /// there had been that many.
    p99: Option<Duration>,
    /// The p99 of the last [`WINDOW`] traces of all endpoints together.
    everyone_p99: Option<Duration>,
    since_faster: Option<usize>,
    kept: bool,
}

impl Judged {
    /// Slower than its endpoint's p99: kept whatever the budget says.
    fn slow(&self) -> bool {
        self.p99.is_some_and(|p99| self.duration > p99)
    }

    /// So much slower than its endpoint's p99 that no estimate of that
    /// p99 misses it.
    fn clearly_slow(&self) -> bool {
        self.p99
            .is_some_and(|p99| self.duration.as_secs_f64() > p99.as_secs_f64() * ROOM_ABOVE_P99)
    }

    /// Neither failed nor slow: the rest, which the budget decides.
    fn ordinary(&self) -> bool {
        self.failure.is_none() && !self.slow()
    }

    fn failed_in_a_child(&self) -> bool {
        matches!(self.failure, Some(Failure::InAChild { .. }))
    }
}

/// A scenario's traffic, decided by your policy trace by trace.
struct Run {
    traffic: Traffic,
    judged: Vec<Judged>,
}

/// Your policy, built for a scenario's budget, deciding on its `traces`
/// traces, in the order they ended.
fn run(dice: &mut Dice, traces: usize) -> Run {
    let mut traffic = draw_traffic(dice, traces);
    let mut policy = TailPolicy::new(&traffic.budget);
    let mut windows: Vec<Window> = traffic
        .endpoints
        .iter()
        .map(|_| Window::default())
        .collect();
    let mut everyone = Window::default();
    let mut judged = Vec::with_capacity(traces);
    for _ in 0..traces {
        let drawn = traffic.next(dice);
        let duration = drawn.trace.root_duration;
        let kept = policy.decide(&drawn.trace) == Keep::Yes;
        judged.push(Judged {
            endpoint: drawn.endpoint,
            trace_id: drawn.trace.trace_id,
            duration,
            spans: drawn.trace.span_count(),
            failure: drawn.failure,
            p99: windows[drawn.endpoint].p99(),
            everyone_p99: everyone.p99(),
            since_faster: drawn.since_faster,
            kept,
        });
        windows[drawn.endpoint].push(duration);
        everyone.push(duration);
    }
    Run { traffic, judged }
}

/// The spans of the traces `pick` chooses.
fn spans(judged: &[Judged], pick: impl Fn(&Judged) -> bool) -> f64 {
    judged
        .iter()
        .filter(|j| pick(j))
        .map(|j| j.spans as f64)
        .sum()
}

impl Run {
    /// The traffic's seconds, from its start to its last trace's end.
    fn seconds(&self) -> f64 {
        self.traffic.clock
    }

    fn name(&self, endpoint: usize) -> String {
        name(&self.traffic.endpoints[endpoint].endpoint)
    }

    /// The outage that ends the traffic: how many traces it had, and how
    /// many spans they brought beyond what the budget earned while it
    /// lasted.
    fn outage(&self) -> (usize, f64) {
        let traffic = &self.traffic;
        let of_outage = &self.judged[traffic.outage_from..];
        let earned = traffic.budget.stored_spans_per_second * traffic.outage_seconds;
        (of_outage.len(), spans(of_outage, |_| true) - earned)
    }

    /// The scenario, and what your policy kept of it, for a failure to show.
    fn describe(&self) -> String {
        let budget = &self.traffic.budget;
        let kept = self.judged.iter().filter(|j| j.kept).count();
        let kept_spans = spans(&self.judged, |j| j.kept);
        let mut text = format!(
            "  budget: {:.0} spans per second stored; traffic expected: {:.0} traces per second \
             of {:.1} spans on average; {} traces over {:.1} s\n  kept: {kept} traces, {:.0} \
             spans per second\n",
            budget.stored_spans_per_second,
            budget.expected_traces_per_second,
            budget.expected_spans_per_trace,
            self.judged.len(),
            self.seconds(),
            kept_spans / self.seconds(),
        );
        let (outage, beyond) = self.outage();
        text.push_str(&format!(
            "  outage: the last {outage} traces all failed, over {:.1} s, {beyond:.0} spans beyond \
             what the budget earned meanwhile ({:.1} % of the budget over the whole traffic)\n",
            self.traffic.outage_seconds,
            beyond * 100.0 / (budget.stored_spans_per_second * self.seconds()),
        ));
        text.push_str(
            "  endpoint                            part   usual     last p99   failed  spans  kept\n",
        );
        for (index, plan) in self.traffic.endpoints.iter().enumerate() {
            let of_endpoint: Vec<&Judged> =
                self.judged.iter().filter(|j| j.endpoint == index).collect();
            let traces = of_endpoint.len().max(1) as f64;
            let failed = of_endpoint.iter().filter(|j| j.failure.is_some()).count();
            let kept = of_endpoint.iter().filter(|j| j.kept).count();
            let last_p99 = of_endpoint
                .last()
                .and_then(|j| j.p99)
                .map_or_else(|| "-".to_owned(), ms_of);
            let change = plan.faster.map_or_else(String::new, |(from, times)| {
                format!(" ({times:.1}x faster from its trace {from} on)")
            });
            text.push_str(&format!(
                "  {:<35} {:>3.0} %  {:>8}  {last_p99:>9}  {:>5.1} %  {:>2}-{:<2}  {:>4.1} %{change}\n",
                name(&plan.endpoint),
                plan.weight * 100.0,
                ms(plan.median),
                failed as f64 * 100.0 / traces,
                plan.spans.0,
                plan.spans.1,
                kept as f64 * 100.0 / traces,
            ));
        }
        text
    }

    /// Up to three of `traces`, each with what `what` says of it.
    fn examples(&self, traces: &[&Judged], what: impl Fn(&Judged) -> String) -> String {
        let shown: Vec<String> = traces
            .iter()
            .take(3)
            .map(|j| {
                format!(
                    "trace {} of `{}` ({})",
                    j.trace_id,
                    self.name(j.endpoint),
                    what(j)
                )
            })
            .collect();
        match traces.len().saturating_sub(shown.len()) {
            0 => shown.join("; "),
            more => format!("{}; and {more} more", shown.join("; ")),
        }
    }
}

fn describe_failure(judged: &Judged) -> String {
    match judged.failure {
        Some(Failure::Root) => format!("{} spans, the root failed", judged.spans),
        Some(Failure::InAChild { at, root_ok }) => format!(
            "{} spans, span {} of them failed, the root's status {}",
            judged.spans,
            at + 1,
            if root_ok { "Ok" } else { "unset" }
        ),
        None => format!("{} spans", judged.spans),
    }
}

// ---------------------------------------------------------------------------
// The tail policy: checks
// ---------------------------------------------------------------------------

/// Every trace in which any span failed is kept, wherever the failure was.
fn every_error_trace_is_kept() {
    let mut dice = Dice::new();
    for _ in 0..SCENARIOS {
        let run = run(&mut dice, TRACES);
        evidence("the traffic, and what your policy kept", run.describe());
        let failed: Vec<&Judged> = run.judged.iter().filter(|j| j.failure.is_some()).collect();
        assert!(
            !failed.is_empty(),
            "the traffic drew no failed trace, which the grader always draws: please report \
             this with the seed below"
        );
        let dropped: Vec<&Judged> = failed.iter().copied().filter(|j| !j.kept).collect();
        if dropped.is_empty() {
            continue;
        }
        let dropped_in_a_child = dropped.iter().filter(|j| j.failed_in_a_child()).count();
        let failed_in_a_child = failed.iter().filter(|j| j.failed_in_a_child()).count();
        let why = if dropped_in_a_child == dropped.len() {
            "Every one of them failed in a child span alone, while its root's status was unset \
             or Ok: a trace failed when any of its spans did, and the failure deep in a call is \
             the one someone comes looking for"
        } else if dropped.len() == failed.len() {
            "It kept none of them: whatever the budget, a failed trace is what someone will come \
             looking for"
        } else {
            "A failed trace is kept whatever the budget says, whichever of its spans failed"
        };
        panic!(
            "Your policy dropped {} of the {} traces in which a span failed ({dropped_in_a_child} \
             of the {failed_in_a_child} whose failure was in a child span alone), such as {}. \
             {why} (README step 2).",
            dropped.len(),
            failed.len(),
            run.examples(&dropped, describe_failure)
        );
    }
}

/// Every trace clearly slower than the p99 of its endpoint's last 1,000
/// traces is kept, from each endpoint's 1,001st trace on.
fn every_slow_trace_is_kept() {
    let mut dice = Dice::new();
    for _ in 0..SCENARIOS {
        let run = run(&mut dice, TRACES);
        evidence("the traffic, and what your policy kept", run.describe());
        let slow: Vec<&Judged> = run.judged.iter().filter(|j| j.clearly_slow()).collect();
        assert!(
            !slow.is_empty(),
            "the traffic drew no slow trace, which the grader always draws: please report this \
             with the seed below"
        );
        let dropped: Vec<&Judged> = slow.iter().copied().filter(|j| !j.kept).collect();
        if dropped.is_empty() {
            continue;
        }
        let why = why_slow_dropped(&run, &dropped, slow.len());
        panic!(
            "Your policy dropped {} of the {} traces that took more than {ROOM_ABOVE_P99} times \
             the p99 of their endpoint's last {WINDOW} traces, such as {}. {why} (README step 3).",
            dropped.len(),
            slow.len(),
            run.examples(&dropped, |j| format!(
                "{}, where that p99 was {}",
                ms_of(j.duration),
                j.p99.map_or_else(String::new, ms_of)
            ))
        );
    }
}

/// What the slow traces a policy dropped have in common, as the mistake
/// that explains it.
fn why_slow_dropped(run: &Run, dropped: &[&Judged], slow: usize) -> String {
    if dropped.len() == slow {
        return "It kept none of them: a trace slower than is usual for its endpoint is kept \
                whatever the budget says, as a failed one is"
            .to_owned();
    }
    let below_everyone = dropped
        .iter()
        .all(|j| j.everyone_p99.is_some_and(|p99| j.duration <= p99));
    if below_everyone {
        let medians = run.traffic.endpoints.iter().map(|e| e.median);
        let fastest = medians.clone().fold(f64::INFINITY, f64::min);
        let slowest = medians.fold(0.0, f64::max);
        return format!(
            "Every one of them was faster than the p99 of the last {WINDOW} traces of all \
             endpoints together: judged by one p99 for every endpoint, a fast endpoint's slow \
             trace looks usual beside a slower endpoint's usual ones, and here the endpoints' \
             usual latencies differ {:.0}-fold. Each endpoint is slow by its own recent p99",
            slowest / fastest
        );
    }
    let changed = run.traffic.endpoints.iter().find_map(|e| {
        e.faster
            .map(|(from, times)| (name(&e.endpoint), from, times))
    });
    if let Some((endpoint, from, times)) = changed
        && dropped.iter().all(|j| j.since_faster.is_some())
    {
        let all_new = if dropped
            .iter()
            .all(|j| j.since_faster.is_some_and(|since| since >= FIRST_ALL_NEW))
        {
            format!(
                " Each came after its {FIRST_ALL_NEW}th trace at the new speed, when its last \
                 {WINDOW} traces were all at that speed: the p99 your policy judged by still held \
                 durations from before the change."
            )
        } else {
            String::new()
        };
        return format!(
            "Every one of them came after `{endpoint}` became {times:.1} times faster, at its \
             trace {from}: the p99 of its last {WINDOW} traces came down with it, and the p99 \
             your policy judged by did not, or later.{all_new} The p99 is taken over no duration \
             older than the endpoint's last {WINDOW} traces: a history that reaches further back \
             (a window of 1,000 to 2,000 traces, the last full batch of 1,000, every duration \
             ever) judges today's traffic by yesterday's latency"
        );
    }
    format!(
        "For each, the p99 your policy judged it by was far above the p99 of its endpoint's last \
         {WINDOW} traces before it. That p99 is each endpoint's own, over its recent traces \
         alone, and a trace slower than it is kept whatever the budget says"
    )
}

/// The spans kept per second, over the traffic's own clock, are within the
/// budget, failed and slow traces counted; and some of the rest are kept.
fn the_rest_fits_the_budget() {
    let mut dice = Dice::new();
    for _ in 0..SCENARIOS {
        let run = run(&mut dice, BUDGET_TRACES);
        evidence("the traffic, and what your policy kept", run.describe());
        let seconds = run.seconds();
        let budget = run.traffic.budget.stored_spans_per_second;
        let judged = &run.judged;
        let kept = spans(judged, |j| j.kept) / seconds;
        let kept_failed = spans(judged, |j| j.kept && j.failure.is_some()) / seconds;
        let kept_slow = spans(judged, |j| j.kept && j.failure.is_none() && j.slow()) / seconds;
        let kept_ordinary = spans(judged, |j| j.kept && j.ordinary()) / seconds;
        let left_for_ordinary = (budget - spans(judged, |j| !j.ordinary()) / seconds).max(0.0);
        let ordinary = judged.iter().filter(|j| j.ordinary()).count();
        let ordinary_kept = judged.iter().filter(|j| j.kept && j.ordinary()).count();
        let (outage, beyond) = run.outage();
        let beyond_part = beyond / (budget * seconds);
        measured(
            format!("your policy kept {kept:.0} spans per second; the budget {budget:.0}"),
            kept,
            budget,
        );
        assert!(
            kept <= budget,
            "Your policy kept {kept:.0} spans per second over the traffic's {seconds:.1} s, {:.2} \
             times the budget of {budget:.0}: {kept_failed:.0} in failed traces, {kept_slow:.0} \
             in traces slower than their endpoint's p99, and {kept_ordinary:.0} in \
             {ordinary_kept} of the {ordinary} other traces, where the budget left those \
             {left_for_ordinary:.0}. The traffic ended with an outage: its last {outage} traces \
             all failed, {beyond:.0} spans beyond what the budget earned while it lasted, {:.1} % \
             of the budget over the whole traffic, which only room left unspent before it can \
             hold. What the failed and the slow take is not known in advance: the part of the \
             rest that is kept has to shrink as they come, and plan for less than the budget, a \
             tenth less, to hold such bursts and chance (README step 4).",
            kept / budget,
            beyond_part * 100.0
        );
        assert!(
            kept_ordinary >= LEAST_USE * left_for_ordinary,
            "Your policy kept {ordinary_kept} of the {ordinary} traces that neither failed nor \
             were slow ({kept_ordinary:.1} spans per second), where the budget left them \
             {left_for_ordinary:.0} spans per second. A store of failures alone cannot show \
             what normal looks like: what a failed request did differently is seen beside the \
             requests of the same endpoint that went well, at the same time. Of the rest, keep \
             what the budget leaves, at least a tenth of it (README step 4)."
        );
    }
}

/// This process's resident memory, in KiB, as the system counts it:
/// `/proc` on Linux, `ps` elsewhere.
fn resident_kib() -> Option<u64> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        return status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok());
    }
    let output = std::process::Command::new("ps")
        .args(["-o", "rss=", "-p", &std::process::id().to_string()])
        .output()
        .ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// The policy's memory stays bounded however many traces it decides on:
/// this process's resident memory, read from the system, grows by at most
/// a MiB over the last 450,000 of 600,000 traces from 50 endpoints. The
/// traces it reads are the grader's, filled anew for each decision, so
/// that nothing of the grader's own grows meanwhile.
fn memory_stays_bounded() {
    let mut dice = Dice::new();
    let names = endpoints(&mut dice, MEMORY_ENDPOINTS);
    let medians: Vec<f64> = names.iter().map(|_| dice.log_uniform(0.001, 0.1)).collect();
    let sizes: Vec<usize> = names.iter().map(|_| dice.between(2, 30) as usize).collect();
    let traces_per_second = dice.uniform(500.0, 3_000.0);
    let spans_per_trace = sizes.iter().sum::<usize>() as f64 / MEMORY_ENDPOINTS as f64;
    let budget = Budget {
        stored_spans_per_second: dice.uniform(0.1, 0.25) * traces_per_second * spans_per_trace,
        expected_traces_per_second: traces_per_second,
        expected_spans_per_trace: spans_per_trace,
    };
    let start =
        SystemTime::UNIX_EPOCH + Duration::from_secs(dice.between(1_600_000_000, 2_000_000_000));
    let template = |endpoint: &Endpoint, spans: usize, failed: bool| {
        let mut span_statuses = vec![Status::Unset; spans];
        if failed {
            span_statuses[spans - 1] = Status::error("connection reset by peer");
        }
        CompletedTrace {
            trace_id: TraceId::INVALID,
            endpoint: endpoint.clone(),
            root_duration: Duration::ZERO,
            ended: start,
            span_statuses,
        }
    };
    let mut usual: Vec<CompletedTrace> = names
        .iter()
        .zip(&sizes)
        .map(|(endpoint, &spans)| template(endpoint, spans, false))
        .collect();
    let mut failing: Vec<CompletedTrace> = names
        .iter()
        .zip(&sizes)
        .map(|(endpoint, &spans)| template(endpoint, spans, true))
        .collect();

    let mut policy = TailPolicy::new(&budget);
    let (mut clock, mut kept, mut failed, mut failed_dropped) = (0.0, 0, 0, 0);
    let mut before = None;
    for n in 0..MEMORY_TRACES {
        if n == MEASURED_FROM {
            before = resident_kib();
        }
        let endpoint = dice.0.usize(..MEMORY_ENDPOINTS);
        let fails = dice.one_in(100);
        let trace = if fails {
            &mut failing[endpoint]
        } else {
            &mut usual[endpoint]
        };
        trace.trace_id = dice.trace_id();
        trace.root_duration =
            Duration::from_secs_f64(medians[endpoint] * (0.2 * dice.normal()).exp());
        clock += dice.gap(traces_per_second);
        trace.ended = start + Duration::from_secs_f64(clock);
        let keep = policy.decide(trace) == Keep::Yes;
        kept += usize::from(keep);
        if fails {
            failed += 1;
            failed_dropped += usize::from(!keep);
        }
    }
    let after = resident_kib();

    // Something to judge: a policy that decides as step 2 asks, and that
    // does not keep everything.
    assert!(
        failed_dropped == 0,
        "Before its memory can be judged, your policy has to keep what step 2 asks: of the \
         {failed} failed traces among the {MEMORY_TRACES} it decided on, it dropped \
         {failed_dropped} (`every_error_trace_is_kept` says more)."
    );
    assert!(
        kept < MEMORY_TRACES,
        "Your policy kept every one of the {MEMORY_TRACES} traces it decided on: it decides \
         nothing, and its memory has nothing to be judged by (README steps 3 and 4)."
    );
    let (Some(before), Some(after)) = (before, after) else {
        disturbed(
            "this system tells neither through /proc nor through `ps` how much memory the \
             process holds",
        );
        return;
    };
    let measured_traces = MEMORY_TRACES - MEASURED_FROM;
    let grown = after.saturating_sub(before);
    measured(
        format!(
            "resident memory grew by {grown} KiB over your policy's last {measured_traces} \
             decisions; at most {MOST_GROWTH_KIB} KiB"
        ),
        grown as f64,
        MOST_GROWTH_KIB as f64,
    );
    assert!(
        grown <= MOST_GROWTH_KIB,
        "While your policy decided on {measured_traces} more traces of the same \
         {MEMORY_ENDPOINTS} endpoints, this process's resident memory grew by {:.1} MiB, some \
         {:.1} bytes a trace: the policy keeps something of every trace it sees, and a \
         collector that runs for weeks runs out of memory. Recent is each endpoint's last \
         {WINDOW} traces: anything older can be forgotten, and nothing of a trace is needed once \
         it is decided but its duration, for as long as it is recent (README step 3).",
        grown as f64 / 1_024.0,
        grown as f64 * 1_024.0 / measured_traces as f64
    );
}
