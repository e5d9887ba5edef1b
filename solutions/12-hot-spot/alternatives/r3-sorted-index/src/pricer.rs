//! Your pricer: make it at least five times faster than the original,
//! with the very same results.
//!
//! The profile's tower was the coupon index, built again for every line of
//! every quote. Here it is built once, in `new`, as a vector of coupons
//! sorted by upper-cased code: a quote upper-cases its one code and finds it
//! by binary search, in a dozen comparisons for thousands of codes. Of two
//! codes that differ only in case, the index keeps the last in the book, as
//! the original's per-call `HashMap` did.

use std::collections::HashMap;

use crate::book::{Book, Coupon, Order, PriceError, Quote};

pub struct Pricer {
    prices: HashMap<u32, u64>,
    /// Coupons sorted by upper-cased code, each code once.
    coupons: Vec<(String, Coupon)>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        // Reversed, so that a stable sort puts the book's last coupon of each
        // code first among its equals, and `dedup_by` keeps the first.
        let mut coupons: Vec<(String, Coupon)> = book
            .coupons
            .iter()
            .rev()
            .map(|coupon| (coupon.code.to_uppercase(), coupon.clone()))
            .collect();
        coupons.sort_by(|(a, _), (b, _)| a.cmp(b));
        coupons.dedup_by(|(later, _), (kept, _)| later == kept);
        Self {
            prices: book.prices.clone(),
            coupons,
        }
    }

    /// The coupon whose code is `code`, in any case.
    fn coupon(&self, code: &str) -> Option<&Coupon> {
        let code = code.to_uppercase();
        let at = self
            .coupons
            .binary_search_by(|(indexed, _)| indexed.cmp(&code))
            .ok()?;
        Some(&self.coupons[at].1)
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let coupon = order.coupon.as_deref().and_then(|code| self.coupon(code));
        let mut lines_cents = Vec::with_capacity(order.lines.len());
        let mut coupon_applied = None;
        for line in &order.lines {
            let unit = *self
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
