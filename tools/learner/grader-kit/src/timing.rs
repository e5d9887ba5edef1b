//! Speed judged as a ratio, for the labs that grade performance.
//!
//! A grader never compares a time with a constant: a laptop on battery, a
//! busy neighbour in CI or a debug build would move it. It runs the
//! learner's code and a baseline side by side, in the same process, round
//! after round, alternating which goes first so that neither always runs
//! on a warm cache, and judges the median of the per-round ratios.
//!
//! Two things keep a busy machine from deciding a grade:
//!
//! - **Time on the CPU, not on the clock.** A run is timed as the time its
//!   thread ran ([`time_on_cpu`]): where the kernel says how long the
//!   thread waited for a core (Linux's `/proc/thread-self/schedstat`),
//!   that wait is left out, so two programs hogging the cores slow a run
//!   down without making it look dearer. Elsewhere it is the wall clock,
//!   and the fastest of a round's runs counts.
//! - **A disturbed measurement is taken again** ([`steady_cost_ratio`]):
//!   a ratio that cannot be (your code cheaper than the baseline it is
//!   built on) or rounds that disagree widely about the verdict are
//!   measured afresh, a bounded number of times; a measurement that stays
//!   disturbed is reported as such ([`crate::checks::disturbed`]), neither
//!   a pass nor a fail.
//!
//! And a timed run is a checked run: each run gets fresh input, and its
//! result is compared with the baseline's on the same input, so that code
//! that remembers answers, or that behaves differently when timed, gains
//! nothing.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which side of the comparison a round is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Baseline,
    Yours,
}

impl Side {
    fn slot(self) -> usize {
        match self {
            Side::Baseline => 0,
            Side::Yours => 1,
        }
    }
}

/// Runs `run(round, side)` for both sides in each of `rounds` rounds and
/// returns the median of (your time / the baseline's time): below 1 means
/// faster than the baseline, 5 means five times its cost. Each run is
/// timed on the CPU ([`time_on_cpu`]).
pub fn median_cost_ratio(rounds: usize, mut run: impl FnMut(usize, Side)) -> f64 {
    assert!(rounds > 0, "at least one round");
    let mut time = |round: usize, side: Side| -> Duration { time_on_cpu(|| run(round, side)).0 };
    let ratios: Vec<f64> = (0..rounds)
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
    median(&ratios)
}

/// How long `f` ran, and what it returned. Where the kernel keeps count of
/// the time a thread waits for a core (Linux), that wait is left out: the
/// result is the time `f` ran on the CPU (or slept, or waited for
/// something other than a core, which `f` itself chose to do). Elsewhere it
/// is the wall-clock time.
pub fn time_on_cpu<O>(f: impl FnOnce() -> O) -> (Duration, O) {
    let outer = Instant::now();
    let waited_before = run_delay();
    let started = Instant::now();
    let output = f();
    let wall = started.elapsed();
    let waited_after = run_delay();
    let outer = outer.elapsed();
    let waited = match (waited_before, waited_after) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => Duration::ZERO,
    };
    if waited.is_zero() {
        return (wall, output);
    }
    // The thread waited for a core somewhere between the two readings: all
    // of that wait lies within `outer`, which is `f`'s run and the two
    // readings. Left out, with what the readings themselves cost.
    let on_cpu = outer.saturating_sub(waited).saturating_sub(reading_cost());
    (on_cpu.min(wall), output)
}

/// How long this thread has waited for a core since it started, if the
/// kernel says.
fn run_delay() -> Option<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    parse_run_delay(&schedstat)
}

/// `/proc/<pid>/task/<tid>/schedstat` is three numbers: the nanoseconds
/// run on a CPU, the nanoseconds waited on a run queue, and how many times
/// the thread was given a CPU. A kernel that keeps no such count writes
/// `0 0 0`.
fn parse_run_delay(schedstat: &str) -> Option<Duration> {
    let mut numbers = schedstat.split_whitespace().map(str::parse::<u64>);
    let _on_cpu = numbers.next()?.ok()?;
    let waited = numbers.next()?.ok()?;
    let slices = numbers.next()?.ok()?;
    (slices > 0).then(|| Duration::from_nanos(waited))
}

/// What reading the run delay twice costs, at the least.
fn reading_cost() -> Duration {
    static COST: OnceLock<Duration> = OnceLock::new();
    *COST.get_or_init(|| {
        (0..16)
            .map(|_| {
                let started = Instant::now();
                let _ = run_delay();
                let _ = run_delay();
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    })
}

/// How a cost ratio is measured, and when the machine is judged to have
/// disturbed it.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Rounds in one measurement; the median of their ratios counts.
    pub rounds: usize,
    /// Runs of each side in a round, each on fresh input; the fastest run
    /// of each side makes the round's ratio (a run can only be slowed down
    /// by the machine, never sped up).
    pub runs_per_round: usize,
    /// The least ratio that can be: a median below it means the machine
    /// disturbed the measurement (your code cannot cost less than the
    /// baseline it adds telemetry to, say). 0 when anything can be.
    pub floor: f64,
    /// The most the rounds may disagree: the highest round's ratio over the
    /// lowest's, once the single highest and lowest are set aside (with five
    /// rounds or more).
    pub max_spread: f64,
    /// The ratio the verdict turns on, if there is one: rounds that disagree
    /// but all on the same side of it still give a verdict.
    pub target: Option<f64>,
    /// How many times to measure before reporting the measurement as
    /// disturbed.
    pub attempts: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            rounds: 7,
            runs_per_round: 3,
            floor: 0.0,
            max_spread: 1.5,
            target: None,
            attempts: 3,
        }
    }
}

/// A cost ratio the machine did not disturb.
#[derive(Clone, Debug, PartialEq)]
pub struct CostRatio {
    /// The median of the rounds' ratios: your cost over the baseline's.
    pub median: f64,
    /// Each round's ratio, in the order the rounds ran.
    pub rounds: Vec<f64>,
    /// Which measurement gave it: 1 for the first.
    pub attempt: usize,
}

impl CostRatio {
    fn new(rounds: Vec<f64>, attempt: usize) -> Self {
        Self {
            median: median(&rounds),
            rounds,
            attempt,
        }
    }

    /// The lowest and the highest round's ratio, once the single lowest
    /// and highest are set aside (with five rounds or more).
    pub fn range(&self) -> (f64, f64) {
        let mut sorted = self.rounds.clone();
        sorted.sort_by(f64::total_cmp);
        let kept = if sorted.len() >= 5 {
            &sorted[1..sorted.len() - 1]
        } else {
            &sorted[..]
        };
        (kept[0], kept[kept.len() - 1])
    }
}

/// A measurement that stayed disturbed however often it was taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Disturbed {
    /// What was wrong with it, for [`crate::checks::disturbed`].
    pub reason: String,
    /// The last measurement taken.
    pub last: CostRatio,
}

/// Measures the cost of your code against a baseline as a median ratio, and
/// measures again when the machine disturbed it (see [`Plan`]).
///
/// Every run gets input of its own: `input()` is called for each run of a
/// round, and the same input goes to both sides. `run(&input, side)` is what
/// is timed (on the CPU, [`time_on_cpu`]); making the input and comparing
/// the results are not. `compare(&input, baseline's, yours)` sees both
/// sides' results for every input, and panics (failing the check) when
/// yours is wrong: a timed run is a checked run.
///
/// ```ignore
/// let cost = match steady_cost_ratio(&plan, || fresh_batch(&mut rng), run, compare) {
///     Ok(cost) => cost,
///     Err(disturbed) => return grader_kit::checks::disturbed(disturbed.reason),
/// };
/// ```
pub fn steady_cost_ratio<I, O>(
    plan: &Plan,
    mut input: impl FnMut() -> I,
    mut run: impl FnMut(&I, Side) -> O,
    mut compare: impl FnMut(&I, O, O),
) -> Result<CostRatio, Disturbed> {
    assert!(plan.rounds > 0, "at least one round");
    remeasure(plan, |_attempt| {
        measure(plan, &mut input, &mut run, &mut compare)
    })
}

/// One measurement: each round's ratio of the fastest runs.
fn measure<I, O>(
    plan: &Plan,
    input: &mut impl FnMut() -> I,
    run: &mut impl FnMut(&I, Side) -> O,
    compare: &mut impl FnMut(&I, O, O),
) -> Vec<f64> {
    (0..plan.rounds)
        .map(|round| {
            let mut fastest = [Duration::MAX; 2];
            for at in 0..plan.runs_per_round.max(1) {
                let given = input();
                let order = if (round + at) % 2 == 0 {
                    [Side::Baseline, Side::Yours]
                } else {
                    [Side::Yours, Side::Baseline]
                };
                let mut outputs: [Option<O>; 2] = [None, None];
                for side in order {
                    let (took, output) = time_on_cpu(|| run(&given, side));
                    fastest[side.slot()] = fastest[side.slot()].min(took);
                    outputs[side.slot()] = Some(output);
                }
                let [Some(baseline), Some(yours)] = outputs else {
                    unreachable!("both sides ran")
                };
                compare(&given, baseline, yours);
            }
            let [baseline, yours] = fastest;
            yours.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
        })
        .collect()
}

/// Takes `measure(attempt)` until it is not disturbed, at most
/// `plan.attempts` times.
fn remeasure(
    plan: &Plan,
    mut measure: impl FnMut(usize) -> Vec<f64>,
) -> Result<CostRatio, Disturbed> {
    let mut attempt = 1;
    loop {
        let cost = CostRatio::new(measure(attempt), attempt);
        let Some(reason) = disturbance(plan, &cost) else {
            return Ok(cost);
        };
        if attempt >= plan.attempts {
            return Err(Disturbed {
                reason: format!(
                    "{reason}; measured {attempt} time{}",
                    if attempt == 1 { "" } else { "s" }
                ),
                last: cost,
            });
        }
        attempt += 1;
    }
}

/// Why a measurement cannot be trusted, if it cannot.
fn disturbance(plan: &Plan, cost: &CostRatio) -> Option<String> {
    if cost.median < plan.floor {
        return Some(format!(
            "it gave {:.2}x the baseline's cost, below the {:.2}x it cannot go under",
            cost.median, plan.floor
        ));
    }
    let (low, high) = cost.range();
    let spread = if low > 0.0 { high / low } else { f64::INFINITY };
    let verdict_in_doubt = plan
        .target
        .is_none_or(|target| low <= target && target <= high);
    (spread > plan.max_spread && verdict_in_doubt)
        .then(|| format!("its rounds disagreed, from {low:.2}x to {high:.2}x"))
}

/// The median (the upper one, for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
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

    #[test]
    fn the_run_delay_is_read_from_schedstat() {
        assert_eq!(
            parse_run_delay("7310 1200 4\n"),
            Some(Duration::from_nanos(1200))
        );
        assert_eq!(parse_run_delay("0 0 0\n"), None, "no statistics kept");
        assert_eq!(parse_run_delay("not numbers"), None);
        assert_eq!(parse_run_delay(""), None);
    }

    #[test]
    fn time_on_the_cpu_returns_the_output_and_keeps_what_the_code_chose_to_wait() {
        let (took, output) = time_on_cpu(|| {
            std::thread::sleep(Duration::from_millis(20));
            7
        });
        assert_eq!(output, 7);
        // Sleeping is no wait for a core: it counts.
        assert!(took >= Duration::from_millis(19), "{took:?}");
    }

    fn plan() -> Plan {
        Plan {
            rounds: 7,
            floor: 0.8,
            max_spread: 1.5,
            target: Some(2.0),
            attempts: 3,
            ..Plan::default()
        }
    }

    fn cost(rounds: &[f64]) -> CostRatio {
        CostRatio::new(rounds.to_vec(), 1)
    }

    #[test]
    fn a_ratio_that_cannot_be_or_rounds_in_doubt_are_disturbed() {
        let plan = plan();
        let impossible = cost(&[0.02, 0.01, 0.3, 0.02, 1.1, 0.01, 0.02]);
        assert!(disturbance(&plan, &impossible).is_some_and(|r| r.contains("cannot go under")));
        // Rounds on both sides of the target: no verdict.
        let in_doubt = cost(&[1.1, 2.6, 1.2, 3.0, 1.1, 2.8, 1.3]);
        assert!(disturbance(&plan, &in_doubt).is_some_and(|r| r.contains("disagreed")));
        // Rounds that disagree, but all far above the target: a verdict.
        let clearly_over = cost(&[30.0, 52.0, 41.0, 75.0, 33.0, 60.0, 38.0]);
        assert_eq!(disturbance(&plan, &clearly_over), None);
        // One wild round each way is set aside.
        let steady = cost(&[1.1, 1.2, 0.1, 1.15, 9.0, 1.1, 1.25]);
        assert_eq!(steady.range(), (1.1, 1.25));
        assert_eq!(disturbance(&plan, &steady), None);
        assert_eq!(steady.median, 1.15);
        // With no target, any wide disagreement is disturbed.
        let untargeted = Plan {
            target: None,
            ..plan
        };
        assert!(disturbance(&untargeted, &clearly_over).is_some());
    }

    #[test]
    fn a_disturbed_measurement_is_taken_again_up_to_the_plans_attempts() {
        let plan = plan();
        let disturbed = vec![1.1, 2.6, 1.2, 3.0, 1.1, 2.8, 1.3];
        let steady = vec![1.1, 1.2, 1.1, 1.15, 1.2, 1.1, 1.25];

        let mut taken = Vec::new();
        let third_time = remeasure(&plan, |attempt| {
            taken.push(attempt);
            if attempt < 3 {
                disturbed.clone()
            } else {
                steady.clone()
            }
        });
        assert_eq!(taken, [1, 2, 3]);
        assert_eq!(third_time, Ok(CostRatio::new(steady.clone(), 3)));

        let mut calls = 0;
        let never = remeasure(&plan, |_| {
            calls += 1;
            disturbed.clone()
        });
        assert_eq!(calls, plan.attempts, "bounded");
        let Err(gave_up) = never else {
            panic!("a measurement disturbed every time is reported as such")
        };
        assert!(
            gave_up.reason.contains("from 1.10x to 2.80x"),
            "{}",
            gave_up.reason
        );
        assert!(
            gave_up.reason.contains("measured 3 times"),
            "{}",
            gave_up.reason
        );
        assert_eq!(gave_up.last.attempt, 3);

        let mut first = 0;
        assert!(
            remeasure(&plan, |_| {
                first += 1;
                steady.clone()
            })
            .is_ok()
        );
        assert_eq!(first, 1, "a steady measurement is taken once");
    }

    #[test]
    fn every_run_gets_fresh_input_and_both_sides_results_are_compared() {
        let plan = Plan {
            rounds: 3,
            runs_per_round: 2,
            floor: 0.0,
            max_spread: f64::INFINITY,
            target: None,
            attempts: 1,
        };
        let mut made = 0;
        let mut ran = Vec::new();
        let mut compared = Vec::new();
        let cost = steady_cost_ratio(
            &plan,
            || {
                made += 1;
                made
            },
            |input: &u32, side| {
                ran.push((*input, side));
                spin(if side == Side::Yours { 200_000 } else { 20_000 });
                (*input, side)
            },
            |input: &u32, baseline: (u32, Side), yours: (u32, Side)| {
                compared.push(*input);
                assert_eq!(baseline, (*input, Side::Baseline));
                assert_eq!(yours, (*input, Side::Yours));
            },
        )
        .expect("no plan limit to break");
        assert_eq!(made, 6, "an input for every run of every round");
        assert_eq!(compared, [1, 2, 3, 4, 5, 6]);
        // Each input ran once on each side, the first side alternating.
        let firsts: Vec<Side> = ran.chunks(2).map(|pair| pair[0].1).collect();
        assert_eq!(
            firsts,
            [
                Side::Baseline,
                Side::Yours,
                Side::Yours,
                Side::Baseline,
                Side::Baseline,
                Side::Yours
            ]
        );
        assert_eq!(cost.rounds.len(), 3);
        assert_eq!(cost.attempt, 1);
    }
}
