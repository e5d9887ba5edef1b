//! Which problems a drill plants: drawn at random from the catalogue, from
//! a seed, so that a drill can be replayed (the same seed draws the same
//! problems) and two learners can race on one drill.

use shop::Problem;

/// How many problems a drill plants when not told: one to three, drawn.
const DRAWN_COUNT: std::ops::RangeInclusive<usize> = 1..=3;

/// The problems seed `seed` draws, in the order drawn: `count` of them,
/// or one to three (drawn too) when `None`; never one twice.
pub fn draw(seed: u64, count: Option<usize>) -> Vec<Problem> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let count = count
        .unwrap_or_else(|| rng.usize(DRAWN_COUNT))
        .clamp(1, Problem::ALL.len());
    let mut catalogue = Problem::ALL;
    rng.shuffle(&mut catalogue);
    catalogue[..count].to_vec()
}

/// A seed for a drill not given one: short enough to type back.
pub fn random_seed() -> u64 {
    fastrand::u64(1..1_000_000)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn a_seed_draws_the_same_problems_every_time() {
        for seed in 0..100 {
            assert_eq!(draw(seed, None), draw(seed, None), "seed {seed}");
            assert_eq!(draw(seed, Some(4)), draw(seed, Some(4)), "seed {seed}");
        }
        assert_ne!(
            (0..20).map(|seed| draw(seed, Some(3))).collect::<Vec<_>>(),
            vec![draw(0, Some(3)); 20],
            "different seeds draw differently"
        );
    }

    #[test]
    fn one_to_three_distinct_problems_unless_told() {
        let mut counts = BTreeSet::new();
        for seed in 0..500 {
            let drawn = draw(seed, None);
            let distinct: BTreeSet<Problem> = drawn.iter().copied().collect();
            assert_eq!(distinct.len(), drawn.len(), "seed {seed}: {drawn:?}");
            assert!(DRAWN_COUNT.contains(&drawn.len()), "seed {seed}: {drawn:?}");
            counts.insert(drawn.len());
        }
        assert_eq!(
            counts,
            DRAWN_COUNT.collect::<BTreeSet<usize>>(),
            "every count is drawn"
        );
        assert_eq!(draw(7, Some(12)).len(), 12);
        assert_eq!(draw(7, Some(99)).len(), Problem::ALL.len());
        assert_eq!(draw(7, Some(0)).len(), 1);
    }

    #[test]
    fn over_many_seeds_every_problem_is_drawn() {
        let drawn: BTreeSet<Problem> = (0..1_000).flat_map(|seed| draw(seed, None)).collect();
        assert_eq!(
            drawn,
            Problem::ALL.into_iter().collect::<BTreeSet<Problem>>()
        );
    }

    #[test]
    fn a_random_seed_is_short() {
        for _ in 0..100 {
            assert!((1..1_000_000).contains(&random_seed()));
        }
    }
}
