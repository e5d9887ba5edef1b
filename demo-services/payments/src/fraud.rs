//! The fraud model: a score for each card, from a table of card ranges.
//!
//! Building the table is pure CPU, about a millisecond's worth per
//! thousand ranges; scoring a card is a look-up in it.
//!
//! **Planted problem (incident drill): the model built for every
//! charge.** With the problem planted ([`shop::Problem::FraudModelPerCharge`])
//! each charge builds the table again before it scores the card, on the
//! request's thread, in no span of its own: the `charge` span's own time
//! grows, with no child to explain it, and only a profile says which code
//! burns it. `--fix-fraud-model` builds it once, on the first charge.

use std::sync::OnceLock;

/// Card ranges the model knows; each costs its build a few hash rounds.
const RANGES: u64 = 20_000;
/// Rounds of mixing per range: what makes a build cost what it does.
const ROUNDS: u32 = 64;

/// A score per card range, highest for the riskiest.
pub struct FraudModel {
    scores: Vec<u16>,
}

impl FraudModel {
    /// Builds the table: every range's score from its number, mixed.
    pub fn build() -> Self {
        let scores = (0..RANGES)
            .map(|range| {
                let mixed = (0..ROUNDS).fold(range, |h, round| {
                    (h ^ u64::from(round))
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .rotate_left(17)
                });
                (mixed % 1_000) as u16
            })
            .collect();
        Self { scores }
    }

    /// The model every charge shares, built on first use.
    pub fn shared() -> &'static Self {
        static MODEL: OnceLock<FraudModel> = OnceLock::new();
        MODEL.get_or_init(Self::build)
    }

    /// The card's score, from 0 (safe) to 999; the card's first six
    /// digits (its issuer's range) choose the row.
    pub fn score(&self, digits: &str) -> u16 {
        let range: u64 = digits
            .get(..6)
            .and_then(|prefix| prefix.parse().ok())
            .unwrap_or(0);
        self.scores[(range % RANGES) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_scores_the_same_from_a_new_model_and_the_shared_one() {
        let card = "4242424242424242";
        assert_eq!(
            FraudModel::build().score(card),
            FraudModel::shared().score(card)
        );
        assert!(FraudModel::shared().score("12") < 1_000);
    }
}
