//! `just crisp`, the command, on a recording of 30 demo traces and what
//! CRISP wrote for them (`tools/learner/trace-analysis/tests/fixtures`, which the
//! analysis's own test against CRISP reads).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../trace-analysis/tests/fixtures")
}

fn crisp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crisp"))
        .args(args)
        .output()
        .expect("the crisp command runs")
}

#[test]
fn the_command_prints_one_json_object_of_the_documented_shape() {
    let folder = fixtures().join("crisp-orders");
    let output = crisp(&["--json", folder.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["traces"], 30);
    let operations = json["operations"].as_array().unwrap();
    for op in operations {
        for key in [
            "service",
            "operation",
            "mean_critical_path_us",
            "total_critical_path_us",
        ] {
            assert!(!op[key].is_null(), "{key} in {op}");
        }
    }
    // Means over all traces add up to the mean trace duration.
    let sum: f64 = operations
        .iter()
        .map(|op| op["mean_critical_path_us"].as_f64().unwrap())
        .sum();
    let mean = json["mean_duration_us"].as_f64().unwrap();
    assert!((sum - mean).abs() < 1e-6 * mean, "{sum} vs {mean}");
    let context = &json["contexts"][0];
    assert_eq!(context["path"][0], "gateway POST /orders");
    assert!(context["mean_critical_path_us"].as_f64().unwrap() > 0.0);
    let bands: Vec<&str> = json["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["band"].as_str().unwrap())
        .collect();
    assert_eq!(bands, ["p50", "p90", "p95", "p99"]);
}

#[test]
fn the_command_checks_itself_against_crisp_and_says_so() {
    let folder = fixtures().join("crisp-orders");
    let cct = fixtures().join("crisp-orders.P100.cct");
    let output = crisp(&[
        folder.to_str().unwrap(),
        "--against-crisp",
        cct.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("They agree."), "{stdout}");
}

#[test]
fn the_command_draws_flame_graphs_per_band_and_against_a_baseline() {
    let folder = fixtures().join("crisp-orders");
    let out = std::env::temp_dir().join(format!("crisp-svgs-{}", std::process::id()));
    let output = crisp(&[
        folder.to_str().unwrap(),
        "--baseline",
        folder.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("What grows in the tail"), "{stdout}");
    for name in ["all", "p50", "p90", "p95", "p99", "diff"] {
        let svg = std::fs::read_to_string(out.join(format!("flame-{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("inventory reserve"),
            "flame-{name}.svg"
        );
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn traces_of_another_endpoint_get_a_message_that_names_the_roots_found() {
    let folder = fixtures().join("crisp-orders");
    let output = crisp(&[folder.to_str().unwrap(), "--operation", "GET /talks"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("gateway POST /orders (30)"),
        "the message names the roots found: {stderr}"
    );
}

#[test]
fn what_if_projects_the_percentiles_in_the_json() {
    let folder = fixtures().join("crisp-orders");
    let output = crisp(&[
        "--json",
        folder.to_str().unwrap(),
        "--what-if",
        "inventory reserve -100%",
        "--what-if",
        "gateway look_up +50%",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let what_if = &json["what_if"];
    let (measured, projected) = (&what_if["measured"], &what_if["projected"]);
    let us = |latencies: &Value, key: &str| latencies[key].as_f64().unwrap();
    // The measured percentiles are where the analysis's bands start.
    for (key, band) in ["p50_us", "p90_us", "p95_us", "p99_us"]
        .into_iter()
        .zip(json["bands"].as_array().unwrap())
    {
        assert_eq!(us(measured, key), band["min_duration_us"].as_f64().unwrap());
    }
    // Each change acts on the mean critical-path time the analysis lists.
    let changes = what_if["changes"].as_array().unwrap();
    let mean_of = |service: &str, operation: &str| {
        json["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|op| op["service"] == service && op["operation"] == operation)
            .map_or(0.0, |op| op["mean_critical_path_us"].as_f64().unwrap())
    };
    let (reserve, look_up) = (&changes[0], &changes[1]);
    assert_eq!(
        (
            &reserve["service"],
            &reserve["operation"],
            &reserve["percent"]
        ),
        (
            &Value::from("inventory"),
            &Value::from("reserve"),
            &Value::from(-100.0)
        )
    );
    let reserve_us = reserve["mean_critical_path_us"].as_f64().unwrap();
    let look_up_us = look_up["mean_critical_path_us"].as_f64().unwrap();
    assert_eq!(reserve_us, mean_of("inventory", "reserve"));
    assert_eq!(look_up_us, mean_of("gateway", "look_up"));
    assert_eq!(reserve["traces_on_path"], 30);
    // The mean moves by what the changes take off and add, exactly.
    let expected = us(measured, "mean_us") - reserve_us + 0.5 * look_up_us;
    let mean = us(projected, "mean_us");
    assert!(
        (mean - expected).abs() < 1e-6 * expected,
        "{mean} vs {expected}"
    );
    assert!(
        us(projected, "p50_us") < us(measured, "p50_us"),
        "{what_if}"
    );
}

#[test]
fn what_if_says_when_the_operation_is_never_on_the_critical_path() {
    let folder = fixtures().join("crisp-orders");
    let out = std::env::temp_dir().join(format!("crisp-what-if-{}", std::process::id()));
    let output = crisp(&[
        folder.to_str().unwrap(),
        "--what-if",
        "gateway no_such_operation -50%",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "gateway no_such_operation is never on the critical path of these 30 traces: \
             no change projected"
        ),
        "{stdout}"
    );
    let output = crisp(&[
        folder.to_str().unwrap(),
        "--what-if",
        "inventory POST /reservations -30%",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for row in ["mean", "p50", "p99", "p99 band"] {
        assert!(
            stdout.contains(&format!("    {row} ")),
            "a row for {row}: {stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn a_what_if_of_the_wrong_shape_is_a_usage_error_that_names_the_shape() {
    let folder = fixtures().join("crisp-orders");
    for wrong in [
        "inventory reserve",
        "inventory reserve -150%",
        "reserve -50%",
    ] {
        let output = crisp(&[folder.to_str().unwrap(), "--what-if", wrong]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{wrong:?}: {stderr}");
        assert!(
            stderr.contains("SERVICE OPERATION ±PCT%"),
            "{wrong:?}: {stderr}"
        );
    }
    let twice = crisp(&[
        folder.to_str().unwrap(),
        "--what-if",
        "inventory reserve -50%",
        "--what-if",
        "inventory reserve +10%",
    ]);
    assert_eq!(twice.status.code(), Some(2));
}

/// One order of 10 ms, written where `just crisp` reads it: the gateway's
/// root (0.5 ms on a CPU) waits 8 ms on inventory's reserve (0.2 ms on a
/// CPU, its tag written as text), which waits 6 ms on the database, whose
/// span carries no CPU time.
const ORDER_ON_CPU: &str = r#"{"data":[{"traceID":"c1","spans":[
    {"traceID":"c1","spanID":"r","operationName":"POST /orders","references":[],
     "startTime":0,"duration":10000,"processID":"p1",
     "tags":[{"key":"span.cpu_time_ns","type":"int64","value":500000}]},
    {"traceID":"c1","spanID":"i","operationName":"reserve",
     "references":[{"refType":"CHILD_OF","traceID":"c1","spanID":"r"}],
     "startTime":1000,"duration":8000,"processID":"p2",
     "tags":[{"key":"span.cpu_time_ns","type":"int64","value":"200000"}]},
    {"traceID":"c1","spanID":"d","operationName":"SELECT",
     "references":[{"refType":"CHILD_OF","traceID":"c1","spanID":"i"}],
     "startTime":2000,"duration":6000,"processID":"p3","tags":[]}],
   "processes":{"p1":{"serviceName":"gateway"},"p2":{"serviceName":"inventory"},
                "p3":{"serviceName":"postgres"}}}]}"#;

#[test]
fn each_operations_cpu_time_is_shown_beside_its_critical_path_time() {
    let dir = std::env::temp_dir().join(format!("crisp-cpu-{}", std::process::id()));
    let (folder, out) = (dir.join("traces"), dir.join("svgs"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("c1.json"), ORDER_ON_CPU).unwrap();

    let output = crisp(&["--json", folder.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let row = |operation: &str| {
        json["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|op| op["operation"] == operation)
            .unwrap_or_else(|| panic!("{operation} in {json}"))
            .clone()
    };
    assert_eq!(row("reserve")["mean_cpu_us"], 200.0);
    assert_eq!(row("POST /orders")["mean_cpu_us"], 500.0);
    assert!(
        row("SELECT").get("mean_cpu_us").is_none(),
        "no figure where no span carries one: {json}"
    );
    let tail = json["tail"].as_array().unwrap();
    let reserve = tail.iter().find(|t| t["operation"] == "reserve").unwrap();
    assert_eq!(reserve["p99_mean_cpu_us"], 200.0);

    let output = crisp(&[folder.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // share, mean ms, cpu ms, in the table over all traces.
    let columns = |operation: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|line| line.contains('%') && line.ends_with(operation))
            .unwrap_or_else(|| panic!("a row for {operation}: {stdout}"));
        line.split_whitespace().take(3).map(str::to_owned).collect()
    };
    assert_eq!(columns("inventory reserve"), ["20.0%", "2.0", "0.2"]);
    assert_eq!(columns("gateway POST /orders"), ["20.0%", "2.0", "0.5"]);
    assert_eq!(columns("postgres SELECT"), ["60.0%", "6.0", "—"]);
    assert!(
        stdout.contains("it waits"),
        "the column is explained: {stdout}"
    );
    assert!(
        stdout.contains("inventory reserve 2.0 ms (cpu 0.2 ms)"),
        "each band's operations too: {stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
