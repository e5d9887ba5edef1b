//! OTLP/HTTP ingestion: `POST /v1/traces`, and `POST
//! /v1development/profiles` for CPU samples linked to spans.
//!
//! Both encodings of the OTLP/HTTP specification are accepted for spans,
//! `application/x-protobuf` and `application/json`, plain or gzipped, and
//! decoded with the `opentelemetry-proto` crate's own types. Media types and
//! content codings are compared in any case, as HTTP defines them, and a
//! media type's parameters (`; charset=utf-8`) are ignored. What cannot be
//! accepted is refused with the status the specification asks for and a
//! reason: 415 for an unknown content type or encoding, 413 for a body over
//! the limit (compressed or not), 400 for a body that does not decode.
//!
//! What is accepted is stored within the store's limits (see
//! [`crate::limits`]): spans trimmed, and the spans of a trace that already
//! holds its most dropped. Those are rejected as OTLP's partial success
//! says, their number and the reason in the answer, which the sender's
//! exporter logs: the learner whose service sent them hears of it.
//!
//! With tail sampling ([`crate::tail_sampling`]), accepted spans go to the
//! sampler rather than straight to the store: they wait for their trace's
//! decision, and only the traces kept are stored, past the export's
//! answer. The answer then reports the spans stored at once: those that
//! arrived after their trace was kept.
//!
//! Profiles are taken as protobuf, plain or gzipped, within the same
//! limits (OTLP's JSON for them, in development, is not read). Their
//! samples are kept within the samples' own bounds ([`crate::samples`]);
//! those linked to no span are dropped, and the answer says how many, as a
//! partial success that rejects no profile.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::profiles::v1development::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use collector_client::routes;

use crate::store::Store;
use crate::tail_sampling::TailSampler;
use crate::{otlp, otlp_profiles};

/// The largest request body accepted, as sent (possibly compressed).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The largest body accepted once decompressed: a small gzip can inflate to
/// gigabytes, so decompression stops here.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// Where accepted spans go.
#[derive(Clone)]
struct Intake {
    store: Arc<Store>,
    /// The tail sampler, when traces are sampled once complete: spans go
    /// through it, and the store gets the traces it keeps.
    sampler: Option<Arc<TailSampler>>,
}

impl FromRef<Intake> for Arc<Store> {
    fn from_ref(intake: &Intake) -> Self {
        Arc::clone(&intake.store)
    }
}

/// OTLP/HTTP in, every span stored.
pub fn router(store: Arc<Store>) -> Router {
    routed(Intake {
        store,
        sampler: None,
    })
}

/// OTLP/HTTP in, spans through `sampler`, which stores the traces it keeps
/// in its store.
pub fn sampled_router(sampler: Arc<TailSampler>) -> Router {
    routed(Intake {
        store: Arc::clone(sampler.store()),
        sampler: Some(sampler),
    })
}

fn routed(intake: Intake) -> Router {
    Router::new()
        .route(routes::OTLP_TRACES, post(ingest))
        .route(routes::OTLP_PROFILES, post(ingest_profiles))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(intake)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// A request refused: the status and the reason, answered as
/// `{"error": reason}`.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let Refused(status, reason) = self;
        tracing::warn!(status = status.as_u16(), %reason, "refused an OTLP request");
        (status, axum::Json(serde_json::json!({ "error": reason }))).into_response()
    }
}

fn refuse(status: StatusCode, reason: impl Into<String>) -> Refused {
    Refused(status, reason.into())
}

async fn ingest(
    State(intake): State<Intake>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refused> {
    let encoding = encoding_of(&headers)?;
    let body = body_of(&headers, body)?;
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body.as_slice())
            .map_err(|err| format!("the body is not an OTLP protobuf trace export: {err}")),
        Encoding::Json => serde_json::from_slice::<ExportTraceServiceRequest>(&body)
            .map_err(|err| format!("the body is not an OTLP JSON trace export: {err}")),
    };
    let spans = request
        .and_then(|request| otlp::from_otlp(request).map_err(|invalid| invalid.to_string()))
        .map_err(|reason| refuse(StatusCode::BAD_REQUEST, reason))?;
    let inserted = match &intake.sampler {
        Some(sampler) => sampler.offer(spans),
        None => intake.store.insert(spans),
    }
    .map_err(|err| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store spans: {err}"),
        )
    })?;
    // No partial success means "all accepted".
    let accepted = ExportTraceServiceResponse {
        partial_success: (inserted.dropped > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(inserted.dropped).unwrap_or(i64::MAX),
            error_message: format!(
                "{} of {} spans dropped: their traces already hold {} spans, the collector's limit per trace (--max-spans-per-trace)",
                inserted.dropped,
                inserted.dropped + inserted.stored,
                intake.store.limits().max_spans_per_trace
            ),
        }),
    };
    Ok(match encoding {
        Encoding::Protobuf => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            accepted.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => axum::Json(accepted).into_response(),
    })
}

/// `POST /v1development/profiles`: an export of CPU samples, protobuf.
async fn ingest_profiles(
    State(store): State<Arc<Store>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refused> {
    if encoding_of(&headers)? != Encoding::Protobuf {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "profiles are read as application/x-protobuf only: OTLP's JSON for profiles, in development, is not",
        ));
    }
    let body = body_of(&headers, body)?;
    let request = ExportProfilesServiceRequest::decode(body.as_slice()).map_err(|err| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("the body is not an OTLP protobuf profiles export: {err}"),
        )
    })?;
    let samples = otlp_profiles::from_otlp(request)
        .map_err(|invalid| refuse(StatusCode::BAD_REQUEST, invalid.to_string()))?;
    let inserted = store.insert_samples(samples);
    // No partial success means "all accepted". Samples of no span are a
    // warning, not a rejected profile: the rest of their profile is kept.
    let accepted = ExportProfilesServiceResponse {
        partial_success: (inserted.unlinked > 0).then(|| ExportProfilesPartialSuccess {
            rejected_profiles: 0,
            error_message: format!(
                "{} of {} samples dropped: they are linked to no span (link_index 0), and the collector shows samples in the spans they were taken in",
                inserted.unlinked,
                inserted.unlinked + inserted.stored as u64,
            ),
        }),
    };
    Ok((
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        accepted.encode_to_vec(),
    )
        .into_response())
}

/// The body as sent, inflated when it says it is gzipped; or refused: too
/// large, or not the gzip it says it is.
fn body_of(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Vec<u8>, Refused> {
    let body = body.map_err(|rejection| refuse(rejection.status(), rejection.body_text()))?;
    if gzipped(headers)? {
        gunzip(&body)
    } else {
        Ok(body.to_vec())
    }
}

/// The encoding `Content-Type` names. Its media type is compared without
/// its parameters and in any case (RFC 9110, 8.3.1: `Application/JSON;
/// charset=UTF-8` is `application/json`).
fn encoding_of(headers: &HeaderMap) -> Result<Encoding, Refused> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()));
    let media_type = content_type
        .as_deref()
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match media_type {
        Some(media) if media.eq_ignore_ascii_case("application/x-protobuf") => {
            Ok(Encoding::Protobuf)
        }
        Some(media) if media.eq_ignore_ascii_case("application/json") => Ok(Encoding::Json),
        _ => Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content type {:?} is not OTLP: send application/x-protobuf or application/json",
                content_type.as_deref().unwrap_or("(none)")
            ),
        )),
    }
}

/// Whether `Content-Encoding` says gzip; false when it is absent or
/// `identity`. Codings are compared in any case (RFC 9110, 8.4.1), and
/// `x-gzip` is gzip (8.4.1.3). Any other coding, or more than one, is
/// refused: only one gzip is undone.
fn gzipped(headers: &HeaderMap) -> Result<bool, Refused> {
    let mut codings = Vec::new();
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let value = String::from_utf8_lossy(value.as_bytes());
        codings.extend(
            value
                .split(',')
                .map(str::trim)
                .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
                .map(str::to_owned),
        );
    }
    let is_gzip =
        |coding: &str| coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip");
    match codings.as_slice() {
        [] => Ok(false),
        [coding] if is_gzip(coding) => Ok(true),
        _ => Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content encoding {:?} is not supported: send gzip or nothing",
                codings.join(", ")
            ),
        )),
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, Refused> {
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_DECOMPRESSED_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|err| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not valid gzip: {err}"),
            )
        })?;
    if inflated.len() > MAX_DECOMPRESSED_BYTES {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body inflates to more than {MAX_DECOMPRESSED_BYTES} bytes"),
        ));
    }
    Ok(inflated)
}
