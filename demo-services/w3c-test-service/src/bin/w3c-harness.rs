//! `just w3c PATH`: runs the public W3C Trace Context test harness against
//! the test service, at both specification levels, and says whether the
//! shop's propagation conforms.
//!
//! The service runs in this process on a free loopback port (the same
//! `w3c_test_service::app()` that `just w3c-test-service` serves), with its
//! spans made but exported nowhere. The harness is the Python program of
//! the `w3c/trace-context` repository's `test/` folder; it needs `aiohttp`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Parser;
use opentelemetry_sdk::trace::InMemorySpanExporter;

#[derive(Parser)]
struct Args {
    /// The harness: its `test/` folder (with `test.py`), or the folder above it.
    path: PathBuf,
    /// Run one specification level only (1 or 2); both by default.
    #[arg(long)]
    spec_level: Option<u8>,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("w3c: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool> {
    let harness = harness_dir(&args.path)?;
    check_python()?;
    let service = serve_test_service()?;
    let levels = match args.spec_level {
        Some(level) => vec![level],
        None => vec![1, 2],
    };
    let mut summaries = Vec::new();
    for level in levels {
        let (passed, summary) = run_harness(&harness, service, level)?;
        summaries.push((passed, format!("SPEC_LEVEL={level}: {summary}")));
    }
    println!();
    for (passed, summary) in &summaries {
        println!(
            "{} W3C Trace Context harness, {summary}",
            if *passed { "✓" } else { "✗" }
        );
    }
    Ok(summaries.iter().all(|(passed, _)| *passed))
}

/// The folder holding `test.py`.
fn harness_dir(path: &Path) -> Result<PathBuf> {
    [path.to_path_buf(), path.join("test")]
        .into_iter()
        .find(|dir| dir.join("test.py").is_file())
        .with_context(|| {
            format!(
                "no W3C harness at {}: give the folder that holds test.py \
                 (the `test/` folder of the w3c/trace-context repository) or the one above it",
                path.display()
            )
        })
}

fn check_python() -> Result<()> {
    let found = Command::new("python3")
        .args(["-c", "import aiohttp"])
        .output()
        .context("python3 is not on PATH; the harness is a Python program")?;
    if !found.status.success() {
        bail!("the harness needs aiohttp: `python3 -m pip install aiohttp`, then run this again");
    }
    Ok(())
}

/// Serves the test service on a free port, on a thread of its own, for the
/// rest of this process's life.
fn serve_test_service() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("no free port")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let provider = telemetry::tracer_provider::<InMemorySpanExporter>("w3c-test-service", None);
        let settings = telemetry::Settings::quiet("w3c-test-service");
        let (subscriber, _log_writers) = telemetry::subscriber(&settings, &provider);
        let _default = tracing::subscriber::set_default(subscriber);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test service");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            axum::serve(listener, w3c_test_service::app())
                .await
                .expect("serving the test service");
        });
    });
    // The port is bound already: the harness's first request waits in the
    // backlog until the thread above accepts it.
    Ok(addr)
}

/// Runs the harness at one level; returns whether it passed and its own
/// summary (`Ran 41 tests in 0.4s, OK`).
fn run_harness(dir: &Path, service: SocketAddr, level: u8) -> Result<(bool, String)> {
    // The harness listens for the service's calls on a port of its own
    // (7777 unless told otherwise): give it one that is free now.
    let callback_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    println!("Running the W3C Trace Context harness at SPEC_LEVEL={level}");
    let output = Command::new("python3")
        .arg("test.py")
        .arg(format!("http://{service}/test"))
        .current_dir(dir)
        .env("SPEC_LEVEL", level.to_string())
        .env("STRICT_LEVEL", "2")
        .env("HARNESS_HOST", "127.0.0.1")
        .env("HARNESS_PORT", callback_port.to_string())
        .output()
        .context("cannot run the harness with python3")?;
    // unittest reports on stderr; the harness's own notes go to stdout.
    print!("{}", String::from_utf8_lossy(&output.stdout));
    let report = String::from_utf8_lossy(&output.stderr);
    eprint!("{report}");
    Ok((output.status.success(), summary(&report)))
}

/// `Ran 41 tests in 0.404s` and the verdict line after it, joined.
fn summary(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let ran = lines.iter().position(|l| l.starts_with("Ran "));
    match ran {
        Some(i) => {
            let verdict = lines[i + 1..].iter().find(|l| !l.is_empty());
            format!("{}, {}", lines[i], verdict.copied().unwrap_or("no verdict"))
        }
        None => "the harness did not report (see its output above)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn the_summary_is_the_harness_own_lines() {
        let report = "....\n------\nRan 41 tests in 0.404s\n\nOK (skipped=1)\n";
        assert_eq!(summary(report), "Ran 41 tests in 0.404s, OK (skipped=1)");
        let failed = "F.\nRan 2 tests in 0.1s\n\nFAILED (failures=1)\n";
        assert_eq!(summary(failed), "Ran 2 tests in 0.1s, FAILED (failures=1)");
        assert!(summary("Traceback").contains("did not report"));
    }
}
