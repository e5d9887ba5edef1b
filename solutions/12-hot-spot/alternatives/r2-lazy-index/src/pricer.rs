//! The pricer, with the coupon index built once: not in `new`, but by the
//! first quote that needs it, and kept for every quote after.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::book::{Book, Coupon, Order, PriceError, Quote};

pub struct Pricer {
    book: Book,
    /// Positions in `book.coupons`, by upper-cased code; the last of two
    /// codes that differ only in case wins, as in the original.
    index: OnceLock<HashMap<String, usize>>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        Self {
            book: book.clone(),
            index: OnceLock::new(),
        }
    }

    fn find(&self, code: &str) -> Option<&Coupon> {
        let index = self.index.get_or_init(|| {
            self.book
                .coupons
                .iter()
                .enumerate()
                .map(|(position, coupon)| (coupon.code.to_uppercase(), position))
                .collect()
        });
        index
            .get(&code.to_uppercase())
            .map(|&position| &self.book.coupons[position])
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let coupon = order.coupon.as_deref().and_then(|code| self.find(code));
        let mut lines_cents = Vec::with_capacity(order.lines.len());
        let mut coupon_applied = None;
        for line in &order.lines {
            let unit = *self
                .book
                .prices
                .get(&line.talk_id)
                .ok_or(PriceError::UnknownTalk(line.talk_id))?;
            let gross = unit * line.seats;
            let discount = match coupon.filter(|c| c.talk_id.is_none_or(|t| t == line.talk_id)) {
                Some(coupon) => {
                    coupon_applied = Some(coupon.code.clone());
                    gross * coupon.percent_off / 100
                }
                None => 0,
            };
            lines_cents.push(gross - discount);
        }
        Ok(Quote {
            total_cents: lines_cents.iter().sum(),
            lines_cents,
            coupon_applied,
        })
    }
}
