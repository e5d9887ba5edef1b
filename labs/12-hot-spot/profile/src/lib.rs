//! The workloads `just profile lab12` and `just profile lab12-original` run:
//! sixteen orders of the conference's book quoted again and again, by your
//! pricer or by the original.

use lab12::book::{Book, Line, Order, PriceError, Quote};

/// One round: every order quoted once by `quote`.
pub fn quote_all(book: &Book, quote: impl Fn(&Order) -> Result<Quote, PriceError>) -> impl FnMut() {
    let orders = orders(book);
    move || {
        for order in &orders {
            std::hint::black_box(quote(order)).ok();
        }
    }
}

/// Orders of one to four talks, each with one of the book's coupons.
fn orders(book: &Book) -> Vec<Order> {
    (0..16_u32)
        .map(|n| Order {
            lines: (1..=n % 4 + 1)
                .map(|talk_id| Line { talk_id, seats: 2 })
                .collect(),
            coupon: Some(
                book.coupons[n as usize * 97 % book.coupons.len()]
                    .code
                    .clone(),
            ),
        })
        .collect()
}
