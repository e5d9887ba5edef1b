//! The collector's hot paths: taking in OTLP, finding a critical path, and
//! critical paths across thousands of traces.

use std::hint::black_box;

use collector::otlp;
use collector::store::Store;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use trace_analysis::aggregate::{Aggregator, Endpoint};
use trace_analysis::critical_path::critical_path;
use trace_analysis::model::{Kind, Span};
use workshop_bench::{SPANS_PER_REQUEST, demo_traces, export_request};

/// Decoding an OTLP protobuf export, flattening it and storing it: the
/// collector's work per request, without the HTTP around it.
fn ingest(c: &mut Criterion) {
    let body = export_request(0).encode_to_vec();
    let store = Store::in_memory(1_000_000);
    let mut group = c.benchmark_group("collector_ingest");
    group.throughput(Throughput::Elements(SPANS_PER_REQUEST as u64));
    group.bench_function("protobuf", |b| {
        b.iter(|| {
            let request = ExportTraceServiceRequest::decode(black_box(body.as_slice()))
                .expect("valid protobuf");
            store
                .insert(otlp::from_otlp(request).expect("valid spans"))
                .expect("stored");
        });
    });
    group.finish();
}

/// A wide, deep trace of 100,000 spans: 50 calls, each with 40 calls, each
/// with 49 more, at staggered times.
fn big_trace() -> Vec<Span> {
    let mut spans = Vec::with_capacity(100_000);
    let mut next = 0u64;
    let mut add = |parent: Option<u64>, start: u64, end: u64, spans: &mut Vec<Span>| {
        next += 1;
        spans.push(Span {
            trace_id: "0af7651916cd43dd8448eb211c80319c".to_owned(),
            span_id: format!("{next:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")),
            service: format!("svc{}", next % 5),
            name: format!("op{}", next % 17),
            kind: Kind::Internal,
            start_us: start,
            duration_us: end - start,
            ..Span::default()
        });
        next
    };
    let root = add(None, 0, 10_000_000, &mut spans);
    for i in 0..50u64 {
        let (s1, e1) = (i * 190_000, i * 190_000 + 400_000);
        let a = add(Some(root), s1, e1.min(10_000_000), &mut spans);
        for j in 0..40u64 {
            let (s2, e2) = (s1 + j * 9_000, s1 + j * 9_000 + 20_000);
            let b = add(Some(a), s2, e2, &mut spans);
            for k in 0..49u64 {
                let s3 = s2 + (k * 397) % 15_000;
                add(Some(b), s3, s3 + 1 + (k * 131) % 5_000, &mut spans);
            }
        }
    }
    spans
}

fn critical_path_of_100k_spans(c: &mut Criterion) {
    let trace = trace_analysis::jaeger::trace(&big_trace());
    assert!(trace.spans.len() >= 100_000);
    let mut group = c.benchmark_group("critical_path");
    group.bench_function("100k_spans", |b| {
        b.iter_batched(
            || (),
            |()| critical_path(black_box(&trace)),
            BatchSize::SmallInput,
        );
    });
}

/// Critical paths across 10,000 `POST /orders` of the demo's shape (about
/// 30 spans each), on one core: as the aggregator reads them, and as the
/// collector answers `GET /api/critical-paths` from its store (the
/// analysis and its JSON, without the HTTP around it).
fn critical_paths_across_10k_traces(c: &mut Criterion) {
    let traces = demo_traces(10_000);
    let orders = || Endpoint {
        service: "gateway".to_owned(),
        operation: "POST /orders".to_owned(),
    };
    let store = Store::in_memory(usize::MAX);
    for trace in &traces {
        store.insert(trace.clone()).expect("stored");
    }
    let mut group = c.benchmark_group("critical_paths_across");
    group.sample_size(10);
    group.bench_function("10k_traces", |b| {
        b.iter(|| {
            let mut aggregator = Aggregator::new(orders());
            for trace in &traces {
                aggregator.add_spans(black_box(trace));
            }
            let analysis = aggregator.finish();
            assert_eq!(analysis.traces, 10_000);
            analysis
        });
    });
    group.bench_function("10k_stored_traces_api_answer", |b| {
        b.iter(|| {
            let mut aggregator = Aggregator::new(orders());
            store.for_each_trace(|spans| {
                aggregator.add_spans(spans);
            });
            serde_json::to_vec(&aggregator.finish()).expect("JSON")
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    ingest,
    critical_path_of_100k_spans,
    critical_paths_across_10k_traces
);
criterion_main!(benches);
