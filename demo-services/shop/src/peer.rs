//! Calling another service: with a timeout, with the trace context, and
//! with every failure turned into an answer that names the peer.
//!
//! | what happened | our answer |
//! |---|---|
//! | the peer did not answer in time | 504, "inventory did not answer within 2 s" |
//! | the peer could not be reached | 503, "inventory is unavailable: …" |
//! | the peer failed (5xx) | 502, "inventory failed: …" |
//! | the peer refused the request (4xx) | the same status and reason |
//! | the peer's answer is unreadable | 502 |
//! | an idempotency key that no header can carry (a control character) | 500, naming the key |
//!
//! [`Peer::post_with_idempotency_key`] sends the IETF's `Idempotency-Key`
//! header (draft-ietf-httpapi-idempotency-key-header) with the request: the
//! peer then does the work once per key however often it is asked, so a
//! call whose answer was lost can be asked again, or undone by its key.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode};
use reqwest_middleware::ClientWithMiddleware;
use serde::Serialize;
use serde::de::DeserializeOwned;
use telemetry::client::PeerName;

use crate::error::{ApiError, ErrorBody};

/// The default time a peer has to answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The header that names a request's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Another service, by name and base URL.
#[derive(Clone, Debug)]
pub struct Peer {
    name: String,
    base_url: String,
    client: ClientWithMiddleware,
    timeout: Duration,
}

impl Peer {
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self::with_timeout(name, base_url, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(
        name: impl Into<String>,
        base_url: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            // One client per peer: it keeps a pool of connections to that
            // peer alive across requests. Its middleware gives every call its
            // client span and carries the trace context.
            client: telemetry::client::traced(pooled_client()),
            timeout,
        }
    }

    /// The same peer, over the same connections, with another timeout.
    pub fn with_other_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.call(Method::GET, path, None::<&()>, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.call(Method::POST, path, Some(body), None).await
    }

    /// [`Peer::post`] with `key` in the `Idempotency-Key` header, as the
    /// draft writes it: a structured-field string, in double quotes.
    pub async fn post_with_idempotency_key<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let header = HeaderValue::try_from(structured_string(key)).map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the idempotency key {key:?} cannot be sent in a header"),
            )
        })?;
        self.call(Method::POST, path, Some(body), Some(header))
            .await
    }

    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.call::<(), serde::de::IgnoredAny>(Method::DELETE, path, None, None)
            .await
            .map(|_| ())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<HeaderValue>,
    ) -> Result<T, ApiError> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .with_extension(PeerName(self.name.clone()))
            .timeout(self.timeout);
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| self.unavailable(&err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| self.unavailable(&err.into()))?;
        if status.is_success() {
            // "204 No Content" and other empty answers read as JSON `null`.
            let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(body).map_err(|err| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("{} sent an answer I cannot read: {err}", self.name),
                )
                .with_peer(&self.name)
            });
        }
        let reason = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|body| body.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(if status.is_server_error() {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("{} failed: {reason}", self.name),
            )
        } else {
            ApiError::new(status, reason)
        }
        .with_peer(&self.name))
    }

    fn unavailable(&self, err: &reqwest_middleware::Error) -> ApiError {
        let timed_out = matches!(err, reqwest_middleware::Error::Reqwest(err) if err.is_timeout());
        if timed_out {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{} did not answer within {} ms",
                    self.name,
                    self.timeout.as_millis()
                ),
            )
        } else {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{} is unavailable: {}",
                    self.name,
                    telemetry::with_causes(err)
                ),
            )
        }
        .with_peer(&self.name)
    }
}

/// `text` as a structured-field string (RFC 9651): in double quotes, with
/// its backslashes and double quotes escaped.
fn structured_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        if matches!(character, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}

/// A client whose idle connections are dropped before the peer's server
/// closes them (`server::HEADER_READ_TIMEOUT`): reqwest keeps them 90 s by
/// default, and a request sent on a connection the server is closing at
/// that very moment fails for no fault of either side.
fn pooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(IDLE_CONNECTIONS_KEPT)
        .build()
        .expect("a plain HTTP client builds (no TLS, nothing to load)")
}

/// How long a peer's idle connection is kept for the next call.
const IDLE_CONNECTIONS_KEPT: Duration =
    crate::server::HEADER_READ_TIMEOUT.saturating_sub(Duration::from_secs(1));

#[cfg(test)]
mod tests {
    use super::structured_string;

    #[test]
    fn a_key_is_sent_as_a_structured_field_string() {
        assert_eq!(structured_string("7-00ff-0"), r#""7-00ff-0""#);
        assert_eq!(
            structured_string(r#"a"b\c"#),
            r#""a\"b\\c""#,
            "quotes and backslashes escaped"
        );
    }
}
