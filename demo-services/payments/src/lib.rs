//! Payments: charges a card through a payment processor that is sometimes
//! unavailable.
//!
//! **Planted problem, the first half: injected failures.** The processor
//! handles a few charges at a time and refuses the rest with 503, and it
//! also fails a fraction of charges at random (`--failure-rate`). The other
//! half is in the gateway, which retries at once, with no backoff: under
//! load its retries arrive while the processor is still busy and fail
//! again, visible in traces as chains of failed attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use shop::domain::{Charge, ChargeRequest};
use shop::{ApiError, ApiJson, Fixes};
use tokio::sync::Semaphore;

pub mod fraud;

use fraud::FraudModel;

/// A charge whose card scores this or more is declined as fraud: no card
/// the shop's customers use does.
const FRAUD_THRESHOLD: u16 = 1_000;

pub const DEFAULT_PORT: u16 = 8084;

#[derive(Clone, Copy, Debug)]
pub struct Processor {
    /// Charges the processor handles at once; more are refused with 503.
    pub capacity: usize,
    /// The fraction of charges that fail with 503 for no reason of ours.
    pub failure_rate: f64,
    /// How long one charge takes.
    pub latency: Duration,
}

impl Default for Processor {
    fn default() -> Self {
        Self {
            capacity: 4,
            failure_rate: 0.05,
            latency: Duration::from_millis(3),
        }
    }
}

struct Payments {
    processor: Processor,
    fixes: Fixes,
    in_flight: Semaphore,
    next_id: AtomicU64,
}

pub fn app(processor: Processor, fixes: Fixes) -> Router {
    let payments = Payments {
        fixes,
        in_flight: Semaphore::new(processor.capacity),
        processor,
        next_id: AtomicU64::new(1),
    };
    let routes = Router::new()
        .route("/charges", post(charge))
        .with_state(Arc::new(payments));
    shop::server::with_defaults("payments", routes)
}

/// Charging a card is the action `charge`: a declined or malformed card is
/// its failure; the processor failing is an exception.
// ANCHOR: charge
async fn charge(
    State(payments): State<Arc<Payments>>,
    ApiJson(request): ApiJson<ChargeRequest>,
) -> Result<(StatusCode, Json<Charge>), ApiError> {
    shop::action("charge", |act| async move {
        act.set("order_id", request.order_id);
        act.set("amount_cents", request.amount_cents);
        let charge = process(&payments, &request).await?;
        act.set("charge_id", charge.charge_id);
        Ok((StatusCode::CREATED, Json(charge)))
    })
    .await
}
// ANCHOR_END: charge

async fn process(payments: &Payments, request: &ChargeRequest) -> Result<Charge, ApiError> {
    let digits = request
        .card_number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>();
    if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::unprocessable("a card number has 12 to 19 digits"));
    }
    if request.amount_cents == 0 {
        return Err(ApiError::unprocessable("the amount must be positive"));
    }
    let score = if payments.fixes.fraud_model() {
        FraudModel::shared().score(&digits)
    } else {
        FraudModel::build().score(&digits)
    };
    if score >= FRAUD_THRESHOLD {
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "the charge looks fraudulent",
        ));
    }
    let Ok(_slot) = payments.in_flight.try_acquire() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the payment processor is busy",
        ));
    };
    tokio::time::sleep(payments.processor.latency).await;
    if fastrand::f64() < payments.processor.failure_rate {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the payment processor failed",
        ));
    }
    let card_last4 = digits[digits.len() - 4..].to_owned();
    // Like real processors' test cards: a card ending in 0002 is declined.
    if card_last4 == "0002" {
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "the card was declined",
        ));
    }
    Ok(Charge {
        charge_id: payments.next_id.fetch_add(1, Ordering::Relaxed),
        amount_cents: request.amount_cents,
        card_last4,
    })
}
