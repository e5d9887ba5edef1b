//! Your pricer: at least five times faster than the original, with the very
//! same results.
//!
//! The book is kept whole, beside an index built once: each upper-cased
//! code's position in the book (the later position, when two codes differ
//! only in case, as in the original's index). A quote is one pass over its
//! lines, which stops at the first unknown talk.

use std::collections::HashMap;

use crate::book::{Book, Order, PriceError, Quote};

pub struct Pricer {
    book: Book,
    position: HashMap<String, usize>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        let position = book
            .coupons
            .iter()
            .enumerate()
            .map(|(at, coupon)| (coupon.code.to_uppercase(), at))
            .collect();
        Self {
            book: book.clone(),
            position,
        }
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let coupon = order
            .coupon
            .as_ref()
            .and_then(|code| self.position.get(&code.to_uppercase()))
            .map(|&at| &self.book.coupons[at]);
        let mut coupon_applied = None;
        let lines_cents = order
            .lines
            .iter()
            .map(|line| -> Result<u64, PriceError> {
                let unit = self
                    .book
                    .prices
                    .get(&line.talk_id)
                    .ok_or(PriceError::UnknownTalk(line.talk_id))?;
                let gross = unit * line.seats;
                let discount = coupon
                    .filter(|c| c.talk_id.is_none_or(|talk| talk == line.talk_id))
                    .map_or(0, |c| {
                        coupon_applied = Some(c.code.clone());
                        gross * c.percent_off / 100
                    });
                Ok(gross - discount)
            })
            .collect::<Result<Vec<u64>, PriceError>>()?;
        Ok(Quote {
            total_cents: lines_cents.iter().sum(),
            lines_cents,
            coupon_applied,
        })
    }
}
