//! The spread of a figure measured once per round: its median, the middle
//! half of the rounds and their extremes, and how far the median could move
//! were the same number of rounds run again.
//!
//! A figure measured a few times on a busy machine has no bell curve to
//! rely on, so nothing here assumes one: quartiles are read off the sorted
//! values, and the median's interval comes from resampling the rounds
//! themselves (a percentile bootstrap).

use std::fmt;

/// How many times the rounds are resampled for the median's interval:
/// enough that its bounds, the 50th resample from either end, move by less
/// than the two decimals a ratio is printed with.
pub const RESAMPLES: usize = 2_000;

/// One figure over the rounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    /// Where the middle half of the rounds lie: the first and third
    /// quartiles.
    pub lower_quartile: f64,
    pub upper_quartile: f64,
    pub min: f64,
    pub max: f64,
    /// Half the width of a 95 % interval of the median, by bootstrap: how
    /// far the median could move were as many rounds run again.
    pub half_width: f64,
    pub rounds: usize,
}

impl Spread {
    /// The spread of `values`, one per round (NaN where there are none),
    /// the median's interval resampled with a generator seeded with `seed`,
    /// so that the same values always give the same interval.
    pub fn of(values: &[f64], seed: u64) -> Self {
        let ascending = sorted(values);
        Self {
            median: quantile(&ascending, 0.5),
            lower_quartile: quantile(&ascending, 0.25),
            upper_quartile: quantile(&ascending, 0.75),
            min: ascending.first().copied().unwrap_or(f64::NAN),
            max: ascending.last().copied().unwrap_or(f64::NAN),
            half_width: bootstrap_half_width(values, RESAMPLES, seed),
            rounds: values.len(),
        }
    }
}

/// As a headline's spread reads: `IQR 0.86–0.91, ±0.02, 7 rounds`.
impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IQR {:.2}–{:.2}, {}, {} rounds",
            self.lower_quartile,
            self.upper_quartile,
            plus_or_minus(self.half_width),
            self.rounds
        )
    }
}

/// A half-width as `±0.02`, with a third decimal where two would round it
/// to nothing.
pub fn plus_or_minus(half_width: f64) -> String {
    if half_width < 0.01 {
        format!("±{half_width:.3}")
    } else {
        format!("±{half_width:.2}")
    }
}

/// The median of `values`: the middle one, or the mean of the middle two
/// when there is an even number of them (NaN when there are none).
pub fn median(values: &[f64]) -> f64 {
    quantile(&sorted(values), 0.5)
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The `p`-quantile of `sorted` (ascending): interpolated between the two
/// values either side of position `p × (n − 1)`, so that the median of an
/// even number of values is the mean of the middle two (NaN when there are
/// none).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let position = p * last as f64;
    let below = sorted[position.floor() as usize];
    let above = sorted[position.ceil() as usize];
    below + (above - below) * position.fract()
}

/// Half the width of a 95 % interval of the median of `values`, by
/// percentile bootstrap: the rounds drawn again `resamples` times with
/// replacement, each draw's median taken, and the 2.5th and 97.5th
/// percentiles of those medians read as the interval (NaN when there are no
/// values).
fn bootstrap_half_width(values: &[f64], resamples: usize, seed: u64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut draw = vec![0.0; values.len()];
    let medians: Vec<f64> = (0..resamples)
        .map(|_| {
            for drawn in &mut draw {
                *drawn = values[rng.usize(..values.len())];
            }
            median(&draw)
        })
        .collect();
    let medians = sorted(&medians);
    (quantile(&medians, 0.975) - quantile(&medians, 0.025)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 42;

    #[test]
    fn one_value_is_its_own_median_with_no_spread() {
        let spread = Spread::of(&[0.93], SEED);
        assert_eq!(
            spread,
            Spread {
                median: 0.93,
                lower_quartile: 0.93,
                upper_quartile: 0.93,
                min: 0.93,
                max: 0.93,
                half_width: 0.0,
                rounds: 1,
            }
        );
    }

    #[test]
    fn equal_values_have_no_spread() {
        let spread = Spread::of(&[1.05; 7], SEED);
        assert_eq!(
            (
                spread.median,
                spread.lower_quartile,
                spread.upper_quartile,
                spread.half_width
            ),
            (1.05, 1.05, 1.05, 0.0)
        );
        assert_eq!(spread.rounds, 7);
    }

    #[test]
    fn an_even_count_takes_the_mean_of_its_middle_two() {
        let spread = Spread::of(&[4.0, 1.0, 3.0, 2.0], SEED);
        assert_eq!(spread.median, 2.5);
        assert_eq!((spread.lower_quartile, spread.upper_quartile), (1.75, 3.25));
        assert_eq!((spread.min, spread.max), (1.0, 4.0));
        assert_eq!(median(&[6.0, 1.0]), 3.5);
    }

    #[test]
    fn an_odd_count_has_its_quartiles_on_values() {
        let spread = Spread::of(&[5.0, 3.0, 1.0, 4.0, 2.0], SEED);
        assert_eq!(
            (spread.lower_quartile, spread.median, spread.upper_quartile),
            (2.0, 3.0, 4.0)
        );
    }

    #[test]
    fn no_values_give_no_figures() {
        let spread = Spread::of(&[], SEED);
        assert!(spread.median.is_nan() && spread.half_width.is_nan());
        assert_eq!(spread.rounds, 0);
    }

    #[test]
    fn the_interval_lies_within_the_values_and_narrows_with_more_rounds() {
        let five = [0.86, 0.88, 0.90, 0.92, 0.94];
        let spread = Spread::of(&five, SEED);
        assert!(spread.half_width > 0.0);
        assert!(spread.half_width <= (spread.max - spread.min) / 2.0);
        // The same rounds three times over: the same values, measured three
        // times as often, pin the median down closer.
        let fifteen: Vec<f64> = five.iter().cycle().take(15).copied().collect();
        assert!(Spread::of(&fifteen, SEED).half_width < spread.half_width);
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let values = [0.97, 0.91, 1.02, 0.95, 0.99, 0.93];
        assert_eq!(Spread::of(&values, 7), Spread::of(&values, 7));
    }

    #[test]
    fn a_spread_reads_as_a_headline_shows_it() {
        let spread = Spread {
            median: 0.88,
            lower_quartile: 0.86,
            upper_quartile: 0.91,
            min: 0.84,
            max: 0.93,
            half_width: 0.02,
            rounds: 7,
        };
        assert_eq!(spread.to_string(), "IQR 0.86–0.91, ±0.02, 7 rounds");
        assert_eq!(plus_or_minus(0.004), "±0.004");
    }
}
