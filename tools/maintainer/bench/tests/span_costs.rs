//! The per-span cost table, written from estimate files shaped as
//! criterion writes them.

use std::path::{Path, PathBuf};

use workshop_bench::machine::Measured;
use workshop_bench::span_costs;

/// Every case of the `span_cost` group, with a mean in nanoseconds.
const MEANS: [(&str, f64); 10] = [
    ("no_subscriber", 2.5),
    ("registry", 120.0),
    ("console_layer", 300.0),
    ("json_layer", 540.0),
    ("otel_noop_exporter", 960.0),
    ("otel_otlp_loopback", 1_800.0),
    ("otel_sdk_span", 250.0),
    ("otel_sdk_span_sampled_out", 75.0),
    ("otel_sampled_out", 480.0),
    ("otel_sampled_out_child", 160.0),
];

fn measured() -> Measured {
    Measured {
        date: "2030-01-02".to_owned(),
        cpu: "Test CPU 9000".to_owned(),
        cores: 4,
    }
}

/// A fresh target folder holding criterion's estimates of `cases`, each
/// with its 95 % interval 10 % either side of its mean.
fn target_with(folder: &str, cases: &[(&str, f64)]) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(folder);
    let _ = std::fs::remove_dir_all(&target);
    for (name, mean) in cases {
        let dir = target.join("criterion/span_cost").join(name).join("new");
        std::fs::create_dir_all(&dir).unwrap();
        let estimate = |point: f64| {
            format!(
                r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{},"upper_bound":{}}},"point_estimate":{point},"standard_error":{}}}"#,
                point * 0.9,
                point * 1.1,
                point * 0.05
            )
        };
        let json = format!(
            r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":null,"std_dev":{}}}"#,
            estimate(*mean),
            estimate(mean * 0.98),
            estimate(mean * 0.02),
            estimate(mean * 0.1)
        );
        std::fs::write(dir.join("estimates.json"), json).unwrap();
    }
    target
}

/// The cells of the table's row for `case`.
fn cells(table: &str, case: &str) -> Vec<String> {
    let row = table
        .lines()
        .find(|line| line.starts_with(&format!("| `{case}` |")))
        .unwrap_or_else(|| panic!("no row for {case}:\n{table}"));
    row.trim_matches('|')
        .split('|')
        .map(|cell| cell.trim().to_owned())
        .collect()
}

#[test]
fn every_case_has_a_row_with_its_interval_and_its_ratio_to_the_registry() {
    let target = target_with("span-costs-every-case", &MEANS);
    let out = target.join("slides/measured/span-costs.md");
    span_costs::write(&target, &out, &measured()).unwrap();
    let table = std::fs::read_to_string(&out).unwrap();

    let anchored = table
        .split("<!-- ANCHOR: span_costs -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- ANCHOR_END: span_costs -->").next())
        .unwrap_or_else(|| panic!("the table is between its anchors:\n{table}"));
    assert!(
        anchored.contains("2030-01-02 (UTC), Test CPU 9000, 4 logical cores."),
        "{anchored}"
    );
    for (case, _) in MEANS {
        assert!(
            anchored.contains(&format!("| `{case}` |")),
            "{case}:\n{table}"
        );
        assert!(
            table.contains(&format!("- `{case}`: ")),
            "what {case} runs, below the table:\n{table}"
        );
    }
    assert_eq!(
        cells(&table, "json_layer")[1..4],
        ["540.0 ns", "486.0–594.0", "4.50"],
        "mean, interval, and 540 / 120"
    );
    assert_eq!(cells(&table, "registry")[3], "1.00");
    assert_eq!(cells(&table, "no_subscriber")[3], "0.021", "2.5 / 120");
    assert_eq!(cells(&table, "otel_otlp_loopback")[1], "1,800 ns");
    assert_eq!(cells(&table, "otel_otlp_loopback")[3], "15.0");
    assert_eq!(cells(&table, "otel_sdk_span")[4], "204 ns ²");
    assert_eq!(cells(&table, "otel_sdk_span_sampled_out")[4], "51 ns ²");
    assert!(
        table.contains("0.25 there, 0.30 here"),
        "the SDK's own ratio beside ours (75 / 250):\n{table}"
    );
    assert!(anchored.contains("compare ratios, not ns"), "{anchored}");
}

#[test]
fn a_missing_case_is_named_and_nothing_is_written() {
    let ran: Vec<(&str, f64)> = MEANS
        .into_iter()
        .filter(|(case, _)| !matches!(*case, "json_layer" | "otel_sampled_out"))
        .collect();
    let target = target_with("span-costs-missing-case", &ran);
    let out = target.join("slides/measured/span-costs.md");

    let error = span_costs::write(&target, &out, &measured())
        .expect_err("two cases did not run")
        .to_string();
    assert!(error.contains("span_cost/json_layer"), "{error}");
    assert!(error.contains("span_cost/otel_sampled_out"), "{error}");
    assert!(!error.contains("span_cost/registry"), "{error}");
    assert!(!out.exists(), "no table with rows left out");
}
