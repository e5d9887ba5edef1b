//! Critical paths across many traces, after Uber's CRISP (USENIX ATC '22).
//!
//! One trace's critical path says what that request waited on. An on-call
//! engineer asks about thousands: across every `POST /orders` of the last
//! minutes, which operations own the latency, and what grows in the tail?
//! So, for the traces of one endpoint (the root span's service and
//! operation):
//!
//! 1. Each trace's critical path ([`crate::critical_path`], Jaeger's
//!    semantics) is cut into the sections each span owns, and each span's
//!    *exclusive* critical-path time is keyed twice: by its operation
//!    (`service` + span name) and by its calling context (the chain of
//!    operations from the root down to it).
//! 2. Those times are added up over the traces. An operation's mean is over
//!    *all* the traces, counting zero where it is absent or off the path, so
//!    the operations' means add up to the mean trace duration.
//! 3. The same means per latency band. The traces are sorted by end-to-end
//!    duration (the root span's; ties by trace id) and ranked 0 to N−1; the
//!    band `pQ` holds the ranks from ⌊Q·N/100⌋ up to, not including, the
//!    next band's start: p50 is p50–p90, p90 is p90–p95, p95 is p95–p99,
//!    p99 is p99 to the slowest. A band is never empty: with too few traces
//!    to fill it, it holds the one trace at its own start (so with fewer
//!    than 100 traces, p95 and p99 may both be the slowest trace).
//! 4. What grows in the tail: per operation, its mean in the p99 band
//!    minus its mean in the p50 band, with its share of the p99 band's mean
//!    duration.
//!
//! CRISP's bands differ: its "P50" flame graph is the mean over the fastest
//! half (p0–p50), its "P99" over the fastest 99 %, "P100" over all. Over
//! all traces (CRISP's `flame-graph-P100.cct`) the two agree; see the
//! collector's README for how they were compared.

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use crate::critical_path::{Timing, root, sections};
use crate::jaeger::Trace;
use crate::model::{Kind, Span};

/// The bands: each starts at its percentile and ends where the next one
/// starts; the last ends with the slowest trace.
pub const BANDS: [(&str, u32); 4] = [("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)];

/// The traces an analysis is about: those whose root span is this
/// service's operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub service: String,
    pub operation: String,
}

/// Everything `just crisp` and `GET /api/critical-paths` show. Times are
/// in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// How many traces were analysed.
    pub traces: usize,
    /// Their mean end-to-end duration: the operations' means add up to it.
    pub mean_duration_us: f64,
    /// Every operation on some critical path, largest mean first.
    pub operations: Vec<OperationTime>,
    /// Every calling context on some critical path, largest mean first.
    pub contexts: Vec<ContextTime>,
    /// The traces at p50, p90, p95 and p99 (see the module's comment).
    pub bands: Vec<Band>,
    /// What grows in the tail: p99 band minus p50 band, largest first.
    pub tail: Vec<TailGrowth>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationTime {
    pub service: String,
    pub operation: String,
    /// Over all the traces, zero where the operation is off the path.
    pub mean_critical_path_us: f64,
    pub total_critical_path_us: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextTime {
    /// `"service operation"` from the root down to this operation.
    pub path: Vec<String>,
    pub mean_critical_path_us: f64,
    pub total_critical_path_us: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// `p50`, `p90`, `p95` or `p99`.
    pub band: String,
    /// The ranks it holds, as percentiles: from this one…
    pub from_percentile: u32,
    /// …up to this one (100: the slowest trace included).
    pub to_percentile: u32,
    pub traces: usize,
    pub min_duration_us: u64,
    pub max_duration_us: u64,
    pub mean_duration_us: f64,
    /// Means over this band's traces, largest first.
    pub operations: Vec<OperationTime>,
    pub contexts: Vec<ContextTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TailGrowth {
    pub service: String,
    pub operation: String,
    pub p50_mean_us: f64,
    pub p99_mean_us: f64,
    /// `p99_mean_us - p50_mean_us`.
    pub growth_us: f64,
    /// `p99_mean_us` over the p99 band's mean duration.
    pub share_of_p99: f64,
}

/// Adds traces one at a time, then [`finish`](Aggregator::finish)es into
/// an [`Analysis`]. Only the per-trace sums are kept, so thousands of
/// traces can be read and dropped as they come.
pub struct Aggregator {
    endpoint: Endpoint,
    /// Only traces whose root starts in this window (Unix µs, inclusive).
    window: (u64, u64),
    names: Names,
    traces: Vec<Attributed>,
    /// The roots of the traces left out, as `service operation`, counted:
    /// what to suggest when none was the endpoint.
    other_roots: HashMap<String, usize>,
}

/// One trace's critical path, as exclusive time per calling context.
struct Attributed {
    trace_id: String,
    duration_us: u64,
    by_context: Vec<(u32, u64)>,
}

/// Operations and calling contexts, each interned once as a number.
#[derive(Default)]
struct Names {
    operation_index: HashMap<String, HashMap<String, u32>>,
    operations: Vec<(String, String)>,
    /// A context is its parent context and its own operation.
    context_index: HashMap<(u32, u32), u32>,
    contexts: Vec<(u32, u32)>,
}

/// The parent of a root context.
const NO_CONTEXT: u32 = u32::MAX;

impl Names {
    fn operation(&mut self, service: &str, operation: &str) -> u32 {
        if let Some(&id) = self
            .operation_index
            .get(service)
            .and_then(|ops| ops.get(operation))
        {
            return id;
        }
        let id = self.operations.len() as u32;
        self.operations
            .push((service.to_owned(), operation.to_owned()));
        self.operation_index
            .entry(service.to_owned())
            .or_default()
            .insert(operation.to_owned(), id);
        id
    }

    fn context(&mut self, parent: u32, operation: u32) -> u32 {
        let next = self.contexts.len() as u32;
        *self
            .context_index
            .entry((parent, operation))
            .or_insert_with(|| {
                self.contexts.push((parent, operation));
                next
            })
    }

    fn operation_of(&self, context: u32) -> u32 {
        self.contexts[context as usize].1
    }

    fn path(&self, mut context: u32) -> Vec<String> {
        let mut path = Vec::new();
        while context != NO_CONTEXT {
            let (parent, operation) = self.contexts[context as usize];
            let (service, name) = &self.operations[operation as usize];
            path.push(format!("{service} {name}"));
            context = parent;
        }
        path.reverse();
        path
    }
}

impl Aggregator {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            window: (0, u64::MAX),
            names: Names::default(),
            traces: Vec::new(),
            other_roots: HashMap::default(),
        }
    }

    /// Only the traces whose root starts from `start_us` to `end_us` (Unix
    /// µs, both included).
    pub fn between(mut self, start_us: Option<u64>, end_us: Option<u64>) -> Self {
        self.window = (start_us.unwrap_or(0), end_us.unwrap_or(u64::MAX));
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Traces added so far.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// Adds a trace in Jaeger's shape; false (and nothing added) when its
    /// root is not the endpoint.
    pub fn add_jaeger(&mut self, trace: &Trace) -> bool {
        let timings = crate::critical_path::timings(&trace.spans);
        let ids = |span: usize| {
            let span = &trace.spans[span];
            (trace.service_of(span), span.operation_name.as_str())
        };
        self.add_timings(&trace.trace_id, &timings, ids)
    }

    /// Adds a trace as the collector stores it; false (and nothing added)
    /// when its root is not the endpoint.
    pub fn add_spans(&mut self, spans: &[Span]) -> bool {
        let Some(first) = spans.first() else {
            return false;
        };
        let index: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        // As `jaeger::trace` shapes them: the parent is a `CHILD_OF`
        // reference, except a consumer's producer, which it follows from.
        let timings: Vec<Timing> = spans
            .iter()
            .map(|span| {
                let parent = span
                    .parent_span_id
                    .as_deref()
                    .and_then(|id| index.get(id).copied());
                let follows = parent.is_some_and(|p| {
                    span.kind == Kind::Consumer && spans[p].kind == Kind::Producer
                });
                Timing {
                    parent,
                    child_of: parent.is_some() && !follows,
                    blocks_parent: parent.is_some() && !follows,
                    start: span.start_us,
                    end: span.end_us(),
                }
            })
            .collect();
        let names = |span: usize| (spans[span].service.as_str(), spans[span].name.as_str());
        self.add_timings(&first.trace_id, &timings, names)
    }

    /// Adds a trace given as [`Timing`]s and each span's service and
    /// operation; false (and nothing added) when its root is not the
    /// endpoint.
    pub(crate) fn add_timings<'a>(
        &mut self,
        trace_id: &str,
        timings: &[Timing],
        name_of: impl Fn(usize) -> (&'a str, &'a str),
    ) -> bool {
        let Some(root) = root(timings) else {
            return false;
        };
        let (service, operation) = name_of(root);
        if service != self.endpoint.service || operation != self.endpoint.operation {
            *self
                .other_roots
                .entry(format!("{service} {operation}"))
                .or_default() += 1;
            return false;
        }
        let (from, to) = self.window;
        if !(from..=to).contains(&timings[root].start) {
            return false;
        }
        let mut context_of = vec![NO_CONTEXT; timings.len()];
        let mut by_context: Vec<(u32, u64)> = Vec::new();
        for (span, start, end) in sections(timings) {
            let context = self.context_of(span, timings, &name_of, &mut context_of);
            match by_context.iter_mut().find(|(c, _)| *c == context) {
                Some((_, time)) => *time += end - start,
                None => by_context.push((context, end - start)),
            }
        }
        self.traces.push(Attributed {
            trace_id: trace_id.to_owned(),
            duration_us: timings[root].end - timings[root].start,
            by_context,
        });
        true
    }

    /// The calling context of `span`, interned, remembering every context
    /// found on the way up so that each span's chain is walked once.
    fn context_of<'a>(
        &mut self,
        span: usize,
        timings: &[Timing],
        name_of: &impl Fn(usize) -> (&'a str, &'a str),
        known: &mut [u32],
    ) -> u32 {
        let mut chain = Vec::new();
        let mut at = Some(span);
        // Up to the root, or to a span whose context is known. A span on
        // the path reaches the root through its parents (the walk came down
        // that way); the bound guards against a cycle in a malformed trace.
        while let Some(current) = at.filter(|&s| known[s] == NO_CONTEXT) {
            chain.push(current);
            if chain.len() > timings.len() {
                break;
            }
            at = timings[current].parent;
        }
        let mut context = at.map_or(NO_CONTEXT, |s| known[s]);
        for &current in chain.iter().rev() {
            let (service, name) = name_of(current);
            let operation = self.names.operation(service, name);
            context = self.names.context(context, operation);
            known[current] = context;
        }
        context
    }

    /// The roots of the traces of other endpoints seen, most traces first.
    pub fn other_roots(&self) -> Vec<(String, usize)> {
        let mut roots: Vec<(String, usize)> = self
            .other_roots
            .iter()
            .map(|(name, n)| (name.clone(), *n))
            .collect();
        roots.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        roots
    }

    /// Takes in what `other` (of the same endpoint) has added: so that
    /// several threads can each read a share of the traces.
    pub fn merge(&mut self, other: Aggregator) {
        // Contexts are interned parents first, so each one's parent is
        // already mapped when it comes.
        let mut mapped = Vec::with_capacity(other.names.contexts.len());
        for &(parent, operation) in &other.names.contexts {
            let (service, name) = &other.names.operations[operation as usize];
            let operation = self.names.operation(service, name);
            let parent = match parent {
                NO_CONTEXT => NO_CONTEXT,
                parent => mapped[parent as usize],
            };
            mapped.push(self.names.context(parent, operation));
        }
        self.traces
            .extend(other.traces.into_iter().map(|mut trace| {
                for (context, _) in &mut trace.by_context {
                    *context = mapped[*context as usize];
                }
                trace
            }));
        for (root, n) in other.other_roots {
            *self.other_roots.entry(root).or_default() += n;
        }
    }

    pub fn finish(self) -> Analysis {
        let n = self.traces.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.traces[a], &self.traces[b]);
            (a.duration_us, &a.trace_id).cmp(&(b.duration_us, &b.trace_id))
        });
        let all = self.summarise(&order);
        let bands: Vec<Band> = band_ranges(n)
            .into_iter()
            .map(|(name, from, to, ranks)| {
                let traces = &order[ranks];
                let summary = self.summarise(traces);
                Band {
                    band: name.to_owned(),
                    from_percentile: from,
                    to_percentile: to,
                    traces: traces.len(),
                    min_duration_us: self.traces[traces[0]].duration_us,
                    max_duration_us: self.traces[traces[traces.len() - 1]].duration_us,
                    mean_duration_us: summary.mean_duration_us,
                    operations: summary.operations,
                    contexts: summary.contexts,
                }
            })
            .collect();
        let tail = tail(&bands);
        Analysis {
            traces: n,
            mean_duration_us: all.mean_duration_us,
            operations: all.operations,
            contexts: all.contexts,
            bands,
            tail,
        }
    }

    /// Totals and means over the traces at `indices`.
    fn summarise(&self, indices: &[usize]) -> Summary {
        let count = indices.len().max(1) as f64;
        let mut by_context = vec![0u64; self.names.contexts.len()];
        let mut duration = 0u64;
        for &i in indices {
            duration += self.traces[i].duration_us;
            for &(context, time) in &self.traces[i].by_context {
                by_context[context as usize] += time;
            }
        }
        let mut by_operation = vec![0u64; self.names.operations.len()];
        for (context, &total) in by_context.iter().enumerate() {
            by_operation[self.names.operation_of(context as u32) as usize] += total;
        }
        let mut operations: Vec<OperationTime> = by_operation
            .iter()
            .enumerate()
            .filter(|(_, total)| **total > 0)
            .map(|(op, &total)| {
                let (service, operation) = &self.names.operations[op];
                OperationTime {
                    service: service.clone(),
                    operation: operation.clone(),
                    mean_critical_path_us: total as f64 / count,
                    total_critical_path_us: total,
                }
            })
            .collect();
        operations.sort_by(|a, b| {
            b.total_critical_path_us
                .cmp(&a.total_critical_path_us)
                .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
        });
        let mut contexts: Vec<ContextTime> = by_context
            .iter()
            .enumerate()
            .filter(|(_, total)| **total > 0)
            .map(|(context, &total)| ContextTime {
                path: self.names.path(context as u32),
                mean_critical_path_us: total as f64 / count,
                total_critical_path_us: total,
            })
            .collect();
        contexts.sort_by(|a, b| {
            b.total_critical_path_us
                .cmp(&a.total_critical_path_us)
                .then_with(|| a.path.cmp(&b.path))
        });
        Summary {
            mean_duration_us: duration as f64 / count,
            operations,
            contexts,
        }
    }
}

struct Summary {
    mean_duration_us: f64,
    operations: Vec<OperationTime>,
    contexts: Vec<ContextTime>,
}

/// Each band's name, percentiles, and ranks among `n` sorted traces.
fn band_ranges(n: usize) -> Vec<(&'static str, u32, u32, std::ops::Range<usize>)> {
    if n == 0 {
        return Vec::new();
    }
    let start = |percentile: u32| (percentile as usize * n / 100).min(n - 1);
    BANDS
        .iter()
        .enumerate()
        .map(|(i, &(name, from))| {
            let to = BANDS.get(i + 1).map_or(100, |&(_, next)| next);
            let first = start(from);
            let end = if to == 100 { n } else { to as usize * n / 100 };
            (name, from, to, first..end.max(first + 1))
        })
        .collect()
}

/// Per operation, its p99 band mean minus its p50 band mean.
fn tail(bands: &[Band]) -> Vec<TailGrowth> {
    let (Some(p50), Some(p99)) = (
        bands.iter().find(|b| b.band == "p50"),
        bands.iter().find(|b| b.band == "p99"),
    ) else {
        return Vec::new();
    };
    let mut growth: Vec<TailGrowth> = side_by_side(&p50.operations, &p99.operations)
        .into_iter()
        .map(
            |(service, operation, p50_mean_us, p99_mean_us)| TailGrowth {
                service: service.to_owned(),
                operation: operation.to_owned(),
                p50_mean_us,
                p99_mean_us,
                growth_us: p99_mean_us - p50_mean_us,
                share_of_p99: p99_mean_us / p99.mean_duration_us.max(1.0),
            },
        )
        .collect();
    growth.sort_by(|a, b| b.growth_us.total_cmp(&a.growth_us));
    growth
}

/// Every operation of either list, by name, with its mean in each (zero
/// where it is absent): `(service, operation, first, second)`.
fn side_by_side<'a>(
    first: &'a [OperationTime],
    second: &'a [OperationTime],
) -> Vec<(&'a str, &'a str, f64, f64)> {
    let mean = |list: &[OperationTime], service: &str, operation: &str| {
        list.iter()
            .find(|o| o.service == service && o.operation == operation)
            .map_or(0.0, |o| o.mean_critical_path_us)
    };
    let mut names: Vec<(&str, &str)> = first
        .iter()
        .chain(second)
        .map(|o| (o.service.as_str(), o.operation.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|(service, operation)| {
            let (a, b) = (
                mean(first, service, operation),
                mean(second, service, operation),
            );
            (service, operation, a, b)
        })
        .collect()
}

/// Two analyses of one endpoint (two time windows, or the demo with and
/// without its fixes), side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub before_traces: usize,
    pub after_traces: usize,
    pub before_mean_duration_us: f64,
    pub after_mean_duration_us: f64,
    /// Means over all traces, the largest change (either way) first.
    pub operations: Vec<Change>,
    /// Means in the p99 band, the largest change first.
    pub p99: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub service: String,
    pub operation: String,
    pub before_mean_us: f64,
    pub after_mean_us: f64,
    /// `after_mean_us - before_mean_us`: negative when it got faster.
    pub change_us: f64,
}

pub fn compare(before: &Analysis, after: &Analysis) -> Comparison {
    let p99 = |a: &Analysis| {
        a.bands
            .iter()
            .find(|b| b.band == "p99")
            .map(|b| b.operations.clone())
            .unwrap_or_default()
    };
    Comparison {
        before_traces: before.traces,
        after_traces: after.traces,
        before_mean_duration_us: before.mean_duration_us,
        after_mean_duration_us: after.mean_duration_us,
        operations: changes(&before.operations, &after.operations),
        p99: changes(&p99(before), &p99(after)),
    }
}

fn changes(before: &[OperationTime], after: &[OperationTime]) -> Vec<Change> {
    let mut changes: Vec<Change> = side_by_side(before, after)
        .into_iter()
        .map(
            |(service, operation, before_mean_us, after_mean_us)| Change {
                service: service.to_owned(),
                operation: operation.to_owned(),
                before_mean_us,
                after_mean_us,
                change_us: after_mean_us - before_mean_us,
            },
        )
        .collect();
    changes.sort_by(|a, b| b.change_us.abs().total_cmp(&a.change_us.abs()));
    changes
}

impl Analysis {
    /// A band by name (`p50`, `p90`, `p95`, `p99`).
    pub fn band(&self, name: &str) -> Option<&Band> {
        self.bands.iter().find(|b| b.band == name)
    }

    /// The calling contexts as folded stacks (`frame;frame;frame value`),
    /// the input of every flame graph tool: each context's mean exclusive
    /// critical-path time, rounded to whole microseconds. Over all traces,
    /// or over one band's.
    pub fn folded(&self, band: Option<&str>) -> Vec<String> {
        let contexts = match band {
            None => &self.contexts,
            Some(name) => match self.band(name) {
                Some(band) => &band.contexts,
                None => return Vec::new(),
            },
        };
        contexts
            .iter()
            .map(|c| (c, c.mean_critical_path_us.round() as u64))
            .filter(|(_, mean)| *mean > 0)
            .map(|(c, mean)| {
                // `;` separates frames in the folded format.
                let frames: Vec<String> = c.path.iter().map(|f| f.replace(';', "_")).collect();
                format!("{} {mean}", frames.join(";"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::jaeger::{JaegerSpan, Process, RefType, Reference};

    /// A span of `service` named `op`, child of `parent`, from `start` to `end`.
    fn span(
        id: &str,
        parent: Option<&str>,
        service: &str,
        op: &str,
        start: u64,
        end: u64,
    ) -> JaegerSpan {
        JaegerSpan {
            trace_id: "t".to_owned(),
            span_id: id.to_owned(),
            operation_name: op.to_owned(),
            references: parent
                .map(|p| Reference {
                    ref_type: RefType::ChildOf,
                    trace_id: "t".to_owned(),
                    span_id: p.to_owned(),
                })
                .into_iter()
                .collect(),
            start_time: start,
            duration: end - start,
            process_id: service.to_owned(),
            tags: Vec::new(),
            logs: Vec::new(),
            flags: 1,
            warnings: None,
        }
    }

    fn trace(id: &str, spans: Vec<JaegerSpan>) -> Trace {
        let processes: BTreeMap<String, Process> = spans
            .iter()
            .map(|s| {
                (
                    s.process_id.clone(),
                    Process {
                        service_name: s.process_id.clone(),
                        tags: Vec::new(),
                    },
                )
            })
            .collect();
        Trace {
            trace_id: id.to_owned(),
            spans,
            processes,
            warnings: None,
        }
    }

    fn orders() -> Endpoint {
        Endpoint {
            service: "gw".to_owned(),
            operation: "POST /orders".to_owned(),
        }
    }

    /// An order that waits `db` µs on the database, then `price` µs on
    /// pricing, in a request of 10 + db + price + 10 µs.
    fn order(id: &str, db: u64, price: u64) -> Trace {
        let end = 10 + db + price + 10;
        trace(
            id,
            vec![
                span("r", None, "gw", "POST /orders", 0, end),
                span("d", Some("r"), "inv", "SELECT", 10, 10 + db),
                span("p", Some("r"), "pricing", "quote", 10 + db, 10 + db + price),
            ],
        )
    }

    fn analyse(traces: &[Trace]) -> Analysis {
        let mut aggregator = Aggregator::new(orders());
        for t in traces {
            aggregator.add_jaeger(t);
        }
        aggregator.finish()
    }

    fn mean(list: &[OperationTime], service: &str) -> f64 {
        list.iter()
            .find(|o| o.service == service)
            .map_or(0.0, |o| o.mean_critical_path_us)
    }

    #[test]
    fn exclusive_time_is_keyed_by_operation_and_calling_context() {
        let a = analyse(&[order("a", 30, 50), order("b", 10, 70)]);
        assert_eq!(a.traces, 2);
        assert_eq!(a.mean_duration_us, 100.0);
        assert_eq!(mean(&a.operations, "gw"), 20.0);
        assert_eq!(mean(&a.operations, "inv"), 20.0);
        assert_eq!(mean(&a.operations, "pricing"), 60.0);
        let quote = a
            .contexts
            .iter()
            .find(|c| c.path.last().unwrap() == "pricing quote")
            .unwrap();
        assert_eq!(quote.path, ["gw POST /orders", "pricing quote"]);
        assert_eq!(quote.total_critical_path_us, 120);
    }

    #[test]
    fn means_are_over_all_traces_and_add_up_to_the_mean_duration() {
        // The second trace never calls pricing: its zero counts.
        let mut no_pricing = order("b", 40, 1);
        no_pricing.spans.pop();
        no_pricing.spans[0].duration = 60;
        let a = analyse(&[order("a", 30, 50), no_pricing]);
        assert_eq!(mean(&a.operations, "pricing"), 25.0);
        let sum: f64 = a.operations.iter().map(|o| o.mean_critical_path_us).sum();
        assert!((sum - a.mean_duration_us).abs() < 1e-9);
    }

    #[test]
    fn the_same_operation_under_two_callers_is_two_contexts() {
        let t = trace(
            "a",
            vec![
                span("r", None, "gw", "POST /orders", 0, 100),
                span("c", Some("r"), "cat", "GET /talks", 0, 40),
                span("d1", Some("c"), "db", "SELECT", 10, 30),
                span("d2", Some("r"), "db", "SELECT", 50, 90),
            ],
        );
        let a = analyse(&[t]);
        assert_eq!(mean(&a.operations, "db"), 60.0);
        let paths: Vec<(Vec<String>, u64)> = a
            .contexts
            .iter()
            .map(|c| (c.path.clone(), c.total_critical_path_us))
            .collect();
        assert!(paths.contains(&(vec!["gw POST /orders".into(), "db SELECT".into()], 40)));
        assert!(paths.contains(&(
            vec![
                "gw POST /orders".into(),
                "cat GET /talks".into(),
                "db SELECT".into()
            ],
            20
        )));
    }

    #[test]
    fn traces_of_other_endpoints_are_left_out() {
        let mut other = order("x", 10, 10);
        other.spans[0].operation_name = "GET /talks".to_owned();
        let mut aggregator = Aggregator::new(orders());
        assert!(!aggregator.add_jaeger(&other));
        assert!(aggregator.add_jaeger(&order("a", 10, 10)));
        assert_eq!(aggregator.finish().traces, 1);
    }

    #[test]
    fn merged_aggregators_give_the_analysis_of_all_their_traces() {
        let traces = [order("a", 30, 50), order("b", 10, 70), order("c", 5, 5)];
        let mut first = Aggregator::new(orders());
        first.add_jaeger(&traces[0]);
        let mut second = Aggregator::new(orders());
        // Another endpoint first, so that the two number things differently.
        let mut other = order("x", 1, 1);
        other.spans[0].operation_name = "GET /talks".to_owned();
        second.add_jaeger(&other);
        let mut third = Aggregator::new(orders());
        third.add_jaeger(&traces[2]);
        third.add_jaeger(&traces[1]);
        second.merge(third);
        first.merge(second);
        assert_eq!(first.other_roots(), [("gw GET /talks".to_owned(), 1)]);
        assert_eq!(first.finish(), analyse(&traces));
    }

    #[test]
    fn a_window_keeps_the_traces_whose_root_starts_in_it() {
        let late = |id: &str, at: u64| {
            let mut t = order(id, 10, 10);
            for span in &mut t.spans {
                span.start_time += at;
            }
            t
        };
        let mut aggregator = Aggregator::new(orders()).between(Some(100), Some(200));
        assert!(!aggregator.add_jaeger(&late("early", 99)));
        assert!(aggregator.add_jaeger(&late("first", 100)));
        assert!(aggregator.add_jaeger(&late("last", 200)));
        assert!(!aggregator.add_jaeger(&late("late", 201)));
    }

    #[test]
    fn bands_hold_the_ranks_between_their_percentiles() {
        // 200 traces: 1 to 200 µs of database time. Ranks 100..180 are
        // p50, 180..190 p90, 190..198 p95, 198..200 p99.
        let traces: Vec<Trace> = (1..=200).map(|i| order(&format!("{i:04}"), i, 5)).collect();
        let a = analyse(&traces);
        let counts: Vec<(&str, usize, u64, u64)> = a
            .bands
            .iter()
            .map(|b| {
                (
                    b.band.as_str(),
                    b.traces,
                    b.min_duration_us,
                    b.max_duration_us,
                )
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("p50", 80, 126, 205),
                ("p90", 10, 206, 215),
                ("p95", 8, 216, 223),
                ("p99", 2, 224, 225)
            ]
        );
        let p99 = a.band("p99").unwrap();
        assert_eq!(mean(&p99.operations, "inv"), 199.5);
    }

    #[test]
    fn a_band_too_small_to_fill_holds_the_trace_at_its_start() {
        let traces: Vec<Trace> = (1..=10).map(|i| order(&format!("{i}"), i, 5)).collect();
        let a = analyse(&traces);
        let sizes: Vec<usize> = a.bands.iter().map(|b| b.traces).collect();
        assert_eq!(sizes, [4, 1, 1, 1]);
        assert_eq!(a.band("p99").unwrap().max_duration_us, 35);
    }

    #[test]
    fn the_tail_table_names_what_grows() {
        // Pricing is constant; the database is slow in the slowest trace.
        let mut traces: Vec<Trace> = (0..99).map(|i| order(&format!("{i:03}"), 10, 50)).collect();
        traces.push(order("slow", 500, 50));
        let a = analyse(&traces);
        let first = &a.tail[0];
        assert_eq!((first.service.as_str(), first.growth_us), ("inv", 490.0));
        assert!((first.share_of_p99 - 500.0 / 570.0).abs() < 1e-9);
        let pricing = a.tail.iter().find(|t| t.service == "pricing").unwrap();
        assert_eq!(pricing.growth_us, 0.0);
    }

    #[test]
    fn a_comparison_shows_what_changed() {
        let before = analyse(&[order("a", 100, 50)]);
        let after = analyse(&[order("b", 10, 50)]);
        let diff = compare(&before, &after);
        assert_eq!(diff.operations[0].service, "inv");
        assert_eq!(diff.operations[0].change_us, -90.0);
        assert_eq!(diff.p99[0].change_us, -90.0);
    }

    #[test]
    fn folded_stacks_carry_each_contexts_mean() {
        let a = analyse(&[order("a", 30, 50), order("b", 10, 70)]);
        let mut folded = a.folded(None);
        folded.sort();
        assert_eq!(
            folded,
            [
                "gw POST /orders 20",
                "gw POST /orders;inv SELECT 20",
                "gw POST /orders;pricing quote 60"
            ]
        );
    }

    #[test]
    fn stored_spans_and_jaegers_shape_give_the_same_analysis() {
        use crate::model::{Span, Status};
        let stored: Vec<Span> = order("a", 30, 50)
            .spans
            .iter()
            .map(|s| Span {
                trace_id: "a".to_owned(),
                span_id: s.span_id.clone(),
                parent_span_id: s.references.first().map(|r| r.span_id.clone()),
                service: s.process_id.clone(),
                name: s.operation_name.clone(),
                start_us: s.start_time,
                duration_us: s.duration,
                status: Status::Unset,
                ..Span::default()
            })
            .collect();
        let mut aggregator = Aggregator::new(orders());
        assert!(aggregator.add_spans(&stored));
        assert_eq!(aggregator.finish(), analyse(&[order("a", 30, 50)]));
    }
}
