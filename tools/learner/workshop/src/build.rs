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
use std::process::{ChildStderr, Command, Stdio};
use std::thread::JoinHandle;
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
    let stderr_reader = read_log(stderr, bar.clone());

    let mut log_progress = LogProgress::new(&progress);
    let mut messages = Messages::default();
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    for line in stdout.lines() {
        let line = line.context("cannot read cargo's output")?;
        if let Step::Unit { compiled } = messages.read(&line) {
            bar.inc(1);
            if let Some(name) = compiled {
                bar.set_message(name.clone());
                log_progress.compiled(&name);
            }
        }
    }
    bar.finish_and_clear();
    let status = child.wait().context("cargo did not finish")?;
    let log = stderr_reader.join().unwrap_or_default();
    Ok(messages.finish(status.success(), log))
}

/// Reads cargo's human output, its log, on a thread of its own so that
/// neither pipe can fill up and stall cargo while the other is read. Cargo
/// waits there, silently to us, while another build holds the target
/// folder's lock (rust-analyzer runs `cargo check` on every save): that
/// wait is said at once.
fn read_log(stderr: ChildStderr, bar: ProgressBar) -> JoinHandle<String> {
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
}

/// What one line of cargo's JSON output means for the progress shown.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Nothing to show.
    Nothing,
    /// A compilation unit is done; `compiled` names it when it was compiled
    /// now. Only those are named and counted: a unit cargo already had is
    /// no news, and naming it would read as rebuilding the dependencies.
    Unit { compiled: Option<String> },
}

/// What cargo's JSON output says, read a line at a time: the test
/// executables it built, and each package's first compiler error.
#[derive(Default)]
struct Messages {
    binaries: Vec<TestBinary>,
    errors: BTreeMap<String, CompileError>,
    error_counts: BTreeMap<String, usize>,
}

impl Messages {
    /// Takes in one line of cargo's output; a line that is not one of its
    /// JSON messages is passed over.
    fn read(&mut self, line: &str) -> Step {
        let Ok(message) = serde_json::from_str::<CargoLine>(line) else {
            return Step::Nothing;
        };
        match message {
            CargoLine::CompilerArtifact {
                package_id,
                target,
                executable,
                manifest_path,
                fresh,
            } => {
                let compiled = (!fresh).then_some(target.name);
                // A `[[test]]` target, whatever its harness: graders bring
                // their own `main` (`grader_kit::checks!`), and cargo marks
                // only libtest's harness as `profile.test`.
                let is_integration_test = target.kind.iter().any(|k| k == "test");
                if let (true, Some(path)) = (is_integration_test, executable) {
                    self.binaries.push(TestBinary {
                        package: package_name(&package_id, &manifest_path),
                        path,
                        src_path: target.src_path,
                        package_dir: manifest_path
                            .parent()
                            .map(PathBuf::from)
                            .unwrap_or_default(),
                    });
                }
                Step::Unit { compiled }
            }
            CargoLine::CompilerMessage {
                package_id,
                manifest_path,
                message,
            } if message.level == "error" => {
                let package = package_name(&package_id, &manifest_path);
                *self.error_counts.entry(package.clone()).or_default() += 1;
                self.errors
                    .entry(package)
                    .or_insert_with(|| message.summarise());
                Step::Nothing
            }
            _ => Step::Nothing,
        }
    }

    /// What the build produced, once cargo has exited (`succeeded`, with
    /// `log` its human output).
    fn finish(mut self, succeeded: bool, log: String) -> BuildOutput {
        for (package, error) in &mut self.errors {
            error.count = self.error_counts.get(package).copied().unwrap_or(1);
        }
        let cargo_failure =
            (!succeeded && self.errors.is_empty()).then(|| cargo_failure_summary(&log));
        BuildOutput {
            binaries: self.binaries,
            errors: self.errors,
            cargo_failure,
        }
    }
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

    #[test]
    fn test_executables_and_first_errors_are_read_from_cargos_messages() {
        let mut messages = Messages::default();
        let grader = r#"{"reason": "compiler-artifact",
            "package_id": "path+file:///w/labs/01-first-spans#lab01@0.1.0",
            "manifest_path": "/w/labs/01-first-spans/Cargo.toml",
            "target": {"name": "grader", "kind": ["test"], "src_path": "/w/labs/01-first-spans/tests/grader.rs"},
            "executable": "/t/debug/deps/grader-1", "fresh": false}"#;
        let library = r#"{"reason": "compiler-artifact",
            "package_id": "registry+https://x#serde@1.0.0",
            "manifest_path": "/r/serde/Cargo.toml",
            "target": {"name": "serde", "kind": ["lib"], "src_path": "/r/serde/src/lib.rs"},
            "executable": null, "fresh": true}"#;
        let error = |text: &str| {
            format!(
                r#"{{"reason": "compiler-message",
                "package_id": "path+file:///w/labs/02-structured-output#lab02@0.1.0",
                "manifest_path": "/w/labs/02-structured-output/Cargo.toml",
                "message": {{"message": "{text}", "level": "error", "rendered": "error: {text}",
                  "spans": [{{"file_name": "src/lib.rs", "line_start": 3, "column_start": 7, "is_primary": true}}]}}}}"#
            )
        };
        let compiled = |name: &str| Step::Unit {
            compiled: Some(name.to_owned()),
        };
        assert_eq!(messages.read(grader), compiled("grader"));
        assert_eq!(messages.read(library), Step::Unit { compiled: None });
        assert_eq!(messages.read(&error("first")), Step::Nothing);
        assert_eq!(messages.read(&error("second")), Step::Nothing);
        assert_eq!(messages.read("   Compiling lab01 v0.1.0"), Step::Nothing);

        let output = messages.finish(false, "error: could not compile".to_owned());
        let binaries: Vec<(&str, &str)> = output
            .binaries
            .iter()
            .map(|b| (b.package.as_str(), b.package_dir.to_str().unwrap()))
            .collect();
        assert_eq!(binaries, [("lab01", "/w/labs/01-first-spans")]);
        let error = &output.errors["lab02"];
        assert_eq!(
            (
                error.headline.as_str(),
                error.location.as_deref(),
                error.count
            ),
            ("first", Some("src/lib.rs:3:7"), 2)
        );
        assert_eq!(output.cargo_failure, None, "a compiler error says it all");
    }

    #[test]
    fn a_failure_without_a_compiler_error_is_cargos_own() {
        let output =
            Messages::default().finish(false, "error: failed to parse manifest\n".to_owned());
        assert_eq!(
            output.cargo_failure.as_deref(),
            Some("error: failed to parse manifest")
        );
        assert!(Messages::default().finish(true, String::new()).succeeded());
    }
}
