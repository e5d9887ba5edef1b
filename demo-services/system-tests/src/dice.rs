//! A test's random choices, made again from the same seed: a failure says
//! its seed, and the environment variable that makes the same choices
//! again.

use std::hash::{BuildHasher, RandomState};

use shop::domain::TalkId;

/// The seed of this run's choices: the number in the environment variable
/// `variable`, or a new one.
pub fn seed(variable: &str) -> u64 {
    match std::env::var(variable) {
        Ok(seed) => seed
            .parse()
            .unwrap_or_else(|_| panic!("{variable} must be a number, not {seed:?}")),
        Err(_) => RandomState::new().hash_one(variable),
    }
}

/// SplitMix64: a test's choices, made again from the same seed (a few
/// hundred numbers need no dependency).
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn roll(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// From 0 to `n - 1`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.roll() % n
    }

    /// From 0 up to, not including, 1.
    pub fn fraction(&mut self) -> f64 {
        (self.roll() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// A talk from 1 to `talks`.
    pub fn talk(&mut self, talks: u64) -> TalkId {
        1 + self.below(talks) as TalkId
    }
}
