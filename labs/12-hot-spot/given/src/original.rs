//! The pricing code as it shipped: given, do not change. The grader checks
//! your `Pricer` against it, result for result, and measures your speedup
//! against it, in the same process.

use std::collections::HashMap;

use crate::book::{Book, Order, PriceError, Quote};

pub struct OriginalPricer {
    book: Book,
}

impl OriginalPricer {
    pub fn new(book: &Book) -> Self {
        Self { book: book.clone() }
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let mut lines_cents = Vec::with_capacity(order.lines.len());
        let mut coupon_applied = None;
        for line in &order.lines {
            let unit = *self
                .book
                .prices
                .get(&line.talk_id)
                .ok_or(PriceError::UnknownTalk(line.talk_id))?;
            let gross = unit * line.seats;
            let index: HashMap<String, _> = self
                .book
                .coupons
                .iter()
                .map(|coupon| (coupon.code.to_uppercase(), coupon))
                .collect();
            let coupon = order
                .coupon
                .as_ref()
                .and_then(|code| index.get(&code.to_uppercase()))
                .filter(|coupon| coupon.talk_id.is_none_or(|talk| talk == line.talk_id));
            let discount = match coupon {
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
