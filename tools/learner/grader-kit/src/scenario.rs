//! Randomised scenarios: the values a check feeds a learner's code are drawn
//! fresh on every run, so that no constant, no copied answer and no code
//! tuned to one example passes.
//!
//! A check asks for [`rng`] once and draws everything from it. The seed is
//! drawn from the clock, or read from `GRADER_SEED` to replay a run; when
//! the check fails, its message ends with the seed and the command that
//! replays it (the CLI passes the variable on to every check's process).

use std::sync::Mutex;

/// The generator [`rng`] returns, so that a grader's helpers can take one
/// (`&mut Rng`) without depending on `fastrand` themselves.
pub use fastrand::Rng;

/// The variable that replays a scenario: `GRADER_SEED=42 just lab 3`.
pub const SEED_VARIABLE: &str = "GRADER_SEED";

static SEED: Mutex<Option<u64>> = Mutex::new(None);

/// A random generator for this check's scenario. Every call in one check
/// returns a generator from the same seed, so helpers that each ask for one
/// draw the same values when a seed is replayed.
pub fn rng() -> fastrand::Rng {
    let mut seed = SEED.lock().unwrap_or_else(|p| p.into_inner());
    let value = *seed.get_or_insert_with(|| {
        std::env::var(SEED_VARIABLE)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| fastrand::u64(..) % 1_000_000)
    });
    fastrand::Rng::with_seed(value)
}

/// The seed this check drew, if it drew one.
pub(crate) fn drawn() -> Option<u64> {
    *SEED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets the seed, so that the next check draws its own.
pub(crate) fn reset() {
    *SEED.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// A check's draws, named: its one generator ([`rng`], whose seed a failure
/// prints) with the few draws most scenarios need. One `Dice` per check: a
/// second one would replay the same values. Graders add their own draws
/// with a trait of their own.
pub struct Dice(pub Rng);

impl Default for Dice {
    fn default() -> Self {
        Self(rng())
    }
}

impl Dice {
    pub fn new() -> Self {
        Self::default()
    }

    /// A number from `low` to `high`, both included.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0.u64(low..=high)
    }

    pub fn one_in(&mut self, n: u64) -> bool {
        self.between(1, n) == 1
    }

    /// One of `items`, which must not be empty.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.0.usize(..items.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        self.0.shuffle(items);
    }

    /// A lower-case word of `len` letters.
    pub fn word(&mut self, len: u64) -> String {
        word(&mut self.0, len as usize)
    }
}

/// `count` distinct values from `draw`, in the order drawn: distinct ids and
/// names, so that a check can tell one request's telemetry from another's.
pub fn distinct<T: PartialEq>(
    rng: &mut fastrand::Rng,
    count: usize,
    mut draw: impl FnMut(&mut fastrand::Rng) -> T,
) -> Vec<T> {
    let mut values = Vec::with_capacity(count);
    while values.len() < count {
        let value = draw(rng);
        if !values.contains(&value) {
            values.push(value);
        }
    }
    values
}

/// A lower-case word of `len` letters: a name no constant in a learner's
/// code can match.
pub fn word(rng: &mut fastrand::Rng, len: usize) -> String {
    (0..len).map(|_| rng.lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_check_draws_from_one_seed_and_the_next_check_from_another_run() {
        reset();
        let first: Vec<u64> = (0..4).map(|_| rng().u64(..)).collect();
        assert!(first.windows(2).all(|w| w[0] == w[1]), "one seed per check");
        let seed = drawn().expect("a seed was drawn");
        reset();
        assert_eq!(drawn(), None);
        let again = fastrand::Rng::with_seed(seed).u64(..);
        assert_eq!(again, first[0], "the printed seed replays the values");
    }

    #[test]
    fn distinct_values_are_distinct() {
        let mut rng = fastrand::Rng::with_seed(7);
        let values = distinct(&mut rng, 20, |r| {
            u32::from(r.u8(..10)) * 3 + u32::from(r.u8(..3))
        });
        for (i, v) in values.iter().enumerate() {
            assert!(!values[i + 1..].contains(v));
        }
        assert_eq!(word(&mut rng, 9).len(), 9);
    }
}
