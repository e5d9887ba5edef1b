//! **Planted problem (incident drill): the retry storm.** With
//! [`shop::Problem::RetryStorm`] planted, the gateway gives pricing
//! [`TIMEOUT`] to quote and, when it has not, asks again at once, up to
//! [`ATTEMPTS`] times. Pricing is fast, except when it pauses (see
//! pricing's `pauses`): then every quote in flight times out together and
//! is asked again together, and the pause meets three, four times the calls
//! it would have. In a trace: several client spans to pricing under one
//! `look_up`, each ended at the timeout, and pricing's server spans
//! multiplied. `--fix-retry-storm` asks once, with the usual timeout.

use std::time::Duration;

use axum::http::StatusCode;
use shop::domain::{Quote, QuoteRequest};
use shop::{ApiError, Peer};

/// What the impatient gateway gives pricing for a quote.
pub const TIMEOUT: Duration = Duration::from_millis(25);
/// How often it asks, in all.
pub const ATTEMPTS: u32 = 4;

/// A quote, asked for again at once each time `pricing` takes longer than
/// [`TIMEOUT`].
pub async fn quote(pricing: &Peer, request: &QuoteRequest) -> Result<Quote, ApiError> {
    let impatient = pricing.with_other_timeout(TIMEOUT);
    let mut attempt = 1;
    loop {
        match impatient.post("/quote", request).await {
            Err(err) if err.status == StatusCode::GATEWAY_TIMEOUT && attempt < ATTEMPTS => {
                attempt += 1;
            }
            answer => return answer,
        }
    }
}
