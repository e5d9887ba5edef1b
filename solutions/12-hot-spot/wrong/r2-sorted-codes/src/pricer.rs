//! The pricer, with the coupons sorted once by upper-cased code, in `new`:
//! a quote upper-cases one code and finds it by binary search.

use std::collections::HashMap;

use crate::book::{Book, Coupon, Order, PriceError, Quote};

pub struct Pricer {
    prices: HashMap<u32, u64>,
    /// Coupons sorted by upper-cased code, one per code.
    coupons: Vec<(String, Coupon)>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        let mut coupons: Vec<(String, Coupon)> = book
            .coupons
            .iter()
            .map(|coupon| (coupon.code.to_uppercase(), coupon.clone()))
            .collect();
        coupons.sort_by(|a, b| a.0.cmp(&b.0));
        coupons.dedup_by(|a, b| a.0 == b.0);
        Self {
            prices: book.prices.clone(),
            coupons,
        }
    }

    fn find(&self, code: &str) -> Option<&Coupon> {
        let code = code.to_uppercase();
        self.coupons
            .binary_search_by(|(key, _)| key.as_str().cmp(code.as_str()))
            .ok()
            .map(|found| &self.coupons[found].1)
    }

    pub fn quote(&self, order: &Order) -> Result<Quote, PriceError> {
        let coupon = order.coupon.as_deref().and_then(|code| self.find(code));
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
