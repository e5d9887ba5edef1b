//! The test service of the W3C Trace Context test harness.
//!
//! The harness (`test/` in the public `w3c/trace-context` repository) sends
//! `POST /test` with a JSON list of `{url, arguments}` and a `traceparent`
//! (sometimes malformed, sometimes with `tracestate`). For each element we
//! POST `arguments` to `url`, carrying our context onwards; the harness
//! checks what arrives. The server span and the propagation are exactly the
//! shop's: `telemetry::http::trace_layer`, `telemetry::client` and
//! `telemetry::propagation`.
//!
//! Run the harness against it:
//!
//! ```text
//! just w3c-test-service                  # serves 127.0.0.1:5000
//! python3 test.py http://127.0.0.1:5000/test   # in the harness's test/ folder
//! ```

use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use shop::{ApiError, ApiJson};

#[derive(Deserialize)]
struct Call {
    url: String,
    arguments: serde_json::Value,
}

/// `POST /test`, with the shop's server span around it.
pub fn app() -> Router {
    shop::server::with_defaults("w3c-test-service", Router::new().route("/test", post(test)))
}
async fn test(ApiJson(calls): ApiJson<Vec<Call>>) -> Result<Json<serde_json::Value>, ApiError> {
    // The shop's client middleware: a client span per call, its context in
    // the request's headers.
    let client = telemetry::client::traced(reqwest::Client::new());
    for call in calls {
        let request = client
            .post(&call.url)
            .json(&call.arguments)
            .build()
            .map_err(|err| ApiError::bad_request(format!("bad url {}: {err}", call.url)))?;
        // The harness judges what it receives; its answer is not ours to check.
        let _ = client.execute(request).await;
    }
    Ok(Json(serde_json::json!({})))
}
