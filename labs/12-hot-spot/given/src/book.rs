//! The price list and the coupon book: given, do not change.
//!
//! The book is the demo's (`pricing`): a few public codes and thousands of
//! personal invitations, `GUEST-00042` and the like. Codes are typed by
//! people, in whatever case they like; how a typed code is matched is in
//! `original.rs`.

use std::collections::HashMap;

/// A discount code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coupon {
    pub code: String,
    pub percent_off: u64,
    /// The one talk it applies to, or every talk.
    pub talk_id: Option<u32>,
}

/// Unit prices by talk, and every coupon.
#[derive(Clone, Debug)]
pub struct Book {
    pub prices: HashMap<u32, u64>,
    pub coupons: Vec<Coupon>,
}

/// One talk, some seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub talk_id: u32,
    pub seats: u64,
}

/// What is asked to be priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub lines: Vec<Line>,
    pub coupon: Option<String>,
}

/// The price of an order, line by line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// Each line's price in cents after its discount, in the order's order.
    pub lines_cents: Vec<u64>,
    pub total_cents: u64,
    /// The coupon's code as the book spells it, if it applied to some line.
    pub coupon_applied: Option<String>,
}

/// Why an order cannot be priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceError {
    UnknownTalk(u32),
}

/// The book the demo's pricing service loads: eight talks, four public
/// codes and `invitations` personal ones.
pub fn conference_book(invitations: u32) -> Book {
    let prices = (1..=8)
        .map(|talk| (talk, 9_000 + 1_500 * u64::from(talk)))
        .collect();
    let public = [
        ("EARLYBIRD", 20, None),
        ("Student", 50, None),
        ("speaker-friend", 100, Some(3)),
        ("RustConf", 15, Some(5)),
    ]
    .into_iter()
    .map(|(code, percent_off, talk_id)| Coupon {
        code: code.to_owned(),
        percent_off,
        talk_id,
    });
    let invitations = (0..invitations).map(|n| Coupon {
        code: format!("guest-{n:05}"),
        percent_off: 100,
        talk_id: Some(n % 8 + 1),
    });
    Book {
        prices,
        coupons: public.chain(invitations).collect(),
    }
}
