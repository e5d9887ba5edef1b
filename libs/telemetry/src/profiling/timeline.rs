//! What the join needs from the spans, recorded only while a profile is
//! being taken: on each thread, when the innermost entered span changed
//! (the span a CPU sample on that thread belongs to), and for each span
//! closed, its OpenTelemetry ids.
//!
//! [`crate::cpu_time`] already keeps each thread's stack of entered spans;
//! it calls [`innermost_changed`] at every enter and exit, and its span
//! processor calls [`span_closed`] as OpenTelemetry ends a span. Off, each
//! costs one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use tracing::span::Id;

/// On a thread (`pthread_self`, as the sampler names threads), from
/// `at_ns`, the innermost entered span (a `tracing` span id; 0 for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub thread: u64,
    pub at_ns: u64,
    pub innermost: u64,
}

/// A span closed at `at_ns`, with the ids OpenTelemetry exported it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Closed {
    pub span: u64,
    pub at_ns: u64,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

/// What was recorded since the last [`take`].
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    pub changes: Vec<Change>,
    pub closed: Vec<Closed>,
}

/// At most this many records between two takes (a second apart): about
/// 50 MB. A busy demo service records a few hundred thousand a second;
/// past the bound, records are dropped and counted
/// (`span_profile_timeline_records_dropped`), and the samples that needed
/// them go unplaced.
const MAX_RECORDS: usize = 2_000_000;

static RECORDING: AtomicBool = AtomicBool::new(false);
static TIMELINE: Mutex<Timeline> = Mutex::new(Timeline {
    changes: Vec::new(),
    closed: Vec::new(),
});

pub(crate) fn start_recording() {
    RECORDING.store(true, Ordering::Relaxed);
}

pub(crate) fn stop_recording() {
    RECORDING.store(false, Ordering::Relaxed);
}

pub(crate) fn is_recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Everything recorded since the last take.
pub(crate) fn take() -> Timeline {
    std::mem::take(&mut *TIMELINE.lock().unwrap_or_else(PoisonError::into_inner))
}

/// The wall clock, in nanoseconds since the Unix epoch: the clock the
/// sampler stamps its samples with.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// The calling thread, as the sampler names it (`pthread_self`).
fn this_thread() -> u64 {
    nix::sys::pthread::pthread_self() as u64
}

fn record(change: impl FnOnce(&mut Timeline)) {
    let mut timeline = TIMELINE.lock().unwrap_or_else(PoisonError::into_inner);
    if timeline.changes.len() + timeline.closed.len() >= MAX_RECORDS {
        super::counters::counters().records_dropped.inc();
        return;
    }
    change(&mut timeline);
}

/// The innermost span entered on this thread is now `innermost`.
pub(crate) fn innermost_changed(innermost: Option<&Id>) {
    if !is_recording() {
        return;
    }
    let change = Change {
        thread: this_thread(),
        at_ns: now_ns(),
        innermost: innermost.map_or(0, Id::into_u64),
    };
    record(|timeline| timeline.changes.push(change));
}

/// The `tracing` span `span` was exported with these ids, now.
pub(crate) fn span_closed(span: u64, trace_id: [u8; 16], span_id: [u8; 8]) {
    if !is_recording() {
        return;
    }
    let closed = Closed {
        span,
        at_ns: now_ns(),
        trace_id,
        span_id,
    };
    record(|timeline| timeline.closed.push(closed));
}
