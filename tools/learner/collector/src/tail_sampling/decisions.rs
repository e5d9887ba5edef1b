//! The decisions taken lately, so that a span arriving after its trace
//! was decided (a late span) follows its trace: stored with a trace that
//! was kept, dropped with one that was not.
//!
//! They are bounded: the oldest are forgotten first. A late span whose
//! trace's decision is forgotten starts a trace of its own, decided alone.

use std::collections::VecDeque;

use foldhash::HashMap;

/// Decisions remembered: at the demo's few dozen traces a second, the last
/// half hour or more, in some 6 MB (an id, a flag and the map's room for
/// them, and the id again in the order of decisions).
pub const REMEMBERED_DECISIONS: usize = 100_000;

/// Whether each recent trace was kept, by its id as a number.
pub(super) struct Decisions {
    kept: HashMap<u128, bool>,
    /// The ids, oldest decision first.
    order: VecDeque<u128>,
}

impl Decisions {
    pub(super) fn new() -> Self {
        Self {
            kept: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// Remembers a decision, forgetting the oldest past
    /// [`REMEMBERED_DECISIONS`].
    pub(super) fn remember(&mut self, trace_id: &str, kept: bool) {
        let Some(id) = number(trace_id) else {
            return;
        };
        if self.kept.insert(id, kept).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > REMEMBERED_DECISIONS {
            if let Some(oldest) = self.order.pop_front() {
                self.kept.remove(&oldest);
            }
        }
    }

    /// Whether the trace was kept, if it was decided lately.
    pub(super) fn of(&self, trace_id: &str) -> Option<bool> {
        self.kept.get(&number(trace_id)?).copied()
    }
}

/// A trace id (32 hex digits, as OTLP's 16 bytes are read) as a number: a
/// sixth of the memory of its text.
fn number(trace_id: &str) -> Option<u128> {
    u128::from_str_radix(trace_id, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_decisions_are_forgotten_first() {
        let mut decisions = Decisions::new();
        let id = |n: usize| format!("{n:032x}");
        for n in 0..=REMEMBERED_DECISIONS {
            decisions.remember(&id(n), n % 2 == 0);
        }
        assert_eq!(decisions.of(&id(0)), None, "forgotten");
        assert_eq!(decisions.of(&id(1)), Some(false));
        assert_eq!(decisions.of(&id(2)), Some(true));
        assert_eq!(decisions.kept.len(), REMEMBERED_DECISIONS);
    }
}
