//! Your pricer: at least five times faster than the original, with the very
//! same results.
//!
//! The original rebuilt a coupon index on every line of every quote. Here
//! the index is built once: a `BTreeMap` by upper-cased code (when two
//! codes differ only in case, the later one wins, as in the original's
//! index). A quote upper-cases the order's code and looks it up once.

use std::collections::{BTreeMap, HashMap};

use crate::book::{Book, Coupon, Order, PriceError, Quote};

pub struct Pricer {
    prices: HashMap<u32, u64>,
    coupons: BTreeMap<String, Coupon>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        let mut coupons = BTreeMap::new();
        for coupon in &book.coupons {
            coupons.insert(coupon.code.to_uppercase(), coupon.clone());
        }
        Self {
            prices: book.prices.clone(),
            coupons,
        }
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let coupon = order
            .coupon
            .as_deref()
            .map(str::to_uppercase)
            .and_then(|code| self.coupons.get(&code));
        let mut lines_cents = Vec::with_capacity(order.lines.len());
        let mut applied = false;
        for line in &order.lines {
            let Some(&unit) = self.prices.get(&line.talk_id) else {
                return Err(PriceError::UnknownTalk(line.talk_id));
            };
            let gross = unit * line.seats;
            let percent_off = match coupon {
                Some(c) if c.talk_id.is_none_or(|talk| talk == line.talk_id) => {
                    applied = true;
                    c.percent_off
                }
                _ => 0,
            };
            lines_cents.push(gross - gross * percent_off / 100);
        }
        Ok(Quote {
            total_cents: lines_cents.iter().sum(),
            lines_cents,
            coupon_applied: coupon.filter(|_| applied).map(|c| c.code.clone()),
        })
    }
}
