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

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::jaeger::{RefType, Trace};

/// A stretch of one span on the critical path, in microseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(rename = "spanID")]
    pub span_id: String,
    pub start: u64,
    pub end: u64,
}

struct Node {
    start: u64,
    end: u64,
    parent: Option<usize>,
    /// Children that block this span, latest-finishing first.
    children: Vec<usize>,
    /// The first child not yet walked or passed over. The times we return
    /// to a span at only move back, so this only moves forward: each child
    /// is looked at once, and the walk is linear in the number of spans.
    cursor: usize,
}

/// The critical path of `trace`, from its end back to its start.
pub fn critical_path(trace: &Trace) -> Vec<Section> {
    let spans = &trace.spans;
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(spans.len());
    index.extend(
        spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i)),
    );
    // Each span's parent in this trace, by its first reference.
    let parents: Vec<Option<(usize, RefType)>> = spans
        .iter()
        .map(|span| {
            let reference = span.references.first()?;
            let parent = *index.get(reference.span_id.as_str())?;
            Some((parent, reference.ref_type))
        })
        .collect();
    // The root: a span with no parent here, the earliest (then the longest).
    let Some(root) = (0..spans.len())
        .filter(|&i| !matches!(parents[i], Some((_, RefType::ChildOf))))
        .min_by_key(|&i| (spans[i].start_time, std::cmp::Reverse(spans[i].duration)))
    else {
        return Vec::new();
    };
    let kind = |i: usize| spans[i].tag("span.kind").and_then(|v| v.as_str());

    // The children that block each span.
    let mut blocking_children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, parent) in parents.iter().enumerate() {
        let Some((parent, ref_type)) = *parent else {
            continue;
        };
        let follows = ref_type == RefType::FollowsFrom
            || (kind(i) == Some("consumer") && kind(parent) == Some("producer"));
        if !follows && parent != i {
            blocking_children[parent].push(i);
        }
    }

    // Sanitise top-down from the root: clamp, or drop with the subtree.
    let mut nodes: Vec<Option<Node>> = (0..trace.spans.len()).map(|_| None).collect();
    let root_span = &trace.spans[root];
    nodes[root] = Some(Node {
        start: root_span.start_time,
        end: root_span.start_time + root_span.duration,
        parent: None,
        children: Vec::new(),
        cursor: 0,
    });
    let mut pending = vec![root];
    while let Some(parent) = pending.pop() {
        let (parent_start, parent_end) = nodes[parent]
            .as_ref()
            .map(|n| (n.start, n.end))
            .expect("kept");
        let mut kept = Vec::new();
        for &child in &blocking_children[parent] {
            let span = &trace.spans[child];
            let (start, end) = (span.start_time, span.start_time + span.duration);
            if start > parent_end || end < parent_start || nodes[child].is_some() {
                continue;
            }
            nodes[child] = Some(Node {
                start: start.max(parent_start),
                end: end.min(parent_end),
                parent: Some(parent),
                children: Vec::new(),
                cursor: 0,
            });
            kept.push(child);
            pending.push(child);
        }
        let bounds = |c: &usize| nodes[*c].as_ref().map(|n| (n.end, n.start)).expect("kept");
        kept.sort_by_key(|c| std::cmp::Reverse(bounds(c)));
        nodes[parent].as_mut().expect("kept").children = kept;
    }
    let node = |nodes: &[Option<Node>], i: usize| -> (u64, u64) {
        nodes[i].as_ref().map(|n| (n.start, n.end)).expect("kept")
    };

    // Walk back from the root's end.
    let mut path = Vec::new();
    let mut current = root;
    let mut returning_at: Option<u64> = None;
    loop {
        let (start, end) = node(&nodes, current);
        let until = returning_at.unwrap_or(end);
        let next = {
            let this = nodes[current].as_ref().expect("kept");
            let mut cursor = this.cursor;
            while let (Some(t), Some(&c)) = (returning_at, this.children.get(cursor)) {
                if node(&nodes, c).1 <= t {
                    break;
                }
                cursor += 1;
            }
            this.children.get(cursor).map(|&c| (c, cursor))
        };
        let section = |from: u64| {
            (from < until).then(|| Section {
                span_id: trace.spans[current].span_id.clone(),
                start: from,
                end: until,
            })
        };
        match next {
            Some((child, cursor)) => {
                path.extend(section(node(&nodes, child).1));
                nodes[current].as_mut().expect("kept").cursor = cursor + 1;
                current = child;
                returning_at = None;
            }
            None => {
                path.extend(section(start));
                match nodes[current].as_ref().and_then(|n| n.parent) {
                    Some(parent) => {
                        returning_at = Some(start);
                        current = parent;
                    }
                    None => break,
                }
            }
        }
    }
    path
}

/// Microseconds of the path that belong to each span.
pub fn time_by_span(path: &[Section]) -> HashMap<&str, u64> {
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for section in path {
        *totals.entry(section.span_id.as_str()).or_default() += section.end - section.start;
    }
    totals
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::jaeger::{JaegerSpan, Process, Reference, Tag};

    fn span(id: &str, parent: Option<&str>, start: u64, end: u64) -> JaegerSpan {
        JaegerSpan {
            trace_id: "t".to_owned(),
            span_id: id.to_owned(),
            operation_name: id.to_owned(),
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
            process_id: "p1".to_owned(),
            tags: Vec::new(),
            logs: Vec::new(),
            flags: 1,
            warnings: None,
        }
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
    fn time_on_the_path_adds_up_per_span() {
        let spans = vec![span("root", None, 0, 100), span("a", Some("root"), 10, 30)];
        let trace = trace(spans);
        let sections = critical_path(&trace);
        let totals = time_by_span(&sections);
        assert_eq!(totals["root"], 80);
        assert_eq!(totals["a"], 20);
    }
}
