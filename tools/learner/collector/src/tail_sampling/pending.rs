//! The traces waiting for their decision: every span of each, until the
//! decision wait has passed since the trace's last span arrived.
//!
//! Each arrival moves its trace to the back of the line, so the line is in
//! the order traces fall due: the front is always the first to decide,
//! whether its wait is over or the buffer is full and the oldest must be
//! decided early. Its spans and their estimated bytes are counted as they
//! come and go, for the buffer's bounds.

use std::collections::BTreeMap;
use std::time::Instant;

use foldhash::HashMap;
use trace_analysis::model::Span;

/// What a pending trace costs beyond its spans, estimated as the store
/// estimates a stored trace's: its id twice (the map's key and its place
/// in the line), the map's entry, the list of spans' header.
const TRACE_OVERHEAD_BYTES: usize = 256;

/// One trace waiting.
struct PendingTrace {
    spans: Vec<Span>,
    /// Its spans' estimated bytes and [`TRACE_OVERHEAD_BYTES`].
    bytes: usize,
    /// Its place in the line: the number of its last span's arrival.
    arrival: u64,
    /// When its wait is over.
    due: Instant,
}

/// The traces waiting, in the order they fall due.
#[derive(Default)]
pub(super) struct Pending {
    traces: HashMap<String, PendingTrace>,
    /// Trace ids by their last arrival, the oldest first.
    line: BTreeMap<u64, String>,
    spans: usize,
    bytes: usize,
    arrivals: u64,
}

impl Pending {
    /// Adds a span, of `bytes` estimated, to its trace, which is due at
    /// `due` and goes to the back of the line.
    pub(super) fn add(&mut self, span: Span, bytes: usize, due: Instant) {
        self.arrivals += 1;
        let arrival = self.arrivals;
        self.spans += 1;
        self.bytes += bytes;
        match self.traces.get_mut(&span.trace_id) {
            Some(trace) => {
                self.line.remove(&trace.arrival);
                self.line.insert(arrival, span.trace_id.clone());
                trace.arrival = arrival;
                trace.due = due;
                trace.bytes += bytes;
                trace.spans.push(span);
            }
            None => {
                self.bytes += TRACE_OVERHEAD_BYTES;
                self.line.insert(arrival, span.trace_id.clone());
                self.traces.insert(
                    span.trace_id.clone(),
                    PendingTrace {
                        spans: vec![span],
                        bytes: bytes + TRACE_OVERHEAD_BYTES,
                        arrival,
                        due,
                    },
                );
            }
        }
    }

    /// The front trace, its id and spans, if its wait is over at `now`.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<(String, Vec<Span>)> {
        self.take_front_if(|trace| trace.due <= now)
    }

    /// The front trace, its id and spans, whether its wait is over or not.
    pub(super) fn take_oldest(&mut self) -> Option<(String, Vec<Span>)> {
        self.take_front_if(|_| true)
    }

    fn take_front_if(
        &mut self,
        ready: impl FnOnce(&PendingTrace) -> bool,
    ) -> Option<(String, Vec<Span>)> {
        let (_, front) = self.line.first_key_value()?;
        if !ready(self.traces.get(front)?) {
            return None;
        }
        let (_, id) = self.line.pop_first()?;
        let trace = self.traces.remove(&id)?;
        self.spans -= trace.spans.len();
        self.bytes -= trace.bytes;
        Some((id, trace.spans))
    }

    /// When the front trace's wait is over, if any trace waits.
    pub(super) fn next_due(&self) -> Option<Instant> {
        let (_, front) = self.line.first_key_value()?;
        self.traces.get(front).map(|trace| trace.due)
    }

    /// Whether it holds more than `max_spans` spans or `max_bytes`
    /// estimated bytes.
    pub(super) fn is_over(&self, max_spans: usize, max_bytes: usize) -> bool {
        self.spans > max_spans || self.bytes > max_bytes
    }

    pub(super) fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    pub(super) fn spans(&self) -> usize {
        self.spans
    }

    pub(super) fn traces(&self) -> usize {
        self.traces.len()
    }

    /// The estimated bytes of the traces waiting.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn span(trace: u32) -> Span {
        Span {
            trace_id: format!("{trace:032x}"),
            ..Span::default()
        }
    }

    #[test]
    fn traces_fall_due_in_the_order_of_their_last_arrival() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut pending = Pending::default();
        pending.add(span(1), 100, at(10));
        pending.add(span(2), 100, at(20));
        // Trace 1 again: its wait starts over, behind trace 2.
        pending.add(span(1), 100, at(30));
        assert_eq!(pending.next_due(), Some(at(20)));
        assert!(pending.take_due(at(19)).is_none(), "not yet");
        let (first, _) = pending.take_due(at(30)).expect("trace 2 is due");
        let (second, spans) = pending.take_due(at(30)).expect("then trace 1");
        assert_eq!(
            (first, second),
            (format!("{:032x}", 2), format!("{:032x}", 1))
        );
        assert_eq!(spans.len(), 2, "whole");
        assert!(pending.is_empty());
        assert_eq!((pending.spans(), pending.bytes()), (0, 0));
    }

    #[test]
    fn the_counts_are_of_what_waits() {
        let due = Instant::now();
        let mut pending = Pending::default();
        for trace in 0..3 {
            pending.add(span(trace), 1_000, due);
            pending.add(span(trace), 1_000, due);
        }
        assert_eq!((pending.spans(), pending.traces()), (6, 3));
        assert_eq!(pending.bytes(), 3 * (2_000 + TRACE_OVERHEAD_BYTES));
        assert!(pending.is_over(5, usize::MAX));
        assert!(pending.is_over(6, 6_000));
        assert!(!pending.is_over(6, 3 * (2_000 + TRACE_OVERHEAD_BYTES)));
        let (oldest, _) = pending.take_oldest().expect("a trace waits");
        assert_eq!(oldest, format!("{:032x}", 0));
        assert_eq!(pending.spans(), 4);
    }
}
