//! The shop the orders go through: seats and a payment processor. Given.

use std::collections::HashMap;
use std::fmt;

#[derive(Clone, Debug)]
pub struct Order {
    pub id: u64,
    pub talk_id: u32,
    pub seats: u32,
    pub card: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub order_id: u64,
    pub charged_cents: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShopError {
    UnknownTalk(u32),
    SoldOut { left: u32 },
    Declined,
}

impl fmt::Display for ShopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopError::UnknownTalk(id) => write!(f, "there is no talk {id}"),
            ShopError::SoldOut { left } => write!(f, "only {left} seats left"),
            ShopError::Declined => f.write_str("the card was declined"),
        }
    }
}

impl std::error::Error for ShopError {}

/// Seats left and prices, by talk.
pub struct Shop {
    seats: HashMap<u32, u32>,
    prices: HashMap<u32, u64>,
}

impl Default for Shop {
    fn default() -> Self {
        Self {
            seats: (1..=8).map(|talk| (talk, 100)).collect(),
            prices: (1..=8)
                .map(|talk| (talk, if talk == 8 { 12_000 } else { 4_500 }))
                .collect(),
        }
    }
}

impl Shop {
    pub fn take_seats(&mut self, talk_id: u32, seats: u32) -> Result<(), ShopError> {
        let left = self
            .seats
            .get_mut(&talk_id)
            .ok_or(ShopError::UnknownTalk(talk_id))?;
        if *left < seats {
            return Err(ShopError::SoldOut { left: *left });
        }
        *left -= seats;
        Ok(())
    }

    pub fn price(&self, talk_id: u32) -> Result<u64, ShopError> {
        self.prices
            .get(&talk_id)
            .copied()
            .ok_or(ShopError::UnknownTalk(talk_id))
    }

    /// Cards ending in 0002 are declined, as with real processors' test cards.
    pub fn charge_card(&self, card: &str, _cents: u64) -> Result<(), ShopError> {
        if card.ends_with("0002") {
            Err(ShopError::Declined)
        } else {
            Ok(())
        }
    }
}
