//! Speed judged as a ratio, for the labs that grade performance.
//!
//! A grader never compares a time with a constant: a laptop on battery, a
//! busy neighbour in CI or a debug build would move it. It runs the
//! learner's code and a baseline side by side, in the same process, round
//! after round, alternating which goes first so that neither always runs
//! on a warm cache, and judges the median of the per-round ratios.

use std::time::{Duration, Instant};

/// Which side of the comparison a round is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Baseline,
    Yours,
}

/// Runs `run(round, side)` for both sides in each of `rounds` rounds and
/// returns the median of (your time / the baseline's time): below 1 means
/// faster than the baseline, 5 means five times its cost.
pub fn median_cost_ratio(rounds: usize, mut run: impl FnMut(usize, Side)) -> f64 {
    assert!(rounds > 0, "at least one round");
    let mut time = |round: usize, side: Side| -> Duration {
        let started = Instant::now();
        run(round, side);
        started.elapsed()
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (baseline, yours) = if round % 2 == 0 {
                let baseline = time(round, Side::Baseline);
                (baseline, time(round, Side::Yours))
            } else {
                let yours = time(round, Side::Yours);
                (time(round, Side::Baseline), yours)
            };
            yours.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(iterations: u64) {
        let mut x = 0_u64;
        for i in 0..iterations {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }

    #[test]
    fn more_work_costs_more_and_sides_alternate() {
        let mut order = Vec::new();
        let ratio = median_cost_ratio(5, |round, side| {
            if round < 2 {
                order.push(side);
            }
            spin(if side == Side::Yours { 400_000 } else { 40_000 });
        });
        assert!(ratio > 3.0, "ten times the work: {ratio}");
        assert_eq!(
            order,
            [Side::Baseline, Side::Yours, Side::Yours, Side::Baseline]
        );
    }
}
