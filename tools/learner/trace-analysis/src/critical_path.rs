//! The critical path of a trace: the sections of spans that the trace's
//! total duration waited on. Shorten anything else and the trace is no
//! faster; shorten a section on the path and it is.
//!
//! The semantics are Jaeger UI's:
//!
//! 1. Start at the root, at its end.
//! 2. A span is on the path from the end of its last-finishing child to the
//!    time we are walking back from; then walk into that child.
//! 3. With no child left that finished before that time, the span is on the
//!    path back to its own start; then return to its parent, at this span's
//!    start, and look for the parent's next child that finished before it.
//!
//! Before walking, the tree is made sane: a child overflowing its parent is
//! clamped to the parent's interval; a child that starts after its parent
//! ended, or ends before it started, is ignored with its whole subtree; and
//! a child that merely follows from its parent (a `FOLLOWS_FROM` reference,
//! or a consumer span whose parent is a producer) does not block it, so it
//! is ignored too. The sections then cover the root exactly once: they add
//! up to the root's duration.
//!
//! No trace stalls it: the tree is built and walked with loops and stacks
//! on the heap, never by recursion (a chain of 100,000 spans, each the
//! child of the one before, fits a thread's 2 MiB stack), and each span's
//! children are sorted once, then passed over at most once: O(n log n) in
//! the spans.

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use crate::jaeger::{RefType, Trace};
use crate::span_view::{self, SpanView};

/// A stretch of one span on the critical path, in microseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(rename = "spanID")]
    pub span_id: String,
    pub start: u64,
    pub end: u64,
}

/// A stretch of time, in microseconds: from `start` to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interval {
    start: u64,
    end: u64,
}

impl Interval {
    /// This interval cut to lie within `outer`; `None` when the two do not
    /// meet at all.
    fn within(self, outer: Interval) -> Option<Interval> {
        (self.start <= outer.end && self.end >= outer.start).then(|| Interval {
            start: self.start.max(outer.start),
            end: self.end.min(outer.end),
        })
    }
}

/// What the walk needs to know of one span, from its [`SpanView`] (see
/// [`timings`]), whatever shape the trace came in: Jaeger's JSON, a
/// recording's lean reading, or the collector's own spans (which
/// [`crate::aggregate`] walks by the thousand without copying them into
/// Jaeger's shape first).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The span's parent, as an index into the same slice.
    pub parent: Option<usize>,
    /// The reference to the parent is `CHILD_OF` (not `FOLLOWS_FROM`): such
    /// a span is never the root.
    pub child_of: bool,
    /// The parent waits for this span ([`span_view::blocks_parent`]): a
    /// `CHILD_OF` span, unless it is a consumer under a producer.
    pub blocks_parent: bool,
    pub start: u64,
    pub end: u64,
}

/// A span kept for the walk, with its interval clamped into its parent's.
struct Node {
    span: usize,
    interval: Interval,
    parent: Option<usize>,
    /// Children (as node indices) that block this span, latest-finishing
    /// first.
    children: Vec<usize>,
    /// The first child not yet walked or passed over. The times we return
    /// to a span at only move back, so this only moves forward: each child
    /// is looked at once, and the walk is linear in the number of spans.
    cursor: usize,
}

/// The critical path of `trace`, from its end back to its start.
pub fn critical_path(trace: &Trace) -> Vec<Section> {
    let spans = &trace.spans;
    sections(&timings(&trace.views()))
        .into_iter()
        .map(|(span, start, end)| Section {
            span_id: spans[span].span_id.clone(),
            start,
            end,
        })
        .collect()
}

/// The critical path of a trace given as [`Timing`]s, from its end back to
/// its start: `(index of the span, start, end)` for each section.
pub fn sections(spans: &[Timing]) -> Vec<(usize, u64, u64)> {
    let Some(root) = root(spans) else {
        return Vec::new();
    };
    let blocking = blocking_children(spans);
    let mut nodes = sane_tree(spans, root, &blocking);
    walk_back(&mut nodes)
        .into_iter()
        .map(|(node, interval)| (nodes[node].span, interval.start, interval.end))
        .collect()
}

/// Each span's parent among these spans, how it refers to it, and whether
/// the parent waits for it, by the rules of [`crate::span_view`].
pub fn timings(spans: &[SpanView<'_>]) -> Vec<Timing> {
    let mut index: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(spans.len(), Default::default());
    index.extend(spans.iter().enumerate().map(|(i, s)| (s.span_id, i)));
    spans
        .iter()
        .map(|span| {
            let parent = span.parent.and_then(|(id, stated)| {
                let parent = *index.get(id)?;
                let parent_kind = spans[parent].kind;
                let reference = span_view::reference(stated, span.kind, parent_kind);
                let blocks = span_view::blocks_parent(reference, span.kind, parent_kind);
                Some((parent, reference, blocks))
            });
            Timing {
                parent: parent.map(|(parent, _, _)| parent),
                child_of: parent.is_some_and(|(_, reference, _)| reference == RefType::ChildOf),
                blocks_parent: parent.is_some_and(|(_, _, blocks)| blocks),
                start: span.start_us,
                end: span.end_us,
            }
        })
        .collect()
}

/// The root: a span that is no one's child here, the earliest (then the
/// longest).
pub fn root(spans: &[Timing]) -> Option<usize> {
    (0..spans.len())
        .filter(|&i| !spans[i].child_of)
        .min_by_key(|&i| (spans[i].start, std::cmp::Reverse(spans[i].end)))
}

/// The children that block each span.
fn blocking_children(spans: &[Timing]) -> Vec<Vec<usize>> {
    let mut blocking = vec![Vec::new(); spans.len()];
    for (child, span) in spans.iter().enumerate() {
        if let Some(parent) = span.parent.filter(|&p| span.blocks_parent && p != child) {
            blocking[parent].push(child);
        }
    }
    blocking
}

/// The tree the walk follows, top-down from the root (node 0): each child
/// clamped into its parent's interval, or dropped with its whole subtree
/// when it lies outside it.
fn sane_tree(spans: &[Timing], root: usize, blocking: &[Vec<usize>]) -> Vec<Node> {
    let mut placed = vec![false; spans.len()];
    placed[root] = true;
    let mut nodes = vec![Node {
        span: root,
        interval: Interval {
            start: spans[root].start,
            end: spans[root].end,
        },
        parent: None,
        children: Vec::new(),
        cursor: 0,
    }];
    let mut pending = vec![0];
    while let Some(parent) = pending.pop() {
        let outer = nodes[parent].interval;
        let mut children = Vec::new();
        for &span in &blocking[nodes[parent].span] {
            if placed[span] {
                continue;
            }
            let own = Interval {
                start: spans[span].start,
                end: spans[span].end,
            };
            let Some(interval) = own.within(outer) else {
                continue;
            };
            placed[span] = true;
            children.push(nodes.len());
            pending.push(nodes.len());
            nodes.push(Node {
                span,
                interval,
                parent: Some(parent),
                children: Vec::new(),
                cursor: 0,
            });
        }
        children
            .sort_by_key(|&c| std::cmp::Reverse((nodes[c].interval.end, nodes[c].interval.start)));
        nodes[parent].children = children;
    }
    nodes
}

/// Walks back from the root's end: each node is on the path from the end
/// of its latest child that ended by then, and back to its own start when
/// none is left; then its parent takes over from that start.
fn walk_back(nodes: &mut [Node]) -> Vec<(usize, Interval)> {
    let mut path = Vec::new();
    let mut on_path = |node: usize, start: u64, end: u64| {
        if start < end {
            path.push((node, Interval { start, end }));
        }
    };
    let mut current = 0;
    let mut until = nodes[0].interval.end;
    loop {
        if let Some(child) = next_child_ended_by(nodes, current, until) {
            let child_end = nodes[child].interval.end;
            on_path(current, child_end, until);
            current = child;
            until = child_end;
            continue;
        }
        let start = nodes[current].interval.start;
        on_path(current, start, until);
        let Some(parent) = nodes[current].parent else {
            break;
        };
        current = parent;
        until = start;
    }
    path
}

/// The node's next child, latest-finishing first, that ended by `until`,
/// taken off its list. The children passed over end after `until`, and the
/// walk only ever comes back to this node at earlier times: they can never
/// be on the path again.
fn next_child_ended_by(nodes: &mut [Node], node: usize, until: u64) -> Option<usize> {
    let children = &nodes[node].children;
    let at = (nodes[node].cursor..children.len())
        .find(|&i| nodes[children[i]].interval.end <= until)
        .unwrap_or(children.len());
    let found = children.get(at).copied();
    nodes[node].cursor = at + usize::from(found.is_some());
    found
}

/// Microseconds of the path that belong to each span.
pub fn time_by_span(path: &[Section]) -> HashMap<&str, u64> {
    let mut totals: HashMap<&str, u64> = HashMap::default();
    for section in path {
        *totals.entry(section.span_id.as_str()).or_default() += section.end - section.start;
    }
    totals
}

/// For tests of how the analyses scale with the spans they read.
#[cfg(test)]
pub(crate) mod scaling {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    /// Runs of each size timed, the median kept: one slow run (the machine
    /// busy with other tests) does not decide.
    pub(crate) const RUNS: usize = 5;

    /// The most that work may grow by for four times the input and still be
    /// O(n log n): it grows about 4 times, up to 5 or 6 once its data
    /// outgrows the caches; quadratic work grows 16 times.
    pub(crate) const MAX_GROWTH: f64 = 8.0;

    /// Runs `work` on a thread with a 2 MiB stack (Rust's default for a
    /// spawned thread, whatever `RUST_MIN_STACK` says), which a recursion
    /// as deep as a long chain of spans overflows.
    pub(crate) fn on_a_default_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn_scoped(scope, work)
                .expect("a thread")
                .join()
                .expect("the work does not panic")
        })
    }

    /// How long the same work took on an input and on one 4 times as large.
    pub(crate) struct Growth {
        pub(crate) small: Duration,
        pub(crate) large: Duration,
    }

    impl Growth {
        pub(crate) fn ratio(&self) -> f64 {
            self.large.as_secs_f64() / self.small.as_secs_f64().max(1e-9)
        }

        /// Fails unless the work grew as n log n does, less than
        /// [`MAX_GROWTH`] times: "`work` of `large` took …, of `small` …".
        pub(crate) fn assert_n_log_n(&self, work: &str, large: &str, small: &str) {
            assert!(
                self.ratio() < MAX_GROWTH,
                "{work} of {large} took {:?}, of {small} {:?} (medians of {RUNS} runs): \
                 {:.1} times as long for 4 times the spans; n log n is about 4 to 6, \
                 quadratic 16",
                self.large,
                self.small,
                self.ratio()
            );
        }
    }

    /// How many times a growth past [`MAX_GROWTH`] is measured before it
    /// counts: a busy machine can slow one measurement's large runs, never
    /// every one, while quadratic work stays past the bound each time.
    pub(crate) const ATTEMPTS: usize = 3;

    /// Times `small` and `large` (the same work on inputs of n and 4n spans,
    /// built beforehand) [`RUNS`] times each, alternating, so that a load on
    /// the machine weighs on both alike; the medians. A growth past
    /// [`MAX_GROWTH`] is measured again, up to [`ATTEMPTS`] times, and the
    /// least of them is returned.
    pub(crate) fn growth<A, B>(
        mut small: impl FnMut() -> A,
        mut large: impl FnMut() -> B,
    ) -> Growth {
        let mut least: Option<Growth> = None;
        for _ in 0..ATTEMPTS {
            let measured = measure(&mut small, &mut large);
            if measured.ratio() < MAX_GROWTH {
                return measured;
            }
            if least
                .as_ref()
                .is_none_or(|least| measured.ratio() < least.ratio())
            {
                least = Some(measured);
            }
        }
        least.expect("at least one attempt")
    }

    fn measure<A, B>(small: &mut impl FnMut() -> A, large: &mut impl FnMut() -> B) -> Growth {
        let (mut small_times, mut large_times) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let started = on_cpu();
            black_box(small());
            small_times.push(on_cpu().saturating_sub(started));
            let started = on_cpu();
            black_box(large());
            large_times.push(on_cpu().saturating_sub(started));
        }
        small_times.sort();
        large_times.sort();
        Growth {
            small: small_times[RUNS / 2],
            large: large_times[RUNS / 2],
        }
    }

    /// The time this thread has spent on a CPU, from Linux's
    /// `/proc/thread-self/schedstat` (its first field, in ns): unlike the
    /// clock, it does not count the time the thread waited for a core, so
    /// other programs hogging the cores do not make the work look dearer.
    /// Elsewhere, the clock since the first call.
    fn on_cpu() -> Duration {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
            .map_or_else(
                || {
                    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
                    START.get_or_init(Instant::now).elapsed()
                },
                Duration::from_nanos,
            )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::jaeger::{JaegerSpan, Process, Tag, test_span};

    /// A span of process `p1` named `id`, child of `parent`, from `start`
    /// to `end`.
    fn span(id: &str, parent: Option<&str>, start: u64, end: u64) -> JaegerSpan {
        test_span(id, parent, "p1", id, start, end)
    }

    fn with_kind(mut span: JaegerSpan, kind: &str) -> JaegerSpan {
        span.tags.push(Tag {
            key: "span.kind".to_owned(),
            kind: "string".to_owned(),
            value: kind.into(),
        });
        span
    }

    fn trace(spans: Vec<JaegerSpan>) -> Trace {
        Trace {
            trace_id: "t".to_owned(),
            spans,
            processes: BTreeMap::from([(
                "p1".to_owned(),
                Process {
                    service_name: "svc".to_owned(),
                    tags: Vec::new(),
                },
            )]),
            warnings: None,
        }
    }

    fn path(spans: Vec<JaegerSpan>) -> Vec<(String, u64, u64)> {
        let trace = trace(spans);
        let sections = critical_path(&trace);
        let root = trace.root().unwrap();
        let total: u64 = sections.iter().map(|s| s.end - s.start).sum();
        assert_eq!(
            total, root.duration,
            "the sections add up to the root's duration"
        );
        sections
            .into_iter()
            .map(|s| (s.span_id, s.start, s.end))
            .collect()
    }

    fn s(id: &str, start: u64, end: u64) -> (String, u64, u64) {
        (id.to_owned(), start, end)
    }

    #[test]
    fn a_lone_span_is_its_own_path() {
        assert_eq!(path(vec![span("a", None, 0, 10)]), [s("a", 0, 10)]);
    }

    #[test]
    fn sequential_children_are_all_on_the_path() {
        let spans = vec![
            span("root", None, 0, 100),
            span("a", Some("root"), 10, 30),
            span("b", Some("root"), 30, 60),
            span("c", Some("root"), 70, 90),
        ];
        assert_eq!(
            path(spans),
            [
                s("root", 90, 100),
                s("c", 70, 90),
                s("root", 60, 70),
                s("b", 30, 60),
                s("a", 10, 30),
                s("root", 0, 10),
            ]
        );
    }

    #[test]
    fn of_concurrent_children_only_the_last_to_finish_is_on_the_path() {
        let spans = vec![
            span("root", None, 0, 100),
            span("fast", Some("root"), 10, 40),
            span("slow", Some("root"), 10, 80),
            span("mid", Some("root"), 20, 60),
        ];
        assert_eq!(
            path(spans),
            [s("root", 80, 100), s("slow", 10, 80), s("root", 0, 10)]
        );
    }

    #[test]
    fn the_walk_descends_into_grandchildren() {
        let spans = vec![
            span("root", None, 0, 100),
            span("child", Some("root"), 10, 90),
            span("grandchild", Some("child"), 20, 50),
        ];
        assert_eq!(
            path(spans),
            [
                s("root", 90, 100),
                s("child", 50, 90),
                s("grandchild", 20, 50),
                s("child", 10, 20),
                s("root", 0, 10),
            ]
        );
    }

    #[test]
    fn a_child_overflowing_its_parent_is_clamped() {
        let spans = vec![
            span("root", None, 10, 100),
            span("early", Some("root"), 0, 30),
            span("late", Some("root"), 80, 150),
        ];
        assert_eq!(
            path(spans),
            [s("late", 80, 100), s("root", 30, 80), s("early", 10, 30)]
        );
    }

    #[test]
    fn a_child_outside_its_parent_is_ignored_with_its_subtree() {
        let spans = vec![
            span("root", None, 10, 100),
            span("after", Some("root"), 120, 150),
            span("under-after", Some("after"), 125, 130),
            span("before", Some("root"), 0, 5),
            span("inside", Some("root"), 40, 60),
        ];
        assert_eq!(
            path(spans),
            [s("root", 60, 100), s("inside", 40, 60), s("root", 10, 40)]
        );
    }

    #[test]
    fn a_follows_from_child_does_not_block_its_parent() {
        let mut detached = span("detached", Some("root"), 50, 100);
        detached.references[0].ref_type = RefType::FollowsFrom;
        let spans = vec![
            span("root", None, 0, 100),
            detached,
            span("work", Some("root"), 10, 20),
        ];
        assert_eq!(
            path(spans),
            [s("root", 20, 100), s("work", 10, 20), s("root", 0, 10)]
        );
    }

    #[test]
    fn a_consumer_of_a_producer_does_not_block_it() {
        let spans = vec![
            span("root", None, 0, 100),
            with_kind(span("send", Some("root"), 10, 20), "producer"),
            with_kind(span("receive", Some("send"), 15, 95), "consumer"),
        ];
        assert_eq!(
            path(spans),
            [s("root", 20, 100), s("send", 10, 20), s("root", 0, 10)]
        );
    }

    #[test]
    fn the_order_of_spans_in_the_input_does_not_matter() {
        let spans = vec![
            span("root", None, 0, 100),
            span("a", Some("root"), 5, 50),
            span("b", Some("a"), 10, 40),
            span("c", Some("root"), 45, 95),
            span("d", Some("c"), 60, 70),
            span("e", Some("root"), 20, 30),
        ];
        let expected = path(spans.clone());
        let mut reversed = spans.clone();
        reversed.reverse();
        assert_eq!(path(reversed), expected);
        let mut rotated = spans;
        rotated.rotate_left(3);
        assert_eq!(path(rotated), expected);
    }

    #[test]
    fn zero_length_children_end_the_walk() {
        let spans = vec![
            span("root", None, 0, 100),
            span("instant", Some("root"), 50, 50),
            span("twin", Some("root"), 50, 50),
            span("a", Some("root"), 10, 50),
        ];
        assert_eq!(
            path(spans),
            [s("root", 50, 100), s("a", 10, 50), s("root", 0, 10)]
        );
    }

    #[test]
    fn a_wide_trace_is_walked_in_linear_time() {
        // 100,000 sequential children: quadratic walking would take minutes.
        let mut spans = vec![span("root", None, 0, 200_000)];
        spans.extend(
            (0..100_000u64).map(|i| span(&format!("c{i}"), Some("root"), 2 * i, 2 * i + 1)),
        );
        let sections = critical_path(&trace(spans));
        // Each child, each gap between two children, and the tail after the last.
        assert_eq!(sections.len(), 200_000);
    }

    #[test]
    fn a_chain_is_walked_down_and_back_up() {
        let spans = vec![
            span("a", None, 0, 6),
            span("b", Some("a"), 1, 5),
            span("c", Some("b"), 2, 4),
        ];
        assert_eq!(
            path(spans),
            [
                s("a", 5, 6),
                s("b", 4, 5),
                s("c", 2, 4),
                s("b", 1, 2),
                s("a", 0, 1)
            ]
        );
    }

    /// A chain of `n` spans, each the child of the one before, span i from
    /// i to 2n − i µs: each owns 1 µs before its child starts and 1 µs
    /// after it ends (the innermost, its whole 2 µs).
    fn chain(n: usize) -> Vec<Timing> {
        (0..n)
            .map(|i| Timing {
                parent: i.checked_sub(1),
                child_of: i > 0,
                blocks_parent: i > 0,
                start: i as u64,
                end: (2 * n - i) as u64,
            })
            .collect()
    }

    #[test]
    fn a_chain_of_100_000_spans_is_walked_without_recursion() {
        const DEPTH: usize = 100_000;
        let spans: Vec<JaegerSpan> = (0..DEPTH)
            .map(|i| {
                let parent = i.checked_sub(1).map(|p| format!("s{p}"));
                span(
                    &format!("s{i}"),
                    parent.as_deref(),
                    i as u64,
                    (2 * DEPTH - i) as u64,
                )
            })
            .collect();
        let trace = trace(spans);
        let sections = scaling::on_a_default_stack(|| critical_path(&trace));
        assert_eq!(
            sections.len(),
            2 * DEPTH - 1,
            "each span is on the path before and after its child, the innermost once"
        );
        let total: u64 = sections.iter().map(|s| s.end - s.start).sum();
        assert_eq!(
            total,
            2 * DEPTH as u64,
            "the sections add up to the root's duration"
        );
        let innermost = &sections[DEPTH - 1];
        assert_eq!(
            (innermost.span_id.as_str(), innermost.start, innermost.end),
            (
                format!("s{}", DEPTH - 1).as_str(),
                DEPTH as u64 - 1,
                DEPTH as u64 + 1
            ),
            "down the chain, then back up"
        );
    }

    #[test]
    fn the_walk_of_a_chain_grows_as_n_log_n_with_its_depth() {
        let (quarter, deep) = (chain(25_000), chain(100_000));
        assert_eq!(sections(&deep).len(), 2 * 100_000 - 1);
        scaling::growth(|| sections(&quarter), || sections(&deep)).assert_n_log_n(
            "the critical path",
            "a chain of 100,000 spans",
            "25,000 spans",
        );
    }

    #[test]
    fn time_on_the_path_adds_up_per_span() {
        let spans = vec![span("root", None, 0, 100), span("a", Some("root"), 10, 30)];
        let trace = trace(spans);
        let sections = critical_path(&trace);
        let totals = time_by_span(&sections);
        assert_eq!(totals["root"], 80);
        assert_eq!(totals["a"], 20);
    }
}
