//! What the room refuses a request with: a status and a reason, in plain
//! text, that the learner's command prints as it is. Never a panic, and
//! never a reason that tells what was drawn.

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A request refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
}

impl Refusal {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// A request that cannot be read as asked (400).
    pub fn bad_request(reason: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// A request that names no secret, or one nobody holds (401).
    pub fn unauthorized(reason: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reason)
    }

    /// A secret that is someone's, but not one this takes (403).
    pub fn forbidden(reason: String) -> Self {
        Self::new(StatusCode::FORBIDDEN, reason)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.reason)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // A browser asks for the secret then: any user, the secret as
            // the password.
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"incident room\""),
            );
        }
        response
    }
}
