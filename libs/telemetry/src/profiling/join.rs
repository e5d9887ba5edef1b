//! Which span each CPU sample was taken in: the span that was innermost on
//! the sampled thread at the sample's instant, and the ids it was exported
//! with. Pure bookkeeping over [`super::timeline`]'s records, carried from
//! one window of samples to the next.

use std::collections::HashMap;

use super::timeline::{Change, Closed, Timeline};

/// A sample (or several, with the same stack, counted in `weight`) taken
/// on `thread` at `at_ns`, carrying `stack`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample<S> {
    pub thread: u64,
    pub at_ns: u64,
    pub weight: i64,
    pub stack: S,
}

/// A sample placed in its span.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct InSpan<S> {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sample: Sample<S>,
}

/// What became of the samples of one window.
#[derive(Debug, PartialEq)]
pub(crate) struct Joined<S> {
    pub in_spans: Vec<InSpan<S>>,
    /// Samples taken while no span was entered on their thread (the
    /// runtime, the exporter's thread): weight.
    pub outside_spans: i64,
    /// Samples whose span did not close within [`MAX_WAIT_WINDOWS`]: weight.
    pub never_closed: i64,
}

/// A sample whose span has not closed yet waits this many windows (a
/// second each) for it; a span open longer is rare in a request path,
/// and its samples are counted as lost rather than kept without bound.
pub(crate) const MAX_WAIT_WINDOWS: u32 = 30;

/// The join's state between windows.
#[derive(Debug, Default)]
pub(crate) struct Joiner<S> {
    /// Per thread, the innermost span at the end of the last window.
    innermost: HashMap<u64, u64>,
    /// Samples in a span not yet closed, with the windows they have waited.
    waiting: Vec<(u64, Sample<S>, u32)>,
}

impl<S> Joiner<S> {
    /// Places this window's `samples` with this window's `timeline`, and
    /// the samples still waiting from earlier windows.
    pub(crate) fn join(&mut self, timeline: Timeline, samples: Vec<Sample<S>>) -> Joined<S> {
        let Timeline { changes, closed } = timeline;
        let mut by_thread: HashMap<u64, Vec<Change>> = HashMap::new();
        for change in changes {
            by_thread.entry(change.thread).or_default().push(change);
        }
        for changes in by_thread.values_mut() {
            // Each thread records its own changes in order; the sort only
            // guards against a clock step between two of them.
            changes.sort_by_key(|change| change.at_ns);
        }
        let mut outside_spans = 0;
        let mut placed: Vec<(u64, Sample<S>, u32)> = std::mem::take(&mut self.waiting);
        for sample in samples {
            let innermost = by_thread
                .get(&sample.thread)
                .and_then(|changes| {
                    let after = changes.partition_point(|change| change.at_ns <= sample.at_ns);
                    after.checked_sub(1).map(|last| changes[last].innermost)
                })
                .or_else(|| self.innermost.get(&sample.thread).copied())
                .unwrap_or(0);
            if innermost == 0 {
                outside_spans += sample.weight;
            } else {
                placed.push((innermost, sample, 0));
            }
        }
        for (thread, changes) in &by_thread {
            if let Some(last) = changes.last() {
                self.innermost.insert(*thread, last.innermost);
            }
        }
        let closes = closes_by_span(closed);
        let mut in_spans = Vec::new();
        let mut never_closed = 0;
        for (span, sample, waited) in placed {
            // A span id is used again once its span closed: the span the
            // sample was in is the first close of that id after it.
            let close = closes.get(&span).and_then(|closes| {
                closes
                    .iter()
                    .find(|close| close.at_ns >= sample.at_ns)
                    .copied()
            });
            match close {
                Some(close) => in_spans.push(InSpan {
                    trace_id: close.trace_id,
                    span_id: close.span_id,
                    sample,
                }),
                None if waited + 1 >= MAX_WAIT_WINDOWS => never_closed += sample.weight,
                None => self.waiting.push((span, sample, waited + 1)),
            }
        }
        Joined {
            in_spans,
            outside_spans,
            never_closed,
        }
    }

    /// The samples still waiting for their span to close.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

fn closes_by_span(closed: Vec<Closed>) -> HashMap<u64, Vec<Closed>> {
    let mut by_span: HashMap<u64, Vec<Closed>> = HashMap::new();
    for close in closed {
        by_span.entry(close.span).or_default().push(close);
    }
    for closes in by_span.values_mut() {
        closes.sort_by_key(|close| close.at_ns);
    }
    by_span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(thread: u64, at_ns: u64, innermost: u64) -> Change {
        Change {
            thread,
            at_ns,
            innermost,
        }
    }

    fn closed(span: u64, at_ns: u64, id: u8) -> Closed {
        Closed {
            span,
            at_ns,
            trace_id: [id; 16],
            span_id: [id; 8],
        }
    }

    fn sample(thread: u64, at_ns: u64, stack: &'static str) -> Sample<&'static str> {
        Sample {
            thread,
            at_ns,
            weight: 1,
            stack,
        }
    }

    fn spans_of(joined: &Joined<&'static str>) -> Vec<(&'static str, u8)> {
        joined
            .in_spans
            .iter()
            .map(|in_span| (in_span.sample.stack, in_span.span_id[0]))
            .collect()
    }

    #[test]
    fn a_sample_belongs_to_the_innermost_span_of_its_thread_at_its_instant() {
        let mut joiner = Joiner::default();
        let timeline = Timeline {
            changes: vec![
                change(1, 10, 7), // thread 1 enters span 7
                change(2, 12, 8), // thread 2 enters span 8
                change(1, 20, 9), // thread 1 enters span 9, inside 7
                change(1, 30, 7), // and leaves it
                change(1, 40, 0), // and leaves 7
                change(2, 45, 0),
            ],
            closed: vec![closed(9, 31, 90), closed(7, 41, 70), closed(8, 46, 80)],
        };
        let joined = joiner.join(
            timeline,
            vec![
                sample(1, 5, "before any span"),
                sample(1, 15, "in 7"),
                sample(1, 25, "in 9"),
                sample(2, 25, "in 8, on the other thread"),
                sample(1, 35, "in 7 again"),
                sample(1, 50, "after"),
            ],
        );
        assert_eq!(
            spans_of(&joined),
            [
                ("in 7", 70),
                ("in 9", 90),
                ("in 8, on the other thread", 80),
                ("in 7 again", 70)
            ]
        );
        assert_eq!(joined.outside_spans, 2);
        assert_eq!(joined.never_closed, 0);
    }

    #[test]
    fn a_span_entered_in_an_earlier_window_and_closed_in_a_later_one_gets_its_samples() {
        let mut joiner = Joiner::default();
        let first = joiner.join(
            Timeline {
                changes: vec![change(1, 10, 7)],
                closed: vec![],
            },
            vec![sample(1, 20, "first window")],
        );
        assert!(first.in_spans.is_empty());
        assert_eq!(joiner.waiting(), 1);
        // No change on thread 1 in this window: span 7 is still innermost.
        let second = joiner.join(
            Timeline {
                changes: vec![],
                closed: vec![closed(7, 150, 70)],
            },
            vec![sample(1, 120, "second window")],
        );
        assert_eq!(
            spans_of(&second),
            [("first window", 70), ("second window", 70)]
        );
        assert_eq!(joiner.waiting(), 0);
    }

    #[test]
    fn a_span_id_used_again_is_told_apart_by_time() {
        let mut joiner = Joiner::default();
        let joined = joiner.join(
            Timeline {
                changes: vec![
                    change(1, 10, 7),
                    change(1, 20, 0),
                    change(1, 30, 7),
                    change(1, 40, 0),
                ],
                // Span id 7 closed at 21, then was given to a new span.
                closed: vec![closed(7, 21, 71), closed(7, 41, 72)],
            },
            vec![sample(1, 15, "first"), sample(1, 35, "second")],
        );
        assert_eq!(spans_of(&joined), [("first", 71), ("second", 72)]);
    }

    #[test]
    fn samples_of_a_span_that_never_closes_are_counted_not_kept() {
        let mut joiner = Joiner::default();
        let mut lost = 0;
        let mut first = Timeline::default();
        first.changes.push(change(1, 10, 7));
        lost += joiner
            .join(first, vec![sample(1, 20, "open forever")])
            .never_closed;
        for _ in 1..MAX_WAIT_WINDOWS {
            lost += joiner.join(Timeline::default(), vec![]).never_closed;
        }
        assert_eq!(lost, 1);
        assert_eq!(joiner.waiting(), 0);
    }
}
