//! `just demo`: the shop as five processes, under load, with a report.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use demo::{DEFAULT_BASE_PORT, SERVICES, Shop};
use loadgen::Load;

/// Runs the shop as separate processes, drives load at it, and reports.
#[derive(Parser)]
struct Args {
    /// Run the load this many seconds, then stop everything and exit. Without
    /// it, the load runs until Ctrl-C.
    #[arg(long)]
    duration: Option<u64>,
    /// Turn every planted problem's fix on.
    #[arg(long)]
    fixed: bool,
    /// Customers sending requests at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The gateway's port; the other services take the next four.
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let root = demo::workspace_root();
    demo::build_services(&root, false)?;
    let log_dir = root.join("target/demo/logs");
    let mut env = vec![
        ("RUST_LOG", "info".to_owned()),
        // Enough seats that a long demo does not sell out every talk.
        ("SEATS_PER_TALK", "1000000".to_owned()),
        // Until the workshop's collector runs here, spans stay in the logs.
        ("OTEL_TRACES_EXPORTER", "none".to_owned()),
    ];
    if args.fixed {
        env.push(("FIX_ALL", "true".to_owned()));
    }
    let bin_dir = demo::bin_dir().map_err(|err| err.to_string())?;
    let mut shop =
        Shop::start(&bin_dir, args.base_port, &env, &log_dir).map_err(|err| err.to_string())?;
    shop.wait_healthy(Duration::from_secs(15)).await?;

    println!(
        "The shop is up: {} services, planted problems {}.",
        SERVICES.len(),
        if args.fixed {
            "fixed"
        } else {
            "on (`just demo --fixed` fixes them)"
        }
    );
    for (name, offset) in SERVICES {
        println!(
            "  {name:<10} http://127.0.0.1:{:<6} log: {}",
            args.base_port + offset,
            relative(&log_dir.join(format!("{name}.log")), &root)
        );
    }
    let load = Load {
        target: shop.gateway_url(),
        concurrency: args.concurrency,
        // Without --duration: a day, which Ctrl-C cuts short.
        duration: Duration::from_secs(args.duration.unwrap_or(86_400)),
        max_requests: None,
        progress: true,
    };
    match args.duration {
        Some(secs) => println!("Load: {} customers for {secs} s.", args.concurrency),
        None => println!("Load: {} customers until Ctrl-C.", args.concurrency),
    }
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = loadgen::run(&load, ctrl_c).await;
    let problems = shop.stop(Duration::from_secs(10));

    println!();
    println!("{}", report.summary());
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!("Answers by status: {}", statuses.join(", "));
    for problem in &problems {
        println!("warning: {problem}");
    }
    if report.requests == 0 && args.duration.is_some() {
        return Err("no request completed".to_owned());
    }
    Ok(())
}

fn relative(path: &Path, root: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    path.canonicalize()
        .ok()
        .and_then(|p| p.strip_prefix(&root).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
