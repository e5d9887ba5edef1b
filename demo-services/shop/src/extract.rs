//! Axum's `Json` and `Path`, with rejections that answer in JSON.
//!
//! Axum already refuses malformed input with the right status (400 for bad
//! syntax, 415 for a wrong content type, 413 for an oversized body, 422 for
//! well-formed JSON of the wrong shape); these wrappers keep that status and
//! put the reason in the same `{"error": …}` body as every other failure.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    // A body that did not arrive in time is the client's delay, not its
    // syntax: 408, which tells it that sending again may work.
    if crate::server::is_body_timeout(rejection) {
        return ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "the request's body did not arrive in time",
        );
    }
    ApiError::new(rejection.status(), rejection.body_text())
}

/// Path parameters, e.g. the `7` of `/talks/7`.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}
