//! `just critical-path [--json] FILE`: the critical path of a trace saved in
//! Jaeger's JSON shape (the first trace in `data`), from Jaeger's UI, our
//! collector's API, or anything else that writes that shape.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{self, Trace};

/// Prints the critical path of a trace in Jaeger's JSON shape.
#[derive(Parser)]
struct Args {
    /// Print `[{"spanID", "start", "end"}]`, microseconds, instead of a table.
    #[arg(long)]
    json: bool,
    /// The trace file: `{"data": [trace, …]}`.
    file: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let trace = match read(&args.file) {
        Ok(trace) => trace,
        Err(err) => {
            eprintln!("critical-path: {}: {err:#}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let path = critical_path(&trace);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&path).expect("sections serialise")
        );
        return ExitCode::SUCCESS;
    }
    let start = trace.root().map_or(0, |r| r.start_time);
    let total: u64 = path.iter().map(|s| s.end - s.start).sum();
    println!(
        "{:<12} {:<32} {:>10} {:>10} {:>10} {:>6}",
        "service", "operation", "from ms", "to ms", "ms", "%"
    );
    for section in path.iter().rev() {
        let span = trace
            .spans
            .iter()
            .find(|s| s.span_id == section.span_id)
            .expect("a span of the trace");
        let ms = |us: u64| us as f64 / 1000.0;
        println!(
            "{:<12} {:<32.32} {:>10.3} {:>10.3} {:>10.3} {:>5.1}%",
            trace.service_of(span),
            span.operation_name,
            ms(section.start - start),
            ms(section.end - start),
            ms(section.end - section.start),
            100.0 * (section.end - section.start) as f64 / total.max(1) as f64
        );
    }
    println!(
        "critical path: {:.3} ms in {} sections",
        total as f64 / 1000.0,
        path.len()
    );
    ExitCode::SUCCESS
}

fn read(file: &PathBuf) -> anyhow::Result<Trace> {
    let text = std::fs::read_to_string(file)?;
    let response: jaeger::Response<Vec<Trace>> =
        serde_json::from_str(&text).context("not a Jaeger trace file")?;
    response
        .data
        .into_iter()
        .next()
        .context("the file holds no trace")
}
