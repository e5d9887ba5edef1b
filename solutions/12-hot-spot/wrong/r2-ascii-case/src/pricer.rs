//! The pricer, with the coupon index built once, in `new`: a quote
//! upper-cases one code and looks it up once.

use std::collections::HashMap;

use crate::book::{Book, Coupon, Order, PriceError, Quote};

pub struct Pricer {
    prices: HashMap<u32, u64>,
    /// Coupons by upper-cased code; codes are typed by people, in any case.
    coupons: HashMap<String, Coupon>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        Self {
            prices: book.prices.clone(),
            coupons: book
                .coupons
                .iter()
                .map(|coupon| (coupon.code.to_ascii_uppercase(), coupon.clone()))
                .collect(),
        }
    }

    fn find(&self, code: &str) -> Option<&Coupon> {
        self.coupons.get(&code.to_ascii_uppercase())
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
