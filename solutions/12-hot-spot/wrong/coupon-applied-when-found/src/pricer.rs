//! Your pricer: make it at least five times faster than the original,
//! with the very same results.
//!
//! The coupon index depends on the book only: it is built once, in `new`,
//! and a quote looks the order's code up once, before the loop over lines.

use std::collections::HashMap;

use crate::book::{Book, Coupon, Order, PriceError, Quote};

pub struct Pricer {
    prices: HashMap<u32, u64>,
    /// Coupons by upper-cased code.
    coupons: HashMap<String, Coupon>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        Self {
            prices: book.prices.clone(),
            coupons: book
                .coupons
                .iter()
                .map(|coupon| (coupon.code.to_uppercase(), coupon.clone()))
                .collect(),
        }
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let coupon = order
            .coupon
            .as_ref()
            .and_then(|code| self.coupons.get(&code.to_uppercase()));
        let coupon_applied = coupon.map(|c| c.code.clone());
        let mut lines_cents = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            let unit = *self
                .prices
                .get(&line.talk_id)
                .ok_or(PriceError::UnknownTalk(line.talk_id))?;
            let gross = unit * line.seats;
            let discount = match coupon.filter(|c| c.talk_id.is_none_or(|t| t == line.talk_id)) {
                Some(coupon) => gross * coupon.percent_off / 100,
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
