//! `just ratio PATH…`: business statements versus admin statements, per
//! function, per file and in all, worst first.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ratio::{Rules, analyze_paths};

/// Business statements per admin statement (logging, timing,
/// instrumentation) in Rust functions, counted from the syntax tree, so that
/// the layout changes nothing. The rules are in tools/learner/ratio/README.md.
#[derive(Parser)]
struct Args {
    /// Files or folders (searched for .rs files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print `{"files": [...], "business", "admin", "ratio"}` as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 when the total ratio is below this.
    #[arg(long)]
    min_ratio: Option<f64>,
    /// Count this macro as admin too (by the last segment of its path).
    #[arg(long = "macro", value_name = "NAME")]
    macros: Vec<String>,
    /// Count calls to this path as admin too (e.g. `metrics::record`).
    #[arg(long = "path", value_name = "PATH")]
    paths_admin: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut rules = Rules::default();
    rules.macros.extend(args.macros);
    rules.paths.extend(args.paths_admin);
    let report = match analyze_paths(&args.paths, &rules) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("ratio: {err:#}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        );
    } else {
        print_table(&report);
    }
    match (args.min_ratio, report.ratio) {
        (Some(min), Some(total)) if total < min => {
            eprintln!("ratio: {total:.2} is below the minimum of {min:.2}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

fn show(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "∞".to_owned(), |r| format!("{r:.2}"))
}

/// Worst first: the lowest ratio (most admin per business line) on top.
fn print_table(report: &ratio::Report) {
    let key = |r: Option<f64>| r.unwrap_or(f64::INFINITY);
    let mut functions: Vec<(&str, &ratio::FunctionReport)> = report
        .files
        .iter()
        .flat_map(|f| {
            f.functions
                .iter()
                .map(move |function| (f.path.as_str(), function))
        })
        .filter(|(_, f)| f.business + f.admin > 0)
        .collect();
    functions.sort_by(|a, b| key(a.1.ratio).total_cmp(&key(b.1.ratio)));
    println!("{:>7} {:>9} {:>6}  function", "ratio", "business", "admin");
    for (path, function) in &functions {
        println!(
            "{:>7} {:>9} {:>6}  {path}:{} {}",
            show(function.ratio),
            function.business,
            function.admin,
            function.line,
            function.name
        );
    }
    let mut files: Vec<&ratio::FileReport> = report.files.iter().collect();
    files.sort_by(|a, b| key(a.ratio).total_cmp(&key(b.ratio)));
    println!();
    println!("{:>7} {:>9} {:>6}  file", "ratio", "business", "admin");
    for file in files {
        println!(
            "{:>7} {:>9} {:>6}  {}",
            show(file.ratio),
            file.business,
            file.admin,
            file.path
        );
    }
    println!();
    println!(
        "total: {} business statements, {} admin statements, ratio {}",
        report.business,
        report.admin,
        show(report.ratio)
    );
}
