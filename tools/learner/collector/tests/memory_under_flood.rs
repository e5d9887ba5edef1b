//! The collector's memory, not only its accounting, stays within its byte
//! budget under a flood. The real program runs as `just collector` runs
//! it, with a small `--max-bytes`; exports of spans full of long
//! attributes arrive one after another, thirty times the budget in all,
//! and the process's resident memory (`VmRSS`, read from `/proc`) may
//! grow by the budget and what a few requests in flight take, never by
//! what was sent. Before the collector was bounded in bytes, ten gzip
//! exports of 63 KB grew it by some 600 MB.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const MIB: u64 = 1024 * 1024;
/// The store's budget, `--max-bytes`.
const BUDGET: u64 = 32 * MIB;
/// What requests in flight, their decoding and the allocator's slack (a
/// pool of freed memory per thread) may add to the budget: a dozen of the
/// collector's largest bodies (8 MiB). Measured: 35 to 60 MiB.
const ALLOWANCE: u64 = 96 * MIB;
const EXPORTS: u32 = 200;
const SPANS_PER_EXPORT: u32 = 8;
/// Attributes a span, the collector's limit, each longer than the 4 KiB a
/// value is cut to: every span stores about 512 KiB.
const ATTRIBUTES: usize = 128;
const VALUE_BYTES: usize = 5_000;

/// The collector's process, killed when the test ends however it ends.
struct Collector {
    child: Child,
    otlp: SocketAddr,
    ui: SocketAddr,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now; the collector binds it at once.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on loopback")
}

impl Collector {
    fn start() -> Self {
        let (otlp, ui) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_collector"))
            .args(["--otlp-listen", &otlp.to_string()])
            .args(["--ui-listen", &ui.to_string()])
            .args(["--max-bytes", &BUDGET.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the collector starts");
        let mut collector = Self { child, otlp, ui };
        // Wait for the condition itself: both ports answer.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(otlp).is_err() || TcpStream::connect(ui).is_err() {
            if let Some(status) = collector.child.try_wait().expect("the child's status") {
                panic!("the collector exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the collector never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        collector
    }

    /// Resident memory in bytes, from `/proc/PID/status`.
    fn resident(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the collector's status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        kib * 1024
    }

    /// A sample of the collector's own `GET /metrics`.
    fn metric(&self, name: &str) -> f64 {
        let (status, body) = http(self.ui, "GET", "/metrics", "text/plain", &[]);
        assert_eq!(
            status,
            200,
            "GET /metrics: {}",
            String::from_utf8_lossy(&body)
        );
        let text = String::from_utf8(body).expect("metrics are text");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    }
}

/// One HTTP/1.1 request on a connection of its own; the status and body.
fn http(
    to: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(to).expect("connect to the collector");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    stream.write_all(body).expect("send the body");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let end = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("an answer with a head");
    let status = std::str::from_utf8(&answer[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, answer[end + 4..].to_vec())
}

fn text(key: String, value: String) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..KeyValue::default()
    }
}

/// Export `n`: spans of traces of their own, each with long attributes.
fn export(n: u32) -> Vec<u8> {
    const EPOCH_NS: u64 = 1_795_000_000_000_000_000;
    let spans = (0..SPANS_PER_EXPORT)
        .map(|i| {
            let id = n * SPANS_PER_EXPORT + i + 1;
            let attributes = (0..ATTRIBUTES)
                .map(|a| {
                    text(
                        format!("field.{a}"),
                        format!("{id}:{a}:").repeat(VALUE_BYTES / 8),
                    )
                })
                .collect();
            Span {
                trace_id: [id.to_be_bytes(), [0, 0, 0, 1], [0; 4], [0; 4]].concat(),
                span_id: u64::from(id).to_be_bytes().to_vec(),
                name: "POST /flood".to_owned(),
                kind: 2,
                start_time_unix_nano: EPOCH_NS + u64::from(id) * 1_000_000,
                end_time_unix_nano: EPOCH_NS + u64::from(id) * 1_000_000 + 500_000,
                attributes,
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name".into(), "flood".into())],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn a_flood_thirty_times_the_budget_keeps_resident_memory_within_it() {
    let collector = Collector::start();
    // The baseline after one export: the program and its first buffers.
    let post = |n| {
        http(
            collector.otlp,
            "POST",
            "/v1/traces",
            "application/x-protobuf",
            &export(n),
        )
    };
    assert_eq!(post(0).0, 200, "the first export is accepted");
    let baseline = collector.resident("VmRSS");
    let mut sent = 0u64;
    for n in 1..=EXPORTS {
        let body = export(n);
        sent += body.len() as u64;
        let (status, answer) = http(
            collector.otlp,
            "POST",
            "/v1/traces",
            "application/x-protobuf",
            &body,
        );
        assert_eq!(
            status,
            200,
            "export {n}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let resident = collector.resident("VmRSS");
    let peak = collector.resident("VmHWM");
    let stored = collector.metric("collector_store_size_bytes");
    let evicted = collector.metric("collector_spans_evicted_total");
    let growth = resident.saturating_sub(baseline);
    println!(
        "sent {} MiB in {EXPORTS} exports; stored {:.1} MiB of a {} MiB budget, {evicted} spans evicted; \
         resident memory {} MiB after one export, {} MiB after the flood (+{} MiB), peak {} MiB",
        sent / MIB,
        stored / MIB as f64,
        BUDGET / MIB,
        baseline / MIB,
        resident / MIB,
        growth / MIB,
        peak / MIB,
    );
    assert!(
        sent > 4 * (BUDGET + ALLOWANCE),
        "the flood is large beside the budget"
    );
    assert!(
        stored <= BUDGET as f64,
        "the store holds {stored} bytes, over its budget of {BUDGET}"
    );
    assert!(evicted > 0.0, "a flood past the budget evicts traces");
    assert!(
        growth <= BUDGET + ALLOWANCE,
        "resident memory grew by {} MiB over {} MiB of exports, beyond the budget ({} MiB) and {} MiB for requests in flight",
        growth / MIB,
        sent / MIB,
        BUDGET / MIB,
        ALLOWANCE / MIB
    );
    // The high-water mark: memory taken during the flood and given back
    // before its end is held to the same bound.
    let peak_growth = peak.saturating_sub(baseline);
    assert!(
        peak_growth <= BUDGET + ALLOWANCE,
        "resident memory peaked {} MiB above its start during the flood, beyond the budget ({} MiB) and {} MiB for requests in flight",
        peak_growth / MIB,
        BUDGET / MIB,
        ALLOWANCE / MIB
    );
}
