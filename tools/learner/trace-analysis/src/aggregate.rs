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
//! 5. Beside each operation's mean, where its spans carry their own CPU
//!    time ([`crate::cpu_time`]), the mean CPU time of its spans per trace:
//!    in each trace the sum over all its spans (on the path or not), and
//!    the mean over the traces (of all, or of a band) whose spans carry it,
//!    a trace without the operation counting as zero, as for the time on
//!    the path. Much time on the path and little on a CPU is an operation
//!    that waits. Where none of its spans carries it, there is no figure,
//!    never zero.
//!
//! CRISP's bands differ: its "P50" flame graph is the mean over the fastest
//! half (p0–p50), its "P99" over the fastest 99 %, "P100" over all. Over
//! all traces (CRISP's `flame-graph-P100.cct`) the two agree; see this
//! crate's README for how they were compared.
//!
//! No trace makes an analysis slow or its answer large. Each trace costs
//! O(n log n) in its n spans, with no recursion (a chain of 100,000 spans,
//! each the child of the one before, is walked on a 2 MiB stack). A calling
//! context deeper than [`MAX_CONTEXT_DEPTH`] frames keeps its outermost and
//! innermost frames around [`ELIDED`]; a list past [`MAX_OPERATIONS`] or
//! [`MAX_CONTEXTS`] rows ends in a row that sums the rest; a name past
//! [`MAX_NAME_CHARS`] is cut. So an answer holds at most five lists (all
//! traces, four bands) of [`MAX_CONTEXTS`] paths of [`MAX_CONTEXT_DEPTH`]
//! frames, however many spans were read. Ordinary traces (the demo's are 7
//! frames deep, with 25 contexts) reach none of these bounds, and their
//! analysis is as it was.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::ops::Range;

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use crate::critical_path::{Timing, root, sections, timings};
use crate::jaeger::Trace;
use crate::model::Span;
use crate::span_view::SpanView;

/// The bands: each starts at its percentile and ends where the next one
/// starts; the last ends with the slowest trace.
pub const BANDS: [(&str, u32); 4] = [("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)];

/// Calling contexts deeper than this many frames are cut. A chain of n
/// spans, each the child of the one before, has n contexts of 1 to n
/// frames, n²/2 frames in all: 3,000 spans deep made an answer of 67 MB.
/// Requests are far shallower (the demo's deepest context has 7 frames),
/// and a flame graph is unreadable long before 64.
pub const MAX_CONTEXT_DEPTH: usize = 64;

/// Of a cut context, the innermost frames kept: the operation that owns the
/// time and its nearest callers. Few, because in a chain of spans with
/// distinct names every deep span's cut is a context of its own, interned
/// as a chain of this many entries: memory stays a small multiple of the
/// spans read.
pub const INNERMOST_FRAMES: usize = 8;

/// Of a cut context, the outermost frames kept: the endpoint and the calls
/// that led down to the deep part. With [`ELIDED`] and the innermost
/// frames, a cut context is [`MAX_CONTEXT_DEPTH`] frames.
pub const OUTERMOST_FRAMES: usize = MAX_CONTEXT_DEPTH - 1 - INNERMOST_FRAMES;

/// The frame that stands for the frames cut out of a deep calling context.
/// It carries no count, so that deep contexts which differ only in what was
/// cut out are one (as a recursion of any depth is one flame).
pub const ELIDED: &str = "[…]";

/// Calling contexts listed in an answer (over all traces, and in each
/// band): the largest, then one row ([`OTHER_CONTEXTS`]) that sums the
/// rest. Each context is up to [`MAX_CONTEXT_DEPTH`] frames, so this bounds
/// the answer; the demo has 25, and a flame graph of more than a hundred
/// shows the rest as slivers anyway.
pub const MAX_CONTEXTS: usize = 100;

/// Operations listed in an answer (over all traces, in each band, and in
/// the tail), the last row ([`OTHER_OPERATIONS`]) summing the rest: a trace
/// can hold as many distinct span names as spans. The demo has fewer than
/// 20; a table longer than a hundred rows is not read.
pub const MAX_OPERATIONS: usize = 100;

/// A service or operation name longer than this many characters is cut,
/// and ends in `…`. Names come from the traced programs and each is
/// repeated in every frame of a context, so one name of a megabyte would
/// make every answer hundreds of them; span names are meant to be short
/// (`GET /talks/{talk_id}`).
pub const MAX_NAME_CHARS: usize = 100;

/// The service and operation of the row that sums the operations past
/// [`MAX_OPERATIONS`]; the brackets set it apart from a real service. Its
/// `rows_summed` says how many it sums.
pub const OTHER_OPERATIONS: (&str, &str) = ("[other]", "operations");

/// The one frame of the row that sums the calling contexts past
/// [`MAX_CONTEXTS`].
pub const OTHER_CONTEXTS: &str = "[other] contexts";

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
    /// The operations on some critical path, largest mean first (at most
    /// [`MAX_OPERATIONS`] rows, the last one summing the rest).
    pub operations: Vec<OperationTime>,
    /// The calling contexts on some critical path, largest mean first (at
    /// most [`MAX_CONTEXTS`] rows, the last one summing the rest).
    pub contexts: Vec<ContextTime>,
    /// The traces at p50, p90, p95 and p99 (see the module's comment).
    pub bands: Vec<Band>,
    /// What grows in the tail: p99 band minus p50 band, largest first (at
    /// most [`MAX_OPERATIONS`] rows, the last one summing the rest).
    pub tail: Vec<TailGrowth>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationTime {
    pub service: String,
    pub operation: String,
    /// Over all the traces, zero where the operation is off the path.
    pub mean_critical_path_us: f64,
    pub total_critical_path_us: u64,
    /// The CPU time of the operation's spans per trace: in each trace, the
    /// sum of its spans' own CPU time; the mean over the traces in which
    /// they carry it. `None` where none does, and on the row of the rest,
    /// which sums operations of different traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_cpu_us: Option<f64>,
    /// Only on the row of the rest ([`OTHER_OPERATIONS`]): how many
    /// operations it sums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_summed: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextTime {
    /// `"service operation"` from the root down to this operation; when
    /// deeper than [`MAX_CONTEXT_DEPTH`], its outermost frames, [`ELIDED`],
    /// and its innermost frames.
    pub path: Vec<String>,
    pub mean_critical_path_us: f64,
    pub total_critical_path_us: u64,
    /// Only on the row of the rest ([`OTHER_CONTEXTS`]): how many contexts
    /// it sums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_summed: Option<usize>,
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
    /// The CPU time of the operation's spans per trace in the p50 band, as
    /// [`OperationTime::mean_cpu_us`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_mean_cpu_us: Option<f64>,
    /// The same in the p99 band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_mean_cpu_us: Option<f64>,
    /// Only on the row of the rest ([`OTHER_OPERATIONS`]): how many
    /// operations it sums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_summed: Option<usize>,
}

/// Adds traces one at a time, then [`finish`](Aggregator::finish)es into
/// an [`Analysis`]. Only the per-trace sums are kept, so thousands of
/// traces can be read and dropped as they come.
pub struct Aggregator {
    endpoint: Endpoint,
    /// Only traces whose root starts in this window.
    window: Window,
    names: Names,
    traces: Vec<Attributed>,
    /// The roots of the traces left out, as `service operation`, counted:
    /// what to suggest when none was the endpoint.
    other_roots: HashMap<String, usize>,
}

/// One trace's critical path, as exclusive time per calling context (as
/// shown: a deep one cut), and its spans' own CPU time per operation.
struct Attributed {
    trace_id: String,
    duration_us: u64,
    by_context: Vec<(u32, u64)>,
    /// Nanoseconds, summed over the operation's spans that carry their CPU
    /// time; an operation none of whose spans does is not listed.
    cpu_ns_by_operation: Vec<(u32, u64)>,
}

/// Service and operation names, each pair interned once as a number.
#[derive(Default)]
struct Operations {
    index: HashMap<String, HashMap<String, u32>>,
    names: Vec<(String, String)>,
}

impl Operations {
    fn id(&mut self, service: &str, operation: &str) -> u32 {
        if let Some(id) = self.find(service, operation) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push((service.to_owned(), operation.to_owned()));
        self.index
            .entry(service.to_owned())
            .or_default()
            .insert(operation.to_owned(), id);
        id
    }

    /// The number of an operation already interned.
    fn find(&self, service: &str, operation: &str) -> Option<u32> {
        self.index
            .get(service)
            .and_then(|operations| operations.get(operation))
            .copied()
    }

    fn name(&self, id: u32) -> (&str, &str) {
        let (service, operation) = &self.names[id as usize];
        (service, operation)
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// A name as an analysis shows it: cut after [`MAX_NAME_CHARS`] characters.
fn shortened(name: &str) -> Cow<'_, str> {
    let mut starts = name.char_indices().map(|(at, _)| at);
    match (starts.nth(MAX_NAME_CHARS - 1), starts.next()) {
        (Some(cut), Some(_)) => Cow::Owned(format!("{}…", &name[..cut])),
        _ => Cow::Borrowed(name),
    }
}

/// Operations and calling contexts, each interned once as a number.
#[derive(Default)]
struct Names {
    operations: Operations,
    /// A context is its parent context and its own operation.
    context_index: HashMap<(u32, u32), u32>,
    contexts: Vec<Context>,
}

#[derive(Clone, Copy)]
struct Context {
    parent: u32,
    operation: u32,
    /// Its frames, from the root down to it.
    depth: u32,
    /// Its ancestor of [`OUTERMOST_FRAMES`] frames (itself, when no
    /// deeper): what a cut keeps above [`ELIDED`], found without walking.
    outermost: u32,
    /// The context its time is shown under: itself, when at most
    /// [`MAX_CONTEXT_DEPTH`] deep; else its cut, once made ([`NO_CONTEXT`]
    /// until then).
    shown: u32,
}

/// The parent of a root context.
const NO_CONTEXT: u32 = u32::MAX;

/// The operation of the [`ELIDED`] frame: no interned operation has it.
const ELIDED_OPERATION: u32 = u32::MAX;

impl Names {
    /// The operation's number, its names cut to [`MAX_NAME_CHARS`] first.
    fn operation(&mut self, service: &str, operation: &str) -> u32 {
        self.operations
            .id(&shortened(service), &shortened(operation))
    }

    fn context(&mut self, parent: u32, operation: u32) -> u32 {
        if let Some(&id) = self.context_index.get(&(parent, operation)) {
            return id;
        }
        let id = self.contexts.len() as u32;
        let (depth, outermost) = match parent {
            NO_CONTEXT => (1, id),
            parent => {
                let parent = self.contexts[parent as usize];
                let depth = parent.depth + 1;
                let outermost = if depth as usize <= OUTERMOST_FRAMES {
                    id
                } else {
                    parent.outermost
                };
                (depth, outermost)
            }
        };
        self.contexts.push(Context {
            parent,
            operation,
            depth,
            outermost,
            shown: if depth as usize <= MAX_CONTEXT_DEPTH {
                id
            } else {
                NO_CONTEXT
            },
        });
        self.context_index.insert((parent, operation), id);
        id
    }

    /// The context that `context`'s time is shown under: itself, or, when
    /// deeper than [`MAX_CONTEXT_DEPTH`], its [`OUTERMOST_FRAMES`],
    /// [`ELIDED`] and its [`INNERMOST_FRAMES`]. Made once per context, in
    /// a number of steps bounded by those constants, whatever its depth.
    fn shown(&mut self, context: u32) -> u32 {
        let deep = self.contexts[context as usize];
        if deep.shown != NO_CONTEXT {
            return deep.shown;
        }
        // Deeper than OUTERMOST_FRAMES + 1 + INNERMOST_FRAMES, so these
        // frames lie below the outermost ones, with at least one between.
        let mut innermost = [ELIDED_OPERATION; INNERMOST_FRAMES];
        let mut at = context;
        for frame in innermost.iter_mut().rev() {
            let below = self.contexts[at as usize];
            *frame = below.operation;
            at = below.parent;
        }
        let mut shown = self.context(deep.outermost, ELIDED_OPERATION);
        for operation in innermost {
            shown = self.context(shown, operation);
        }
        self.contexts[context as usize].shown = shown;
        shown
    }

    fn operation_of(&self, context: u32) -> u32 {
        self.contexts[context as usize].operation
    }

    /// An operation as a frame of a path: `service operation`.
    fn frame(&self, operation: u32) -> String {
        match operation {
            ELIDED_OPERATION => ELIDED.to_owned(),
            operation => {
                let (service, name) = self.operations.name(operation);
                format!("{service} {name}")
            }
        }
    }

    /// The frames of a context shown in an answer (at most
    /// [`MAX_CONTEXT_DEPTH`] of them).
    fn path(&self, mut context: u32) -> Vec<String> {
        let mut path = Vec::new();
        while context != NO_CONTEXT {
            let Context {
                parent, operation, ..
            } = self.contexts[context as usize];
            path.push(self.frame(operation));
            context = parent;
        }
        path.reverse();
        path
    }

    /// Each context's place in the order of the paths (frame by frame, as
    /// text; a path before those it begins), found without writing a path
    /// out: the tree of contexts walked depth first, each context's
    /// children in the order of their frames. Comparing the paths
    /// themselves would cost each comparison the depth of the contexts.
    fn path_order(&self) -> Vec<u32> {
        let frames: Vec<String> = (0..self.operations.len() as u32)
            .map(|operation| self.frame(operation))
            .collect();
        let mut by_frame: Vec<u32> = (0..frames.len() as u32).collect();
        by_frame.sort_by(|&a, &b| frames[a as usize].cmp(&frames[b as usize]));
        // Odd keys for the operations, in the order of their frames; an
        // even one for ELIDED, among them by its text.
        let mut frame_key = vec![0u64; frames.len()];
        for (place, &operation) in by_frame.iter().enumerate() {
            frame_key[operation as usize] = 2 * place as u64 + 1;
        }
        let elided_key = 2 * by_frame
            .partition_point(|&operation| frames[operation as usize].as_str() < ELIDED)
            as u64;
        let key = |operation: u32| match operation {
            ELIDED_OPERATION => elided_key,
            operation => frame_key[operation as usize],
        };
        let contexts = &self.contexts;
        // Siblings together, in the order of their frames; the roots (whose
        // parent is NO_CONTEXT, the largest number) last.
        let mut siblings: Vec<u32> = (0..contexts.len() as u32).collect();
        siblings.sort_unstable_by_key(|&context| {
            let context = contexts[context as usize];
            (context.parent, key(context.operation))
        });
        // Each context's children, as the start and end of their run.
        let mut children = vec![(0, 0); contexts.len()];
        let mut roots = 0..0;
        let mut start = 0;
        while start < siblings.len() {
            let parent = contexts[siblings[start] as usize].parent;
            let end = start
                + siblings[start..]
                    .partition_point(|&context| contexts[context as usize].parent == parent);
            match parent {
                NO_CONTEXT => roots = start..end,
                parent => children[parent as usize] = (start, end),
            }
            start = end;
        }
        let mut place = vec![0u32; contexts.len()];
        let mut next = 0;
        // The runs of siblings still to visit, innermost last: a stack on
        // the heap, as deep as the contexts, instead of recursion.
        let mut pending = vec![roots];
        while let Some(run) = pending.last_mut() {
            let Some(at) = run.next() else {
                pending.pop();
                continue;
            };
            let context = siblings[at] as usize;
            place[context] = next;
            next += 1;
            let (first, end) = children[context];
            if first < end {
                pending.push(first..end);
            }
        }
        place
    }
}

/// The traces an analysis reads: those whose root starts from `from` to
/// `to` (Unix µs, both included).
#[derive(Clone, Copy)]
struct Window {
    from: u64,
    to: u64,
}

impl Window {
    /// From `start_us` (or the epoch) to `end_us` (or the end of time).
    fn new(start_us: Option<u64>, end_us: Option<u64>) -> Self {
        Self {
            from: start_us.unwrap_or(0),
            to: end_us.unwrap_or(u64::MAX),
        }
    }

    fn contains(self, start_us: u64) -> bool {
        (self.from..=self.to).contains(&start_us)
    }
}

impl Aggregator {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            window: Window::new(None, None),
            names: Names::default(),
            traces: Vec::new(),
            other_roots: HashMap::default(),
        }
    }

    /// Only the traces whose root starts from `start_us` to `end_us` (Unix
    /// µs, both included).
    pub fn between(mut self, start_us: Option<u64>, end_us: Option<u64>) -> Self {
        self.window = Window::new(start_us, end_us);
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
        self.add_views(&trace.trace_id, &trace.views())
    }

    /// Adds a trace as the collector stores it; false (and nothing added)
    /// when its root is not the endpoint.
    pub fn add_spans(&mut self, spans: &[Span]) -> bool {
        let Some(first) = spans.first() else {
            return false;
        };
        let views: Vec<SpanView<'_>> = spans.iter().map(Span::view).collect();
        self.add_views(&first.trace_id, &views)
    }

    /// Adds a trace given as [`SpanView`]s, whatever shape it came in;
    /// false (and nothing added) when its root is not the endpoint.
    pub(crate) fn add_views(&mut self, trace_id: &str, spans: &[SpanView<'_>]) -> bool {
        let names = |span: usize| (spans[span].service, spans[span].operation);
        let cpu_ns = spans
            .iter()
            .enumerate()
            .filter_map(|(span, view)| view.cpu_time_ns.map(|nanos| (span, nanos)));
        self.add_timings(trace_id, &timings(spans), names, cpu_ns)
    }

    /// Adds a trace given as [`Timing`]s, each span's service and
    /// operation, and the spans that carry their own CPU time (each as its
    /// index and nanoseconds); false (and nothing added) when its root is
    /// not the endpoint.
    fn add_timings<'a>(
        &mut self,
        trace_id: &str,
        timings: &[Timing],
        name_of: impl Fn(usize) -> (&'a str, &'a str),
        cpu_ns: impl IntoIterator<Item = (usize, u64)>,
    ) -> bool {
        let Some(root) = root(timings) else {
            return false;
        };
        let (service, operation) = name_of(root);
        if service != self.endpoint.service || operation != self.endpoint.operation {
            *self
                .other_roots
                .entry(format!("{} {}", shortened(service), shortened(operation)))
                .or_default() += 1;
            return false;
        }
        if !self.window.contains(timings[root].start) {
            return false;
        }
        let mut context_of = vec![NO_CONTEXT; timings.len()];
        let mut by_context: Vec<(u32, u64)> = Vec::new();
        // Where each context's time is in `by_context`: a path can hold as
        // many contexts as the trace has spans, and searching the list for
        // each section made a deep trace quadratic.
        let mut slot_of: HashMap<u32, usize> = HashMap::default();
        for (span, start, end) in sections(timings) {
            let context = self.context_of(span, timings, &name_of, &mut context_of);
            let shown = self.names.shown(context);
            match slot_of.entry(shown) {
                Entry::Occupied(slot) => by_context[*slot.get()].1 += end - start,
                Entry::Vacant(slot) => {
                    slot.insert(by_context.len());
                    by_context.push((shown, end - start));
                }
            }
        }
        let cpu_ns_by_operation = self.cpu_ns_by_operation(cpu_ns, &name_of);
        self.traces.push(Attributed {
            trace_id: trace_id.to_owned(),
            duration_us: timings[root].end - timings[root].start,
            by_context,
            cpu_ns_by_operation,
        });
        true
    }

    /// The CPU time of one trace's spans, summed per operation: one list
    /// for the trace, sorted and summed in place, so a span costs no
    /// allocation and a trace of many operations no quadratic search.
    fn cpu_ns_by_operation<'a>(
        &mut self,
        cpu_ns: impl IntoIterator<Item = (usize, u64)>,
        name_of: &impl Fn(usize) -> (&'a str, &'a str),
    ) -> Vec<(u32, u64)> {
        let mut by_operation: Vec<(u32, u64)> = cpu_ns
            .into_iter()
            .map(|(span, nanos)| {
                let (service, name) = name_of(span);
                (self.names.operation(service, name), nanos)
            })
            .collect();
        by_operation.sort_unstable_by_key(|&(operation, _)| operation);
        by_operation.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                // An attribute of absurd size saturates rather than wraps.
                kept.1 = kept.1.saturating_add(later.1);
            }
            same
        });
        by_operation
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

    /// Each trace's end-to-end duration, in the order of
    /// [`critical_path_us_of`](Self::critical_path_us_of)'s answer.
    pub(crate) fn durations_us(&self) -> Vec<u64> {
        self.traces.iter().map(|trace| trace.duration_us).collect()
    }

    /// The exclusive critical-path time `service`'s `operation` owns in
    /// each trace, summed over its calling contexts: zero where it is off
    /// the path or absent. In the order of
    /// [`durations_us`](Self::durations_us)'s answer.
    pub(crate) fn critical_path_us_of(&self, service: &str, operation: &str) -> Vec<u64> {
        // Names are interned cut to MAX_NAME_CHARS, so looked up cut too.
        let found = self
            .names
            .operations
            .find(&shortened(service), &shortened(operation));
        self.traces
            .iter()
            .map(|trace| match found {
                None => 0,
                Some(id) => trace
                    .by_context
                    .iter()
                    .filter(|&&(context, _)| self.names.operation_of(context) == id)
                    .map(|&(_, time)| time)
                    .sum(),
            })
            .collect()
    }

    /// Takes in what `other` (of the same endpoint) has added: so that
    /// several threads can each read a share of the traces.
    pub fn merge(&mut self, other: Aggregator) {
        // Contexts are interned parents first (a cut one after the context
        // it keeps the outermost frames of), so each one's parent is
        // already mapped when it comes.
        let mut mapped = Vec::with_capacity(other.names.contexts.len());
        for context in &other.names.contexts {
            let operation = match context.operation {
                ELIDED_OPERATION => ELIDED_OPERATION,
                operation => {
                    let (service, name) = other.names.operations.name(operation);
                    self.names.operation(service, name)
                }
            };
            let parent = match context.parent {
                NO_CONTEXT => NO_CONTEXT,
                parent => mapped[parent as usize],
            };
            mapped.push(self.names.context(parent, operation));
        }
        // An operation can have CPU time in a trace without being on its
        // path, so without a context: each one is mapped by its names.
        let operations: Vec<u32> = (0..other.names.operations.len() as u32)
            .map(|operation| {
                let (service, name) = other.names.operations.name(operation);
                self.names.operation(service, name)
            })
            .collect();
        self.traces
            .extend(other.traces.into_iter().map(|mut trace| {
                for (context, _) in &mut trace.by_context {
                    *context = mapped[*context as usize];
                }
                for (operation, _) in &mut trace.cpu_ns_by_operation {
                    *operation = operations[*operation as usize];
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
        let path_order = self.names.path_order();
        let all = self.totals(&order);
        let mut p50 = None;
        let mut p99 = None;
        let bands: Vec<Band> = band_ranges(n)
            .into_iter()
            .map(|(name, from, to, ranks)| {
                let traces = &order[ranks];
                let totals = self.totals(traces);
                let band = Band {
                    band: name.to_owned(),
                    from_percentile: from,
                    to_percentile: to,
                    traces: traces.len(),
                    min_duration_us: self.traces[traces[0]].duration_us,
                    max_duration_us: self.traces[traces[traces.len() - 1]].duration_us,
                    mean_duration_us: totals.mean(totals.duration_us),
                    operations: self.operation_rows(&totals),
                    contexts: self.context_rows(&totals, &path_order),
                };
                match name {
                    "p50" => p50 = Some(totals),
                    "p99" => p99 = Some(totals),
                    _ => {}
                }
                band
            })
            .collect();
        let tail = match (p50, p99) {
            (Some(p50), Some(p99)) => self.tail_rows(&p50, &p99),
            _ => Vec::new(),
        };
        Analysis {
            traces: n,
            mean_duration_us: all.mean(all.duration_us),
            operations: self.operation_rows(&all),
            contexts: self.context_rows(&all, &path_order),
            bands,
            tail,
        }
    }

    /// Totals over the traces at `indices`, per context and per operation.
    fn totals(&self, indices: &[usize]) -> Totals {
        let mut by_context = vec![0u64; self.names.contexts.len()];
        let mut duration_us = 0u64;
        let mut cpu_ns_by_operation = vec![0u64; self.names.operations.len()];
        let mut cpu_traces_by_operation = vec![0usize; self.names.operations.len()];
        let mut cpu_traces = 0;
        for &i in indices {
            duration_us += self.traces[i].duration_us;
            if !self.traces[i].cpu_ns_by_operation.is_empty() {
                cpu_traces += 1;
            }
            for &(context, time) in &self.traces[i].by_context {
                by_context[context as usize] += time;
            }
            for &(operation, nanos) in &self.traces[i].cpu_ns_by_operation {
                let at = operation as usize;
                cpu_ns_by_operation[at] = cpu_ns_by_operation[at].saturating_add(nanos);
                cpu_traces_by_operation[at] += 1;
            }
        }
        let mut by_operation = vec![0u64; self.names.operations.len()];
        for (context, &total) in by_context.iter().enumerate() {
            // The contexts that only lead to a cut one own no time (nor
            // does its ELIDED frame, which is no operation).
            if total > 0 {
                by_operation[self.names.operation_of(context as u32) as usize] += total;
            }
        }
        Totals {
            traces: indices.len(),
            duration_us,
            by_context,
            by_operation,
            cpu_ns_by_operation,
            cpu_traces_by_operation,
            cpu_traces,
        }
    }

    /// The operations with time, largest first, at most [`MAX_OPERATIONS`]
    /// rows.
    fn operation_rows(&self, totals: &Totals) -> Vec<OperationTime> {
        let names = &self.names.operations;
        let mut operations: Vec<u32> = (0..names.len() as u32)
            .filter(|&op| totals.by_operation[op as usize] > 0)
            .collect();
        operations.sort_unstable_by(|&a, &b| {
            totals.by_operation[b as usize]
                .cmp(&totals.by_operation[a as usize])
                .then_with(|| names.name(a).cmp(&names.name(b)))
        });
        let (kept, rest) = capped(&operations, MAX_OPERATIONS);
        let row = |(service, operation): (&str, &str), total: u64, mean_cpu_us, rows_summed| {
            OperationTime {
                service: service.to_owned(),
                operation: operation.to_owned(),
                mean_critical_path_us: totals.mean(total),
                total_critical_path_us: total,
                mean_cpu_us,
                rows_summed,
            }
        };
        let mut rows: Vec<OperationTime> = kept
            .iter()
            .map(|&op| {
                let total = totals.by_operation[op as usize];
                row(names.name(op), total, totals.mean_cpu_us(op), None)
            })
            .collect();
        if !rest.is_empty() {
            let total = rest
                .iter()
                .map(|&op| totals.by_operation[op as usize])
                .sum();
            rows.push(row(OTHER_OPERATIONS, total, None, Some(rest.len())));
        }
        rows
    }

    /// The contexts with time, largest first, then in the order of their
    /// paths; at most [`MAX_CONTEXTS`] rows.
    fn context_rows(&self, totals: &Totals, path_order: &[u32]) -> Vec<ContextTime> {
        let mut contexts: Vec<u32> = (0..totals.by_context.len() as u32)
            .filter(|&context| totals.by_context[context as usize] > 0)
            .collect();
        contexts.sort_unstable_by_key(|&context| {
            (
                Reverse(totals.by_context[context as usize]),
                path_order[context as usize],
            )
        });
        let (kept, rest) = capped(&contexts, MAX_CONTEXTS);
        let mut rows: Vec<ContextTime> = kept
            .iter()
            .map(|&context| {
                let total = totals.by_context[context as usize];
                ContextTime {
                    path: self.names.path(context),
                    mean_critical_path_us: totals.mean(total),
                    total_critical_path_us: total,
                    rows_summed: None,
                }
            })
            .collect();
        if !rest.is_empty() {
            let total = rest
                .iter()
                .map(|&context| totals.by_context[context as usize])
                .sum();
            rows.push(ContextTime {
                path: vec![OTHER_CONTEXTS.to_owned()],
                mean_critical_path_us: totals.mean(total),
                total_critical_path_us: total,
                rows_summed: Some(rest.len()),
            });
        }
        rows
    }

    /// Per operation in either band, its p99 band mean minus its p50 band
    /// mean, largest first; at most [`MAX_OPERATIONS`] rows. From every
    /// operation's totals, not from the bands' capped lists, so that an
    /// operation summed into one band's rest still compares with itself.
    fn tail_rows(&self, p50: &Totals, p99: &Totals) -> Vec<TailGrowth> {
        let names = &self.names.operations;
        let total = |totals: &Totals, op: u32| totals.by_operation[op as usize];
        let growth = |op: u32| p99.mean(total(p99, op)) - p50.mean(total(p50, op));
        let mut operations: Vec<u32> = (0..names.len() as u32)
            .filter(|&op| total(p50, op) > 0 || total(p99, op) > 0)
            .collect();
        operations.sort_by(|&a, &b| {
            growth(b)
                .total_cmp(&growth(a))
                .then_with(|| names.name(a).cmp(&names.name(b)))
        });
        let p99_duration = p99.mean(p99.duration_us).max(1.0);
        // The row of the rest has no CPU time: it sums operations of
        // different traces.
        let row = |(service, operation): (&str, &str), p50_total, p99_total, op: Option<u32>| {
            let (p50_mean_us, p99_mean_us) = (p50.mean(p50_total), p99.mean(p99_total));
            TailGrowth {
                service: service.to_owned(),
                operation: operation.to_owned(),
                p50_mean_us,
                p99_mean_us,
                growth_us: p99_mean_us - p50_mean_us,
                share_of_p99: p99_mean_us / p99_duration,
                p50_mean_cpu_us: op.and_then(|op| p50.mean_cpu_us(op)),
                p99_mean_cpu_us: op.and_then(|op| p99.mean_cpu_us(op)),
                rows_summed: None,
            }
        };
        let (kept, rest) = capped(&operations, MAX_OPERATIONS);
        let mut rows: Vec<TailGrowth> = kept
            .iter()
            .map(|&op| row(names.name(op), total(p50, op), total(p99, op), Some(op)))
            .collect();
        if !rest.is_empty() {
            let sum = |totals: &Totals| -> u64 { rest.iter().map(|&op| total(totals, op)).sum() };
            rows.push(TailGrowth {
                rows_summed: Some(rest.len()),
                ..row(OTHER_OPERATIONS, sum(p50), sum(p99), None)
            });
        }
        rows
    }
}

/// Sums over some traces, by context and by operation number.
struct Totals {
    traces: usize,
    duration_us: u64,
    by_context: Vec<u64>,
    by_operation: Vec<u64>,
    /// The CPU time of each operation's spans, in nanoseconds, and the
    /// traces in which its spans carry it.
    cpu_ns_by_operation: Vec<u64>,
    cpu_traces_by_operation: Vec<usize>,
    /// The traces in which any span carries its CPU time.
    cpu_traces: usize,
}

impl Totals {
    /// A total's mean over these traces.
    fn mean(&self, total: u64) -> f64 {
        total as f64 / self.traces.max(1) as f64
    }

    /// The CPU time of the operation's spans per trace, in microseconds,
    /// over the traces that measure CPU time (a trace without the
    /// operation counts as zero, as it does for its time on the path);
    /// `None` when none of its spans carries it.
    fn mean_cpu_us(&self, operation: u32) -> Option<f64> {
        let at = operation as usize;
        if self.cpu_traces_by_operation[at] == 0 {
            return None;
        }
        Some(self.cpu_ns_by_operation[at] as f64 / self.cpu_traces.max(1) as f64 / 1e3)
    }
}

/// A list sorted largest first, cut to at most `cap` rows: all of it when
/// it fits; else the first `cap - 1` rows, and the rest, to be summed into
/// the last row.
fn capped<T>(rows: &[T], cap: usize) -> (&[T], &[T]) {
    if rows.len() <= cap {
        (rows, &[])
    } else {
        rows.split_at(cap - 1)
    }
}

/// Traces of one endpoint copied out of the store, each as only what an
/// analysis reads (its spans' parents, times and operations, and the CPU
/// time of those that carry one): compact, so that thousands of traces fit
/// beside the store.
pub struct Copied {
    endpoint: Endpoint,
    /// As [`Aggregator::between`]'s.
    window: Window,
    /// Names as stored (not cut: the root is compared with the endpoint).
    operations: Operations,
    traces: Vec<CopiedTrace>,
}

struct CopiedTrace {
    trace_id: String,
    timings: Vec<Timing>,
    /// Each span's service and operation, as a number of `operations`.
    operations: Vec<u32>,
    /// The spans that carry their own CPU time: each one's index and
    /// nanoseconds (none, where no span carries it).
    cpu_ns: Vec<(usize, u64)>,
}

impl Copied {
    /// Copies to come of `endpoint`'s traces whose root starts from
    /// `start_us` to `end_us` (Unix µs, both included).
    pub fn new(endpoint: Endpoint, start_us: Option<u64>, end_us: Option<u64>) -> Self {
        Self {
            endpoint,
            window: Window::new(start_us, end_us),
            operations: Operations::default(),
            traces: Vec::new(),
        }
    }

    /// Copies a stored trace whose root is the endpoint's and starts in the
    /// window; false (and nothing copied) for any other. Linear in the
    /// trace's spans, with no allocation per span but a name's first.
    pub fn add(&mut self, spans: &[Span]) -> bool {
        let window = self.window;
        let (service, operation) = (
            self.endpoint.service.as_str(),
            self.endpoint.operation.as_str(),
        );
        // The root is one of the endpoint's spans in the window: most
        // traces of other endpoints are passed over without hashing an id.
        let candidate = spans.iter().any(|span| {
            span.service == service && span.name == operation && window.contains(span.start_us)
        });
        if !candidate {
            return false;
        }
        let views: Vec<SpanView<'_>> = spans.iter().map(Span::view).collect();
        let timings = timings(&views);
        let Some(root) = root(&timings).map(|root| &spans[root]) else {
            return false;
        };
        if root.service != service || root.name != operation || !window.contains(root.start_us) {
            return false;
        }
        let operations = spans
            .iter()
            .map(|span| self.operations.id(&span.service, &span.name))
            .collect();
        let cpu_ns = views
            .iter()
            .enumerate()
            .filter_map(|(span, view)| view.cpu_time_ns.map(|nanos| (span, nanos)))
            .collect();
        self.traces.push(CopiedTrace {
            trace_id: root.trace_id.clone(),
            timings,
            operations,
            cpu_ns,
        });
        true
    }

    /// Traces copied.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// The ids of the traces copied that a band holds (`p50`, `p90`, `p95`,
    /// `p99`), ranked as [`Copied::analyse`] ranks them (by the root's
    /// duration, ties by trace id): the traces its [`Band`] sums. `None`
    /// for a name that is no band. So a view of something else than the
    /// critical path (CPU samples, say) reads the very traces of a band.
    pub fn trace_ids_in_band(&self, band: &str) -> Option<Vec<&str>> {
        if !BANDS.iter().any(|&(name, _)| name == band) {
            return None;
        }
        let mut ranked: Vec<(u64, &str)> = self
            .traces
            .iter()
            .filter_map(|trace| {
                let root = root(&trace.timings)?;
                let timing = trace.timings[root];
                Some((timing.end - timing.start, trace.trace_id.as_str()))
            })
            .collect();
        ranked.sort_unstable();
        let ranks = band_ranges(ranked.len())
            .into_iter()
            .find(|&(name, ..)| name == band)
            .map_or(0..0, |(_, _, _, ranks)| ranks);
        Some(ranked[ranks].iter().map(|&(_, id)| id).collect())
    }

    /// The analysis of the traces copied; `None` as soon as `in_time` says
    /// to stop (asked before each trace, and before the totals).
    pub fn analyse(self, mut in_time: impl FnMut() -> bool) -> Option<Analysis> {
        let mut aggregator = Aggregator::new(self.endpoint);
        aggregator.window = self.window;
        let operations = &self.operations;
        for trace in &self.traces {
            if !in_time() {
                return None;
            }
            aggregator.add_timings(
                &trace.trace_id,
                &trace.timings,
                |span| operations.name(trace.operations[span]),
                trace.cpu_ns.iter().copied(),
            );
        }
        in_time().then(|| aggregator.finish())
    }
}

/// Each band's name, percentiles, and ranks among `n` sorted traces.
pub(crate) fn band_ranges(n: usize) -> Vec<(&'static str, u32, u32, Range<usize>)> {
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

/// Each operation's mean in a list, by its names; the first row of a name
/// counts (as a search from the top finds it).
fn means_by_name(list: &[OperationTime]) -> HashMap<(&str, &str), f64> {
    let mut means: HashMap<(&str, &str), f64> = HashMap::default();
    for row in list {
        means
            .entry((row.service.as_str(), row.operation.as_str()))
            .or_insert(row.mean_critical_path_us);
    }
    means
}

/// Every operation of either list, by name, with its mean in each (zero
/// where it is absent): `(service, operation, first, second)`.
fn side_by_side<'a>(
    first: &'a [OperationTime],
    second: &'a [OperationTime],
) -> Vec<(&'a str, &'a str, f64, f64)> {
    let (in_first, in_second) = (means_by_name(first), means_by_name(second));
    let mut names: Vec<(&str, &str)> = in_first.keys().chain(in_second.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let first = in_first.get(&name).copied().unwrap_or(0.0);
            let second = in_second.get(&name).copied().unwrap_or(0.0);
            (name.0, name.1, first, second)
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

/// The endpoint of the unit tests' orders ([`test_order`]).
#[cfg(test)]
pub(crate) fn test_orders() -> Endpoint {
    Endpoint {
        service: "gw".to_owned(),
        operation: "POST /orders".to_owned(),
    }
}

/// An order for the unit tests that waits `db` µs on the database, then
/// `price` µs on pricing, in a request of 10 + db + price + 10 µs: all of
/// it on the critical path.
#[cfg(test)]
pub(crate) fn test_order(id: &str, db: u64, price: u64) -> Trace {
    use crate::jaeger::test_span as span;
    let end = 10 + db + price + 10;
    crate::jaeger::test_trace(
        id,
        vec![
            span("r", None, "gw", "POST /orders", 0, end),
            span("d", Some("r"), "inv", "SELECT", 10, 10 + db),
            span("p", Some("r"), "pricing", "quote", 10 + db, 10 + db + price),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_time::CPU_TIME_ATTRIBUTE;
    use crate::critical_path::scaling;
    use crate::jaeger::{JaegerSpan, Tag};
    use crate::model::Value;
    // A span of `service` named `op`, child of `parent`, from `start` to
    // `end`: `span(id, parent, service, op, start, end)`.
    use crate::jaeger::test_span as span;
    // A trace of those spans: `trace(id, spans)`.
    use crate::jaeger::test_trace as trace;

    use super::test_orders as orders;
    // `order(id, db, price)`.
    use super::test_order as order;

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

    /// `trace` as the collector stores it: each span's CPU time, where it
    /// carries one, an int attribute.
    fn stored(trace: &Trace) -> Vec<Span> {
        trace
            .spans
            .iter()
            .map(|s| Span {
                trace_id: trace.trace_id.clone(),
                span_id: s.span_id.clone(),
                parent_span_id: s.references.first().map(|r| r.span_id.clone()),
                service: s.process_id.clone(),
                name: s.operation_name.clone(),
                start_us: s.start_time,
                duration_us: s.duration,
                attributes: s
                    .cpu_time_ns()
                    .map(|nanos| (CPU_TIME_ATTRIBUTE.to_owned(), Value::Int(nanos as i64)))
                    .into_iter()
                    .collect(),
                ..Span::default()
            })
            .collect()
    }

    #[test]
    fn stored_spans_and_jaegers_shape_give_the_same_analysis() {
        let mut aggregator = Aggregator::new(orders());
        assert!(aggregator.add_spans(&stored(&order("a", 30, 50))));
        assert_eq!(aggregator.finish(), analyse(&[order("a", 30, 50)]));
    }

    /// Gives `span` `nanos` of its own CPU time, as Jaeger's JSON writes
    /// the attribute.
    fn on_cpu(span: &mut JaegerSpan, nanos: u64) {
        span.tags.push(Tag {
            key: CPU_TIME_ATTRIBUTE.to_owned(),
            kind: "int64".to_owned(),
            value: nanos.into(),
        });
    }

    /// Three orders (100, 100 and 40 µs): in `a` and `b` the gateway's and
    /// pricing's spans carry their CPU time, the database's never does; `b`
    /// calls pricing a second time, off the critical path; no span of `c`
    /// carries it.
    fn orders_on_cpu() -> Vec<Trace> {
        let mut a = order("a", 30, 50);
        on_cpu(&mut a.spans[0], 5_000);
        on_cpu(&mut a.spans[2], 40_000);
        let mut b = order("b", 10, 70);
        on_cpu(&mut b.spans[0], 7_000);
        on_cpu(&mut b.spans[2], 20_000);
        let mut beside = span("p2", Some("r"), "pricing", "quote", 10, 15);
        on_cpu(&mut beside, 10_000);
        b.spans.push(beside);
        vec![a, b, order("c", 10, 10)]
    }

    fn mean_cpu(list: &[OperationTime], service: &str) -> Option<f64> {
        let row = list.iter().find(|o| o.service == service);
        row.unwrap_or_else(|| panic!("{service} in {list:#?}"))
            .mean_cpu_us
    }

    #[test]
    fn an_operation_missing_from_a_trace_that_measures_cpu_counts_zero_there() {
        let mut with_pricing = order("a", 30, 50);
        on_cpu(&mut with_pricing.spans[0], 5_000);
        on_cpu(&mut with_pricing.spans[2], 40_000);
        let mut without_pricing = trace(
            "d",
            vec![
                span("r", None, "gw", "POST /orders", 0, 40),
                span("d", Some("r"), "inv", "SELECT", 10, 30),
            ],
        );
        on_cpu(&mut without_pricing.spans[0], 7_000);
        let a = analyse(&[with_pricing, without_pricing]);
        // Like its time on the path (50 µs in one trace of two), pricing's
        // CPU is a mean over both: never more CPU than path by counting
        // only the traces that call it.
        assert_eq!(mean(&a.operations, "pricing"), 25.0);
        assert_eq!(mean_cpu(&a.operations, "pricing"), Some(20.0));
        assert_eq!(mean_cpu(&a.operations, "gw"), Some(6.0));
    }

    #[test]
    fn an_operations_cpu_time_is_its_spans_sum_per_trace_over_the_traces_that_carry_it() {
        let a = analyse(&orders_on_cpu());
        // Pricing: 40 µs in a, 20 + 10 µs in b; c carries none.
        assert_eq!(mean_cpu(&a.operations, "pricing"), Some(35.0));
        assert_eq!(mean_cpu(&a.operations, "gw"), Some(6.0));
        assert_eq!(
            mean_cpu(&a.operations, "inv"),
            None,
            "no span of the database carries it: unknown, not zero"
        );
        assert_eq!(
            mean(&a.operations, "pricing"),
            (50.0 + 70.0 + 10.0) / 3.0,
            "the critical path is as it was"
        );
        // Ranked c, a, b: the p50 band holds a, the p99 band b.
        let band = |name: &str| &a.band(name).unwrap().operations;
        assert_eq!(mean_cpu(band("p50"), "pricing"), Some(40.0));
        assert_eq!(mean_cpu(band("p99"), "pricing"), Some(30.0));
        assert_eq!(mean_cpu(band("p99"), "gw"), Some(7.0));
        let tail = |service: &str| {
            let row = a.tail.iter().find(|t| t.service == service).unwrap();
            (row.p50_mean_cpu_us, row.p99_mean_cpu_us)
        };
        assert_eq!(tail("pricing"), (Some(40.0), Some(30.0)));
        assert_eq!(tail("inv"), (None, None));
        let json = serde_json::to_value(&a).unwrap();
        let row = |service: &str| {
            json["operations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["service"] == service)
                .unwrap()
                .clone()
        };
        assert_eq!(row("pricing")["mean_cpu_us"], 35.0);
        assert!(
            row("inv").get("mean_cpu_us").is_none(),
            "no figure is written where there is none: {}",
            row("inv")
        );
    }

    #[test]
    fn cpu_time_is_the_same_whichever_way_the_traces_come() {
        let mut traces = orders_on_cpu();
        // Pricing's span lasts no time: it is never on this trace's path,
        // yet its CPU time counts. An aggregator that reads this trace first
        // numbers pricing after the database, not before: a merge maps it
        // by its names.
        let mut instant = order("x", 10, 0);
        on_cpu(&mut instant.spans[2], 8_000);
        traces.push(instant);
        let expected = analyse(&traces);
        // (40 + 30 + 8) µs over the three traces whose pricing carries it.
        assert_eq!(mean_cpu(&expected.operations, "pricing"), Some(26.0));

        let mut first = Aggregator::new(orders());
        first.add_jaeger(&traces[0]);
        first.add_jaeger(&traces[2]);
        let mut second = Aggregator::new(orders());
        second.add_jaeger(&traces[3]);
        second.add_jaeger(&traces[1]);
        first.merge(second);
        assert_eq!(first.finish(), expected, "merged");

        let mut aggregator = Aggregator::new(orders());
        let mut copied = Copied::new(orders(), None, None);
        for spans in traces.iter().map(stored) {
            assert!(aggregator.add_spans(&spans) && copied.add(&spans));
        }
        assert_eq!(aggregator.finish(), expected, "as stored");
        assert_eq!(copied.analyse(|| true), Some(expected), "copied");
    }

    /// A trace of `n` stored spans of service `svc`, each the child of the
    /// one before, span i named `name(i)` and lasting from i to 2n − i µs:
    /// each owns 2 µs of the critical path (1 µs before its child starts and
    /// 1 µs after it ends; the innermost, the whole of its 2 µs).
    fn chain(trace_id: &str, n: usize, name: impl Fn(usize) -> String) -> Vec<Span> {
        (0..n)
            .map(|i| Span {
                trace_id: trace_id.to_owned(),
                span_id: format!("{i:016x}"),
                parent_span_id: i.checked_sub(1).map(|parent| format!("{parent:016x}")),
                service: "svc".to_owned(),
                name: name(i),
                start_us: i as u64,
                duration_us: 2 * (n - i) as u64,
                ..Span::default()
            })
            .collect()
    }

    fn numbered(i: usize) -> String {
        format!("op{i}")
    }

    /// The frames of the chain's spans numbered in `range`.
    fn frames(range: Range<usize>) -> Vec<String> {
        range.map(|i| format!("svc op{i}")).collect()
    }

    fn svc(operation: &str) -> Endpoint {
        Endpoint {
            service: "svc".to_owned(),
            operation: operation.to_owned(),
        }
    }

    fn analyse_stored(endpoint: Endpoint, traces: &[Vec<Span>]) -> Analysis {
        let mut aggregator = Aggregator::new(endpoint);
        for spans in traces {
            assert!(
                aggregator.add_spans(spans),
                "{} is the endpoint's",
                spans[0].trace_id
            );
        }
        aggregator.finish()
    }

    fn sum_of_means(operations: &[OperationTime]) -> f64 {
        operations.iter().map(|o| o.mean_critical_path_us).sum()
    }

    #[test]
    fn a_context_deeper_than_the_limit_keeps_its_outermost_and_innermost_frames() {
        let depth = MAX_CONTEXT_DEPTH + 6;
        let a = analyse_stored(svc("op0"), &[chain("t", depth, numbered)]);
        assert_eq!(
            a.contexts.len(),
            depth,
            "one context a span: {:#?}",
            a.contexts
        );
        for context in &a.contexts {
            assert!(
                context.total_critical_path_us == 2 && context.path.len() <= MAX_CONTEXT_DEPTH,
                "each context has its span's 2 µs in at most {MAX_CONTEXT_DEPTH} frames: {context:?}"
            );
        }
        let ending_in = |i: usize| {
            let last = format!("svc op{i}");
            a.contexts
                .iter()
                .find(|c| c.path.last() == Some(&last))
                .unwrap_or_else(|| panic!("no context ends in {last}: {:#?}", a.contexts))
        };
        let mut cut = frames(0..OUTERMOST_FRAMES);
        cut.push(ELIDED.to_owned());
        cut.extend(frames(depth - INNERMOST_FRAMES..depth));
        assert_eq!(
            ending_in(depth - 1).path,
            cut,
            "the innermost span's context"
        );
        assert_eq!(
            ending_in(MAX_CONTEXT_DEPTH - 1).path,
            frames(0..MAX_CONTEXT_DEPTH),
            "a context of the limit's depth is whole"
        );
        // All of equal time: listed in the order of their paths, the cut
        // ones among the whole ones by the text of their frames.
        for pair in a.contexts.windows(2) {
            assert!(
                pair[0].path < pair[1].path,
                "{:?} is listed before {:?}",
                pair[0].path,
                pair[1].path
            );
        }
        assert_eq!(a.operations.len(), depth, "every operation keeps its time");
        assert_eq!(sum_of_means(&a.operations), a.mean_duration_us);
    }

    #[test]
    fn deep_contexts_that_differ_only_in_what_is_cut_out_are_one() {
        // A recursion 100 deep under its root.
        let depth = 100;
        let recursion = chain("t", depth, |i| {
            let name = if i == 0 { "root" } else { "recurse" };
            name.to_owned()
        });
        let a = analyse_stored(svc("root"), &[recursion]);
        assert_eq!(
            a.contexts.len(),
            MAX_CONTEXT_DEPTH + 1,
            "the whole contexts and one cut one: {:#?}",
            a.contexts
        );
        let mut path = vec!["svc root".to_owned()];
        path.extend(vec!["svc recurse".to_owned(); OUTERMOST_FRAMES - 1]);
        path.push(ELIDED.to_owned());
        path.extend(vec!["svc recurse".to_owned(); INNERMOST_FRAMES]);
        let cut = &a.contexts[0];
        assert_eq!(cut.path, path, "the largest context is the cut one");
        assert_eq!(
            cut.total_critical_path_us,
            2 * (depth - MAX_CONTEXT_DEPTH) as u64,
            "it has the time of every span deeper than the limit"
        );
        let recurse = a.operations.iter().find(|o| o.operation == "recurse");
        assert_eq!(
            recurse.map(|o| o.total_critical_path_us),
            Some(2 * (depth - 1) as u64),
            "{:?}",
            a.operations
        );
    }

    #[test]
    fn lists_past_their_cap_end_in_a_row_that_sums_the_rest() {
        // A root calling 150 operations one after the other, 1 µs each; it
        // owns the 151 µs around them.
        let calls = 150;
        let mut spans = vec![span("r", None, "gw", "POST /orders", 0, 2 * calls + 1)];
        spans.extend((0..calls).map(|i| {
            let at = 2 * i + 1;
            span(
                &format!("c{i}"),
                Some("r"),
                "svc",
                &format!("call {i:03}"),
                at,
                at + 1,
            )
        }));
        let a = analyse(&[trace("a", spans)]);
        let rest = (calls + 1) as usize - (MAX_OPERATIONS - 1);
        assert_eq!(a.operations.len(), MAX_OPERATIONS, "{:#?}", a.operations);
        let other = &a.operations[MAX_OPERATIONS - 1];
        assert_eq!(
            (other.service.as_str(), other.operation.as_str()),
            OTHER_OPERATIONS
        );
        assert_eq!(
            (other.rows_summed, other.total_critical_path_us),
            (Some(rest), rest as u64),
            "the last row sums the calls past the cap"
        );
        assert_eq!(
            a.operations[MAX_OPERATIONS - 2].operation,
            format!("call {:03}", MAX_OPERATIONS - 3),
            "ties are kept in the order of their names"
        );
        assert_eq!(
            sum_of_means(&a.operations),
            a.mean_duration_us,
            "the means still add up to the mean duration"
        );
        let other = &a.contexts[a.contexts.len() - 1];
        assert_eq!(a.contexts.len(), MAX_CONTEXTS);
        assert_eq!(other.path, [OTHER_CONTEXTS]);
        assert_eq!(
            other.rows_summed,
            Some((calls + 1) as usize - (MAX_CONTEXTS - 1))
        );
        for band in &a.bands {
            assert_eq!(
                (band.operations.len(), band.contexts.len()),
                (MAX_OPERATIONS, MAX_CONTEXTS),
                "band {}",
                band.band
            );
        }
        assert_eq!(a.tail.len(), MAX_OPERATIONS);
        assert_eq!(a.tail[MAX_OPERATIONS - 1].rows_summed, Some(rest));
        assert!(
            a.folded(None)
                .iter()
                .any(|line| line.starts_with(&format!("{OTHER_CONTEXTS} "))),
            "the flame graph draws the rest as one frame: {:?}",
            a.folded(None)
        );
    }

    #[test]
    fn names_longer_than_the_limit_are_cut() {
        let long = "é".repeat(10 * MAX_NAME_CHARS);
        let a = analyse(&[trace(
            "a",
            vec![
                span("r", None, "gw", "POST /orders", 0, 10),
                span("l", Some("r"), "svc", &long, 2, 8),
            ],
        )]);
        let cut = &a.operations[0].operation;
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS, "{cut}");
        assert!(
            cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')),
            "{cut}"
        );
        let at_the_limit = "x".repeat(MAX_NAME_CHARS);
        assert_eq!(shortened(&at_the_limit), at_the_limit.as_str());
    }

    #[test]
    fn contexts_of_equal_time_are_in_the_order_of_their_paths() {
        // Met by the walk (and numbered) as b, c under b, then a.
        let t = trace(
            "a",
            vec![
                span("r", None, "gw", "POST /orders", 0, 60),
                span("x", Some("r"), "s", "a", 0, 10),
                span("y", Some("r"), "s", "b", 10, 30),
                span("z", Some("y"), "s", "c", 15, 25),
            ],
        );
        let listed: Vec<(Vec<String>, u64)> = analyse(&[t])
            .contexts
            .into_iter()
            .map(|c| (c.path, c.total_critical_path_us))
            .collect();
        let context = |path: &[&str], total: u64| {
            (
                path.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>(),
                total,
            )
        };
        assert_eq!(
            listed,
            [
                context(&["gw POST /orders"], 30),
                context(&["gw POST /orders", "s a"], 10),
                context(&["gw POST /orders", "s b"], 10),
                context(&["gw POST /orders", "s b", "s c"], 10),
            ]
        );
    }

    #[test]
    fn merged_aggregators_agree_on_deep_traces_too() {
        let traces: Vec<Vec<Span>> = (0..3)
            .map(|t| chain(&format!("t{t}"), MAX_CONTEXT_DEPTH + 10 * t, numbered))
            .collect();
        let mut first = Aggregator::new(svc("op0"));
        assert!(first.add_spans(&traces[2]));
        let mut second = Aggregator::new(svc("op0"));
        assert!(second.add_spans(&traces[0]) && second.add_spans(&traces[1]));
        first.merge(second);
        assert_eq!(first.finish(), analyse_stored(svc("op0"), &traces));
    }

    #[test]
    fn a_chain_of_100_000_spans_is_analysed_in_n_log_n_into_a_bounded_answer() {
        let (deep, quarter) = (chain("t", 100_000, numbered), chain("t", 25_000, numbered));
        let analyse_chain = |spans: &[Span]| {
            let mut aggregator = Aggregator::new(svc("op0"));
            assert!(aggregator.add_spans(spans));
            aggregator.finish()
        };
        let a = scaling::on_a_default_stack(|| analyse_chain(&deep));
        assert_eq!((a.traces, a.mean_duration_us), (1, 200_000.0));
        let sum = sum_of_means(&a.operations);
        assert!(
            (sum - a.mean_duration_us).abs() < 1e-6,
            "the operations' means add up to the mean duration: {sum}"
        );
        let lists = std::iter::once((&a.operations, &a.contexts))
            .chain(a.bands.iter().map(|b| (&b.operations, &b.contexts)));
        for (operations, contexts) in lists {
            assert_eq!(
                (operations.len(), contexts.len()),
                (MAX_OPERATIONS, MAX_CONTEXTS)
            );
            let deepest = contexts.iter().map(|c| c.path.len()).max();
            assert_eq!(deepest, Some(MAX_CONTEXT_DEPTH));
        }
        assert_eq!(a.tail.len(), MAX_OPERATIONS);
        let bytes = serde_json::to_vec(&a).expect("JSON").len();
        assert!(
            bytes < 1 << 20,
            "the answer for 100,000 spans is {bytes} bytes, not under 1 MiB"
        );
        scaling::growth(|| analyse_chain(&quarter), || analyse_chain(&deep)).assert_n_log_n(
            "the analysis",
            "a chain of 100,000 spans",
            "25,000 spans",
        );
    }

    #[test]
    fn copied_traces_are_analysed_as_the_stored_ones() {
        let stored = [
            chain("a", 5, numbered),
            chain("b", MAX_CONTEXT_DEPTH + 6, numbered),
        ];
        let mut copied = Copied::new(svc("op0"), None, None);
        assert!(copied.add(&stored[0]) && copied.add(&stored[1]));
        let mut other = chain("c", 3, numbered);
        other[0].name = "GET /talks".to_owned();
        assert!(!copied.add(&other), "another endpoint's trace");
        // The endpoint's operation under another root.
        other[1].name = "op0".to_owned();
        assert!(
            !copied.add(&other),
            "a trace whose root is another endpoint"
        );
        assert_eq!(copied.len(), 2);
        assert_eq!(
            copied.analyse(|| true),
            Some(analyse_stored(svc("op0"), &stored))
        );
    }

    #[test]
    fn a_bands_trace_ids_are_the_traces_its_figures_sum() {
        // Twenty traces, the i-th lasting 10 + i µs, added in no order.
        let mut copied = Copied::new(svc("op0"), None, None);
        for i in [
            7, 19, 0, 3, 12, 5, 18, 1, 9, 14, 2, 16, 4, 11, 6, 17, 8, 13, 10, 15,
        ] {
            let mut spans = chain(&format!("t{i:02}"), 1, numbered);
            spans[0].duration_us = 10 + i;
            assert!(copied.add(&spans));
        }
        let ids = |band: &str| -> Vec<String> {
            let mut ids: Vec<String> = copied
                .trace_ids_in_band(band)
                .unwrap_or_else(|| panic!("{band} is a band"))
                .into_iter()
                .map(str::to_owned)
                .collect();
            ids.sort();
            ids
        };
        let named = |range: std::ops::Range<u64>| -> Vec<String> {
            range.map(|i| format!("t{i:02}")).collect()
        };
        // Ranks 10–17 are p50–p90, 18 is p90–p95, 19 p95–p99 and p99.
        assert_eq!(ids("p50"), named(10..18));
        assert_eq!(ids("p90"), named(18..19));
        assert_eq!(ids("p95"), named(19..20));
        assert_eq!(ids("p99"), named(19..20));
        let none = Copied::new(svc("op0"), None, None);
        assert_eq!(none.trace_ids_in_band("p99"), Some(Vec::new()), "no trace");
        assert_eq!(copied.trace_ids_in_band("p100"), None, "no such band");
        let bands = copied.analyse(|| true).expect("in time").bands;
        let counted: Vec<usize> = bands.iter().map(|band| band.traces).collect();
        assert_eq!(counted, [8, 1, 1, 1], "as many as the analysis sums");
    }

    #[test]
    fn copies_keep_to_the_window_and_an_analysis_stops_when_told() {
        // The chain's root starts at 0.
        let spans = chain("a", 5, numbered);
        let mut late = Copied::new(svc("op0"), Some(1), None);
        assert!(!late.add(&spans), "a root before the window");
        let mut copied = Copied::new(svc("op0"), None, Some(0));
        assert!(copied.add(&spans), "a root at the window's end");
        let mut asked = 0;
        let analysis = copied.analyse(|| {
            asked += 1;
            asked < 2
        });
        assert_eq!(analysis, None, "told to stop after the first trace");
    }
}
