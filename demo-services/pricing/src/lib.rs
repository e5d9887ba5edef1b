//! Pricing: what an order costs, coupons included.
//!
//! Two planted problems live here, both found with the profiling lab's tools:
//!
//! - **A CPU hot spot.** The coupon book holds thousands of codes. Finding
//!   one should be a hash lookup, but the code rebuilds the whole index (one
//!   upper-cased copy of every code) for every quote: a flamegraph shows
//!   `CouponIndex::new` under every request. `--fix-hotspot` builds the
//!   index once, at start-up.
//! - **Formatting that costs even when its level is off.** Each line of a
//!   quote formats the whole price list into a string and passes that string
//!   to a `trace!` that is almost never enabled. The formatting happens
//!   anyway. `--fix-logging` hands the value itself to the macro (`?prices`),
//!   which formats it only when TRACE is on.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shop::domain::{
    MAX_LINES_PER_ORDER, MAX_SEATS_PER_LINE, Quote, QuoteLine, QuoteRequest, TalkId, programme,
};
use shop::{ApiError, ApiJson, Fixes};

pub mod pauses;

use pauses::Pauses;

pub const DEFAULT_PORT: u16 = 8083;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coupon {
    pub code: String,
    pub percent_off: u64,
    /// The one talk it applies to; `None` for every talk.
    pub talk_id: Option<TalkId>,
}

/// The coupon book: a few public codes and one personal code per speaker
/// invitation, thousands in all.
pub fn coupon_book() -> Vec<Coupon> {
    let public = [
        ("EARLYBIRD", 15, None),
        ("STUDENT", 50, None),
        ("WORKSHOP20", 20, Some(8)),
    ];
    let public = public
        .into_iter()
        .map(|(code, percent_off, talk_id)| Coupon {
            code: code.to_owned(),
            percent_off,
            talk_id,
        });
    let invitations = (1..=6_000).map(|n| Coupon {
        code: format!("guest-{n:05}"),
        percent_off: 100,
        talk_id: Some(n % 8 + 1),
    });
    public.chain(invitations).collect()
}

/// Coupons by upper-cased code: codes are typed by people, in any case.
pub struct CouponIndex(HashMap<String, Coupon>);

impl CouponIndex {
    #[tracing::instrument(name = "index_coupons", skip_all, fields(coupons = book.len()))]
    pub fn new(book: &[Coupon]) -> Self {
        Self(
            book.iter()
                .map(|coupon| (coupon.code.to_ascii_uppercase(), coupon.clone()))
                .collect(),
        )
    }

    pub fn find(&self, code: &str) -> Option<&Coupon> {
        self.0.get(&code.to_ascii_uppercase())
    }
}

/// Prices by talk.
pub struct PriceList(HashMap<TalkId, u64>);

/// How many times a price list was formatted, ever, in this process. The
/// planted logging problem is invisible in the logs (TRACE is off): this
/// counter is how a test sees it.
static PRICE_LIST_FORMATS: AtomicU64 = AtomicU64::new(0);

pub fn price_list_formats() -> u64 {
    PRICE_LIST_FORMATS.load(Ordering::Relaxed)
}

impl fmt::Debug for PriceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        PRICE_LIST_FORMATS.fetch_add(1, Ordering::Relaxed);
        let mut sorted: Vec<_> = self.0.iter().collect();
        sorted.sort();
        f.debug_map().entries(sorted).finish()
    }
}

pub struct Pricing {
    prices: PriceList,
    book: Vec<Coupon>,
    index: CouponIndex,
    pauses: Pauses,
    fixes: Fixes,
}

impl Pricing {
    pub fn new(fixes: Fixes) -> Self {
        let book = coupon_book();
        Self {
            prices: PriceList(
                programme()
                    .into_iter()
                    .map(|t| (t.id, t.price_cents))
                    .collect(),
            ),
            index: CouponIndex::new(&book),
            book,
            pauses: Pauses::default(),
            fixes,
        }
    }

    fn find_coupon(&self, code: &str) -> Option<Coupon> {
        if self.fixes.hotspot() {
            self.index.find(code).cloned()
        } else {
            // The hot spot: thousands of allocations to answer one lookup.
            CouponIndex::new(&self.book).find(code).cloned()
        }
    }
}

pub fn app(fixes: Fixes) -> Router {
    let routes = Router::new()
        .route("/quote", post(quote))
        .with_state(Arc::new(Pricing::new(fixes)));
    shop::server::with_defaults("pricing", routes)
}

/// Pricing an order is the action `price`: an unknown coupon or talk is
/// its failure.
async fn quote(
    State(pricing): State<Arc<Pricing>>,
    ApiJson(request): ApiJson<QuoteRequest>,
) -> Result<Json<Quote>, ApiError> {
    shop::action("price", |act| async move {
        act.set("lines", request.lines.len());
        if let Some(coupon) = &request.coupon {
            act.set("coupon", coupon.as_str());
        }
        if !pricing.fixes.retry_storm() {
            pricing.pauses.wait_turn().await;
        }
        let quote = price_order(&pricing, &request)?;
        act.set("total_cents", quote.total_cents);
        Ok(Json(quote))
    })
    .await
}

fn price_order(pricing: &Pricing, request: &QuoteRequest) -> Result<Quote, ApiError> {
    let coupon = match &request.coupon {
        Some(code) => Some(
            pricing
                .find_coupon(code)
                .ok_or_else(|| ApiError::unprocessable(format!("there is no coupon {code:?}")))?,
        ),
        None => None,
    };
    price_lines(pricing, request, coupon.as_ref())
}

fn price_lines(
    pricing: &Pricing,
    request: &QuoteRequest,
    coupon: Option<&Coupon>,
) -> Result<Quote, ApiError> {
    if request.lines.is_empty() || request.lines.len() > MAX_LINES_PER_ORDER {
        return Err(ApiError::unprocessable(format!(
            "a quote needs from 1 to {MAX_LINES_PER_ORDER} lines, not {}",
            request.lines.len()
        )));
    }
    let mut lines = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        if pricing.fixes.logging() {
            tracing::trace!(talk_id = line.talk_id, prices = ?pricing.prices, "pricing line");
        } else {
            // The problem: this string is built even though TRACE is off.
            let price_list = format!("{:#?}", pricing.prices);
            tracing::trace!(talk_id = line.talk_id, %price_list, "pricing line");
        }
        if !(1..=MAX_SEATS_PER_LINE).contains(&line.quantity) {
            return Err(ApiError::unprocessable(format!(
                "quantity must be from 1 to {MAX_SEATS_PER_LINE}, not {}",
                line.quantity
            )));
        }
        let unit_cents = *pricing
            .prices
            .0
            .get(&line.talk_id)
            .ok_or_else(|| ApiError::not_found(format!("there is no talk {}", line.talk_id)))?;
        let subtotal = unit_cents * u64::from(line.quantity);
        let discount_cents = coupon
            .filter(|c| c.talk_id.is_none_or(|id| id == line.talk_id))
            .map_or(0, |c| subtotal * c.percent_off / 100);
        lines.push(QuoteLine {
            talk_id: line.talk_id,
            quantity: line.quantity,
            unit_cents,
            discount_cents,
            total_cents: subtotal - discount_cents,
        });
    }
    Ok(Quote {
        discount_cents: lines.iter().map(|l| l.discount_cents).sum(),
        total_cents: lines.iter().map(|l| l.total_cents).sum(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop::domain::OrderLine;

    fn request(lines: &[(TalkId, u32)], coupon: Option<&str>) -> QuoteRequest {
        QuoteRequest {
            lines: lines
                .iter()
                .map(|&(talk_id, quantity)| OrderLine { talk_id, quantity })
                .collect(),
            coupon: coupon.map(str::to_owned),
        }
    }

    #[test]
    fn coupons_are_found_in_any_case_with_or_without_the_fix() {
        for fixes in [Fixes::default(), Fixes::all()] {
            let pricing = Pricing::new(fixes);
            assert_eq!(
                pricing.find_coupon("earlybird").map(|c| c.percent_off),
                Some(15)
            );
            assert_eq!(
                pricing.find_coupon("GUEST-00042").map(|c| c.talk_id),
                Some(Some(3))
            );
            assert_eq!(pricing.find_coupon("NOPE"), None);
        }
    }

    #[test]
    fn a_talk_coupon_discounts_only_its_talk() {
        let pricing = Pricing::new(Fixes::all());
        let workshop = pricing.find_coupon("WORKSHOP20");
        let quote = price_lines(
            &pricing,
            &request(&[(8, 1), (1, 2)], None),
            workshop.as_ref(),
        )
        .unwrap();
        assert_eq!(quote.lines[0].discount_cents, 2_400);
        assert_eq!(quote.lines[1].discount_cents, 0);
        assert_eq!(quote.total_cents, 12_000 - 2_400 + 2 * 4_500);
    }

    #[test]
    fn the_logging_fix_formats_the_price_list_only_when_trace_is_on() {
        // No subscriber here, so TRACE is off, as it is in production.
        let lines = request(&[(1, 1), (2, 1), (3, 1)], None);
        let before = price_list_formats();
        price_lines(&Pricing::new(Fixes::default()), &lines, None).unwrap();
        assert_eq!(
            price_list_formats() - before,
            3,
            "once per line without the fix"
        );
        let before = price_list_formats();
        price_lines(&Pricing::new(Fixes::all()), &lines, None).unwrap();
        assert_eq!(price_list_formats() - before, 0, "never with the fix");
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        let pricing = Pricing::new(Fixes::all());
        let zero = price_lines(&pricing, &request(&[(1, 0)], None), None).unwrap_err();
        assert_eq!(zero.status.as_u16(), 422);
        let unknown = price_lines(&pricing, &request(&[(99, 1)], None), None).unwrap_err();
        assert_eq!(unknown.status.as_u16(), 404);
        let empty = price_lines(&pricing, &request(&[], None), None).unwrap_err();
        assert!(empty.message.contains("from 1 to"));
    }
}
