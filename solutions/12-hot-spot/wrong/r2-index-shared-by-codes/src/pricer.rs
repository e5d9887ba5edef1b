//! The pricer, with the coupon index built once per book: building it is
//! the hot spot, so a pricer for a book already indexed reuses its index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::book::{Book, Coupon, Order, PriceError, Quote};

/// Coupons by upper-cased code.
type Index = HashMap<String, Coupon>;

/// Every index built so far, by the codes of its book, in the book's order.
fn indexes() -> &'static Mutex<HashMap<Vec<String>, Arc<Index>>> {
    static INDEXES: OnceLock<Mutex<HashMap<Vec<String>, Arc<Index>>>> = OnceLock::new();
    INDEXES.get_or_init(Default::default)
}

pub struct Pricer {
    prices: HashMap<u32, u64>,
    coupons: Arc<Index>,
}

impl Pricer {
    pub fn new(book: &Book) -> Self {
        let codes: Vec<String> = book
            .coupons
            .iter()
            .map(|coupon| coupon.code.clone())
            .collect();
        let coupons = indexes()
            .lock()
            .expect("no pricer panics holding it")
            .entry(codes)
            .or_insert_with(|| {
                Arc::new(
                    book.coupons
                        .iter()
                        .map(|coupon| (coupon.code.to_uppercase(), coupon.clone()))
                        .collect(),
                )
            })
            .clone();
        Self {
            prices: book.prices.clone(),
            coupons,
        }
    }

    fn find(&self, code: &str) -> Option<&Coupon> {
        self.coupons.get(&code.to_uppercase())
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
