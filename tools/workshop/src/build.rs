//! Building a lab's grader with cargo, and turning a compile failure into a
//! short report a learner can act on.
//!
//! The build is exactly `cargo test --no-run -p <package>`, the command a
//! learner would type, so the artifacts are shared with it (and with
//! `just setup`): grading never rebuilds what cargo already built. Cargo's
//! JSON messages tell us the test executables and the compiler errors; its
//! human output is kept for `--verbose` and for errors that are not the
//! compiler's (a broken `Cargo.toml`, a stale lock file).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::catalog::Workspace;

/// A test executable cargo built.
#[derive(Clone, Debug)]
pub struct TestBinary {
    pub package: String,
    pub path: PathBuf,
    /// The test's source file, as cargo resolved it.
    pub src_path: PathBuf,
    /// The package's folder: tests run from there, as under `cargo test`.
    pub package_dir: PathBuf,
}

/// The first compiler error, trimmed to what a learner needs first.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CompileError {
    pub headline: String,
    /// `src/lib.rs:12:5`, relative to the package.
    pub location: Option<String>,
    /// The compiler's full text for this error.
    pub rendered: String,
    /// How many errors there were in all.
    pub count: usize,
}

pub struct BuildOutput {
    pub binaries: Vec<TestBinary>,
    /// Per package that failed to compile: its first error.
    pub errors: BTreeMap<String, CompileError>,
    /// Set when the build failed for a reason other than a compiler error.
    pub cargo_failure: Option<String>,
    /// Cargo's human output, for `--verbose`.
    pub log: String,
}

impl BuildOutput {
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty() && self.cargo_failure.is_none()
    }
}

/// What to say while building, and whether to show a progress bar.
pub struct Progress {
    pub label: String,
    /// An estimate of the number of compilation units, for a bar; `None` for
    /// a spinner.
    pub total: Option<u64>,
}

/// `cargo test --no-run -p <package>…`, quietly, with its results parsed.
pub fn build_tests(ws: &Workspace, packages: &[String], progress: Progress) -> Result<BuildOutput> {
    let mut command = cargo(ws);
    command.args(["test", "--no-run", "--locked", "--message-format=json"]);
    for package in packages {
        command.args(["-p", package]);
    }
    run_cargo(command, progress)
}

/// Any cargo command with `--message-format=json`, quietly, with its results parsed.
pub fn run_cargo(mut command: Command, progress: Progress) -> Result<BuildOutput> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .context("cannot run cargo: is the Rust toolchain installed and on PATH?")?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let bar = progress_bar(&progress);
    // Read stderr on its own thread so that neither pipe can fill up and
    // stall cargo while we read the other. Cargo waits there, silently to
    // us, while another build holds the target folder's lock (rust-analyzer
    // runs `cargo check` on every save): that wait is said at once.
    let stderr_reader = {
        let bar = bar.clone();
        std::thread::spawn(move || {
            let mut log = String::new();
            let mut said = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !said && line.contains("Blocking waiting for file lock") {
                    said = true;
                    let wait = "Waiting for another cargo build to finish first \
                                (rust-analyzer in your editor, or another terminal)…";
                    if bar.is_hidden() {
                        eprintln!("  {wait}");
                    } else {
                        bar.println(format!("  {wait}"));
                    }
                }
                log.push_str(&line);
                log.push('\n');
            }
            log
        })
    };

    let mut log_progress = LogProgress::new(&progress);
    let mut output = BuildOutput {
        binaries: Vec::new(),
        errors: BTreeMap::new(),
        cargo_failure: None,
        log: String::new(),
    };
    let mut error_counts: BTreeMap<String, usize> = BTreeMap::new();
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    for line in stdout.lines() {
        let line = line.context("cannot read cargo's output")?;
        let Ok(message) = serde_json::from_str::<CargoLine>(&line) else {
            continue;
        };
        match message {
            CargoLine::CompilerArtifact {
                package_id,
                target,
                executable,
                manifest_path,
                fresh,
            } => {
                bar.inc(1);
                // Only what is compiled now is named and counted: a unit
                // cargo already had is no news, and naming it would read as
                // rebuilding the dependencies.
                if !fresh {
                    bar.set_message(target.name.clone());
                    log_progress.compiled(&target.name);
                }
                // A `[[test]]` target, whatever its harness: graders bring
                // their own `main` (`grader_kit::checks!`), and cargo marks
                // only libtest's harness as `profile.test`.
                let is_integration_test = target.kind.iter().any(|k| k == "test");
                if let (true, Some(path)) = (is_integration_test, executable) {
                    output.binaries.push(TestBinary {
                        package: package_name(&package_id, &manifest_path),
                        path,
                        src_path: target.src_path,
                        package_dir: manifest_path
                            .parent()
                            .map(PathBuf::from)
                            .unwrap_or_default(),
                    });
                }
            }
            CargoLine::CompilerMessage {
                package_id,
                manifest_path,
                message,
            } if message.level == "error" => {
                let package = package_name(&package_id, &manifest_path);
                *error_counts.entry(package.clone()).or_default() += 1;
                output
                    .errors
                    .entry(package)
                    .or_insert_with(|| message.summarise());
            }
            _ => {}
        }
    }
    bar.finish_and_clear();
    let status = child.wait().context("cargo did not finish")?;
    output.log = stderr_reader.join().unwrap_or_default();
    for (package, error) in &mut output.errors {
        error.count = error_counts.get(package).copied().unwrap_or(1);
    }
    if !status.success() && output.errors.is_empty() {
        output.cargo_failure = Some(cargo_failure_summary(&output.log));
    }
    Ok(output)
}

/// A cargo command run from the workspace root.
pub fn cargo(ws: &Workspace) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // The target folder is named, not left to cargo's configuration: a
    // global `build.target-dir` shared by two checkouts would let one grade
    // the other's build (cargo names a workspace's artifacts by
    // workspace-relative paths, so both look up to date to each other).
    command
        .current_dir(&ws.root)
        .env("CARGO_TARGET_DIR", &ws.target_dir);
    // The justfile asks cargo for its progress bar; here the CLI draws its
    // own, and cargo's would only clutter the log it reads.
    command
        .env_remove("CARGO_TERM_PROGRESS_WHEN")
        .env_remove("CARGO_TERM_PROGRESS_WIDTH");
    command
}

fn progress_bar(progress: &Progress) -> ProgressBar {
    let bar = match progress.total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg}").expect("valid template"),
        ),
    };
    bar.set_prefix(progress.label.clone());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Progress as plain lines, when no terminal shows the bar (a CI log, a
/// pipe): a line when the step starts and one every few seconds, so that a
/// long build is never silent.
struct LogProgress {
    label: String,
    /// `None` when a terminal shows the bar instead.
    last: Option<std::time::Instant>,
    compiled: u64,
    total: Option<u64>,
}

impl LogProgress {
    const EVERY: Duration = Duration::from_secs(10);

    fn new(progress: &Progress) -> Self {
        let on_terminal = std::io::stderr().is_terminal();
        Self {
            label: progress.label.clone(),
            last: (!on_terminal).then(std::time::Instant::now),
            compiled: 0,
            total: progress.total,
        }
    }

    fn compiled(&mut self, name: &str) {
        self.compiled += 1;
        let Some(last) = self.last else {
            return;
        };
        if last.elapsed() >= Self::EVERY {
            let of = self.total.map(|t| format!("/{t}")).unwrap_or_default();
            eprintln!("  {}: {}{of} compiled ({name})", self.label, self.compiled);
            self.last = Some(std::time::Instant::now());
        }
    }
}

/// The lines of cargo's log that say what went wrong, without the noise.
fn cargo_failure_summary(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("Compiling")
                && !l.trim_start().starts_with("Finished")
                && !l.trim_start().starts_with("Blocking")
        })
        .collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("error"))
        .unwrap_or(0);
    lines[start..].join("\n").trim().to_owned()
}

/// Package ids look like `path+file:///…/labs/01-first-spans#lab01@0.1.0`;
/// the manifest's folder is the fallback when the id has another shape.
fn package_name(package_id: &str, manifest_path: &std::path::Path) -> String {
    let after_hash = package_id.rsplit_once('#').map(|(_, rest)| rest);
    match after_hash.and_then(|rest| rest.split_once('@')) {
        Some((name, _)) => name.to_owned(),
        None => manifest_path
            .parent()
            .and_then(|dir| dir.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

#[derive(Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
/// One line of cargo's `--message-format=json` output, by its `reason`.
enum CargoLine {
    CompilerArtifact {
        package_id: String,
        manifest_path: PathBuf,
        target: Target,
        executable: Option<PathBuf>,
        /// Cargo had it already: nothing was compiled for it.
        #[serde(default)]
        fresh: bool,
    },
    CompilerMessage {
        package_id: String,
        manifest_path: PathBuf,
        message: Diagnostic,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
    src_path: PathBuf,
}

#[derive(Deserialize)]
struct Diagnostic {
    message: String,
    level: String,
    rendered: Option<String>,
    spans: Vec<DiagnosticSpan>,
}

#[derive(Deserialize)]
struct DiagnosticSpan {
    file_name: String,
    line_start: usize,
    column_start: usize,
    is_primary: bool,
}

impl Diagnostic {
    fn summarise(self) -> CompileError {
        let location = self
            .spans
            .iter()
            .find(|s| s.is_primary)
            .map(|s| format!("{}:{}:{}", s.file_name, s.line_start, s.column_start));
        CompileError {
            headline: self.message,
            location,
            rendered: self.rendered.unwrap_or_default(),
            count: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_name_comes_from_the_package_id() {
        let id = "path+file:///w/labs/01-first-spans#lab01@0.1.0";
        assert_eq!(
            package_name(id, std::path::Path::new("/x/y/Cargo.toml")),
            "lab01"
        );
    }

    #[test]
    fn package_name_falls_back_to_the_folder() {
        let path = std::path::Path::new("/w/labs/01-first-spans/Cargo.toml");
        assert_eq!(package_name("odd id", path), "01-first-spans");
    }

    #[test]
    fn cargo_failure_summary_starts_at_the_error() {
        let log =
            "   Compiling a v1\nwarning: x\nerror: failed to parse manifest\n  caused by: y\n";
        assert_eq!(
            cargo_failure_summary(log),
            "error: failed to parse manifest\n  caused by: y"
        );
    }
}
