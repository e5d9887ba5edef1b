//! The head sampler, another design: inside the SDK's parent-based
//! sampler, which still gives every span with a parent its parent's
//! decision, a root sampler of its own that keeps evenly spaced roots by
//! counting them (at a tenth, one root in every ten) rather than by trace
//! id.
//!
//! Counting keeps the share exactly, where a share by trace id keeps about
//! it; but only the service that counted knows which traces it kept, which
//! is fine at the head: the decision travels with the trace, in its
//! sampled flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::{Link, SpanKind, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use crate::budget::Budget;

/// The sampler every service is built with, for `budget`: of the traces
/// that start here, the share whose spans the store can take.
pub fn head_sampler(budget: &Budget) -> Sampler {
    let offered = budget.expected_traces_per_second * budget.expected_spans_per_trace;
    let roots = EvenlySpacedRoots {
        share: budget.stored_spans_per_second / offered,
        started: Arc::default(),
    };
    Sampler::ParentBased(Box::new(roots))
}

/// Keeps `share` of the roots, evenly spaced: a root is kept when it makes
/// the count of roots started, times `share`, reach a whole number more.
#[derive(Clone, Debug)]
struct EvenlySpacedRoots {
    share: f64,
    /// Roots started so far, shared by every clone the SDK makes.
    started: Arc<AtomicU64>,
}

impl ShouldSample for EvenlySpacedRoots {
    fn should_sample(
        &self,
        _parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let before = self.started.fetch_add(1, Ordering::Relaxed) as f64;
        let kept = ((before + 1.0) * self.share).floor() > (before * self.share).floor();
        SamplingResult {
            decision: if kept {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            // The parent-based sampler around it reads the decision alone,
            // and a root has no trace state to carry on.
            trace_state: TraceState::default(),
        }
    }
}
