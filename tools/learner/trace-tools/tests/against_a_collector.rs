//! The trace programs against a running collector (one of this test's own,
//! on a free port): `critical-path` agrees with the critical path the
//! collector serves, and `crisp` compares two windows of its traces (and
//! says that a `--what-if` projection reads files).

use std::process::Command;
use std::sync::Arc;

use collector::store::Store;
use collector_client::Client;
use serde_json::Value;
use trace_analysis::critical_path::Section;
use trace_analysis::jaeger::Response;
use trace_analysis::model::{Kind, Span, Status};

/// A fixed instant, long ago, in Unix µs.
const EPOCH_US: u64 = 1_795_000_000_000_000;

/// A collector's query API holding `traces`, on a free port of loopback:
/// its address.
async fn collector_holding(traces: Vec<Vec<Span>>) -> String {
    let store = Arc::new(Store::in_memory(1_000));
    for spans in traces {
        store.insert(spans).expect("stored");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = collector_client::loopback(listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, collector::api::router(store)).await });
    url
}

/// A span of service `svc` in trace `trace`, `id` under `parent`, from
/// `start` to `end` µs after [`EPOCH_US`], named `op{id}`.
fn span(trace: u8, id: u8, parent: Option<u8>, start: u64, end: u64, kind: Kind) -> Span {
    Span {
        trace_id: format!("{trace:02x}").repeat(16),
        span_id: format!("{id:02x}").repeat(8),
        parent_span_id: parent.map(|p| format!("{p:02x}").repeat(8)),
        service: "svc".to_owned(),
        name: format!("op{id}"),
        kind,
        start_us: EPOCH_US + start,
        duration_us: end - start,
        ..Span::default()
    }
}

/// root 0–100: a 10–40 (with a1 15–25), b 20–90 (with b1 30–60, b failed),
/// c 50–70, in trace 7.
fn known_trace() -> Vec<Span> {
    let mut b = span(7, 4, Some(1), 20, 90, Kind::Client);
    b.status = Status::Error;
    vec![
        span(7, 1, None, 0, 100, Kind::Server),
        span(7, 2, Some(1), 10, 40, Kind::Client),
        span(7, 3, Some(2), 15, 25, Kind::Server),
        b,
        span(7, 5, Some(4), 30, 60, Kind::Server),
        span(7, 6, Some(1), 50, 70, Kind::Client),
    ]
}

#[tokio::test]
async fn critical_path_agrees_with_the_collector_on_a_trace_it_serves() {
    let ui = collector_holding(vec![known_trace()]).await;
    let client = Client::new(&ui).unwrap();
    let trace_id = "07".repeat(16);
    let served = client.critical_path(&trace_id).await.unwrap();
    assert_eq!(served.len(), 5, "{served:?}");
    let trace = client.trace(&trace_id).await.unwrap().expect("the trace");

    // The command reads the same trace from a file in Jaeger's shape.
    let file = std::env::temp_dir().join(format!("trace-{}.json", std::process::id()));
    let answer = Response::new(vec![trace], 1);
    std::fs::write(&file, serde_json::to_string(&answer).unwrap()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_critical-path"))
        .arg("--json")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_cli: Vec<Section> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(from_cli, served);
    let table = Command::new(env!("CARGO_BIN_EXE_critical-path"))
        .arg(&file)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("critical path: 0.100 ms in 5 sections"),
        "{table}"
    );
    std::fs::remove_file(&file).unwrap();
}

/// The known trace as trace `trace`, its root started `ago_s` seconds
/// ago, its span b (op4) lasting `b_ms` milliseconds longer.
fn recent_trace(trace: u8, ago_s: u64, b_ms: u64) -> Vec<Span> {
    let shift = collector_client::now_us() - ago_s * 1_000_000 - EPOCH_US;
    known_trace()
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s.trace_id = format!("{trace:02x}").repeat(16);
            s.start_us += shift;
            // The root and b end b_ms later.
            if i == 0 || i == 3 {
                s.duration_us += b_ms * 1_000;
            }
            s
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crisp_compares_two_windows_of_the_running_collector() {
    // Ten minutes ago b was slow (50 ms); in the last minute, fast (1 ms).
    let traces = [(1, 600, 50), (2, 590, 50), (3, 30, 1), (4, 20, 1)]
        .into_iter()
        .map(|(trace, ago, b_ms)| recent_trace(trace, ago, b_ms))
        .collect();
    let ui = collector_holding(traces).await;
    let collector = ui.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_crisp"))
            .args([
                "--collector",
                &collector,
                "--service",
                "svc",
                "--operation",
                "op1",
            ])
            .args(["--window", "2m..", "--baseline-window", "15m..5m", "--json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["traces"], 2, "the last two minutes: {answer}");
    let comparison = &answer["comparison"];
    assert_eq!(comparison["before_traces"], 2);
    let op4 = comparison["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["operation"] == "op4")
        .unwrap();
    // b owned 40 µs plus its extra time: 50 ms before, 1 ms after.
    assert_eq!(op4["before_mean_us"], 50_040.0);
    assert_eq!(op4["after_mean_us"], 1_040.0);

    let wrong = Command::new(env!("CARGO_BIN_EXE_crisp"))
        .args(["--collector", &ui, "--window", "5m..10m"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("ends before it starts"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // A projection needs each trace: the collector answers with the
    // analysis alone, so the command says to give files.
    let what_if = Command::new(env!("CARGO_BIN_EXE_crisp"))
        .args(["--collector", &ui, "--window", "2m.."])
        .args(["--service", "svc", "--operation", "op1"])
        .args(["--what-if", "svc op4 -50%"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&what_if.stderr);
    assert!(!what_if.status.success(), "{stderr}");
    assert!(
        stderr.contains("give files or folders of traces"),
        "{stderr}"
    );
}
