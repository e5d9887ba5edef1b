//! A collector on free ports of this test's runtime (or as its own
//! program, in [`program`]), OTLP requests built from the protocol's own
//! types (profiles in [`profiles`]) and posted, and data files of a
//! test's own.

pub mod profiles;
pub mod program;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use collector::limits::Limits;
use collector::store::Store;
use collector::tail_sampling::{self, TailSampler};
use collector_client::routes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
pub use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
use prost::Message;

pub struct Collector {
    pub otlp: String,
    pub ui: String,
}

pub async fn start(max_spans: usize) -> Collector {
    start_within(Limits {
        max_spans,
        ..Limits::default()
    })
    .await
}

/// A collector whose store keeps within `limits`.
pub async fn start_within(limits: Limits) -> Collector {
    let store = Arc::new(Store::new(limits));
    Collector {
        otlp: serve(collector::ingest::router(store.clone())).await,
        ui: serve(collector::api::router(store)).await,
    }
}

/// A collector whose spans go through a tail sampler of `settings`, in
/// front of a store within the default limits.
pub async fn start_sampled(settings: tail_sampling::Settings) -> Collector {
    let sampler = TailSampler::start(Arc::new(Store::new(Limits::default())), settings);
    Collector {
        otlp: serve(collector::ingest::sampled_router(Arc::clone(&sampler))).await,
        ui: serve(collector::api::sampled_router(sampler)).await,
    }
}

/// Posts `export` to the collector at `otlp` as protobuf, as the SDK's
/// exporter does, and checks that it is accepted.
pub async fn post(otlp: &str, export: &ExportTraceServiceRequest) {
    let response = reqwest::Client::new()
        .post(format!("{otlp}{}", routes::OTLP_TRACES))
        .header("content-type", "application/x-protobuf")
        .body(export.encode_to_vec())
        .send()
        .await
        .expect("the collector answers");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "the export is refused: {status} {body}"
    );
}

pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A span of trace `trace`, `id` under `parent`, from `start` to `end` µs
/// after a fixed instant, of the given OTLP kind (2 server, 3 client, …).
pub fn span(trace: u8, id: u8, parent: Option<u8>, start: u64, end: u64, kind: i32) -> Span {
    const EPOCH_NS: u64 = 1_795_000_000_000_000_000;
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("op{id}"),
        kind,
        start_time_unix_nano: EPOCH_NS + start * 1_000,
        end_time_unix_nano: EPOCH_NS + end * 1_000,
        ..Span::default()
    }
}

pub fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.to_owned())),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

pub fn failed(mut span: Span) -> Span {
    span.status = Some(Status {
        code: 2,
        message: "boom".to_owned(),
    });
    span
}

/// A path for a data file of this test binary's own, in `folder` of the
/// target's scratch directory, removed if left over.
pub fn scratch_file(folder: &str, name: &str) -> PathBuf {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(folder);
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let path = scratch.join(format!("{name}-{}.jsonl", std::process::id()));
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => panic!("cannot remove {}: {err}", path.display()),
    }
    path
}
