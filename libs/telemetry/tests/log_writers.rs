//! Log lines never hold a request up, and none is lost without being
//! counted. Each test runs this test binary again as a child process (its
//! ignored `child` test, in the part [`ROLE`] names), which logs numbered
//! lines through `telemetry::init` as a service does; the test reads what
//! reaches the child's standard output.
//!
//! - Flushed: the lines still queued when the child exits, or is stopped
//!   with SIGTERM, all reach its standard output, in order.
//! - Lossy, the default: with a reader that reads nothing until the child
//!   says it has finished, the child logs twice its queue's worth and
//!   finishes all the same; the lines its `log_lines_dropped_total` counts
//!   are exactly the lines the reader misses.
//! - Lossless (`LOG_LOSSLESS=1`): the child gets no further ahead of its
//!   reader than its queue and the pipe hold, and loses no line.

use std::io::{BufRead, BufReader, Read};
use std::ops::RangeInclusive;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use telemetry::FlushReport;
use telemetry::log_writer::{BUFFERED_LINES, DROPPED_METRIC};
use tokio::signal::unix::{SignalKind, signal};

/// The child's part; unset in the test run itself.
const ROLE: &str = "LOG_WRITERS_TEST_ROLE";
/// How many lines the child logs.
const LINES: &str = "LOG_WRITERS_TEST_LINES";

/// Logs its lines, and returns.
const EXITS: &str = "exits";
/// Logs its lines, says so, and waits for SIGTERM.
const TERMINATED: &str = "terminated";
/// Logs a queue's worth of lines and says so, then the rest and says how
/// many it dropped; then waits for its standard input to close.
const STALLED: &str = "stalled";

/// What the child says on standard error once it has logged that many lines.
const LOGGED: &str = "child: logged";
/// What the child says on standard error once it has logged every line,
/// before its count of dropped lines.
const FINISHED: &str = "child: finished, dropped";

/// What each numbered line says before its number: the message, then the
/// field, as the console format writes them.
const NUMBERED: &str = "a numbered line n=";

/// Bounds a failure only: a child that works is done long before.
const DEADLINE: Duration = Duration::from_secs(120);

/// More lines than a lossless child can be ahead of its reader: its queue,
/// and what the bytes between the queue and the reader hold (the worker's
/// buffer, the pipe's, 1 MiB at the very most, and the reader's), in lines
/// of over 60 bytes.
const MOST_AHEAD: u64 = BUFFERED_LINES as u64 + 20_000;

/// Logs lines `numbers`, one event each, as a request handler logs.
fn log_numbered(numbers: RangeInclusive<u64>) {
    for n in numbers {
        tracing::info!(n, "a numbered line");
    }
}

/// This process's `log_lines_dropped_total`, as `GET /metrics` serves it.
fn dropped_lines() -> u64 {
    let prefix = format!("{DROPPED_METRIC}_total ");
    telemetry::metrics::encode()
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|count| count.trim().parse().ok())
        .expect("the count of dropped lines is served")
}

#[test]
#[ignore = "the other tests' child process: they run it with its part set"]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let lines: u64 = std::env::var(LINES)
        .ok()
        .and_then(|lines| lines.parse().ok())
        .expect("the number of lines to log");
    let telemetry = telemetry::init("log-writers").expect("telemetry starts");
    match role.as_str() {
        EXITS => log_numbered(1..=lines),
        TERMINATED => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                // Before anything is said: SIGTERM before the handler kills.
                let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
                log_numbered(1..=lines);
                eprintln!("{LOGGED} {lines}");
                terminate.recv().await;
            });
        }
        STALLED => {
            let started = Instant::now();
            let first = lines.min(BUFFERED_LINES as u64);
            log_numbered(1..=first);
            eprintln!("{LOGGED} {first}");
            log_numbered(first + 1..=lines);
            eprintln!("{FINISHED} {} in {:?}", dropped_lines(), started.elapsed());
            // Until the test has read every line it expects: then there is
            // nothing left to write out at exit.
            let _ = std::io::stdin().read_line(&mut String::new());
        }
        other => panic!("no part {other:?}"),
    }
    telemetry
        .shutdown()
        .confirm()
        .expect("no span is exported, so none is lost");
}

/// A line from one of the child's streams.
enum Said {
    Out(String),
    Err(String),
}

/// The child, as the test sees it; killed if the test ends first, so that a
/// failing test leaves no process behind.
struct Running {
    child: Child,
    said: Receiver<Said>,
    /// For standard output's reader, once the test starts reading it.
    stdout_sender: Option<Sender<Said>>,
    deadline: Instant,
}

impl Running {
    /// The child, in `role`, logging `lines` lines, its standard error read
    /// from the start.
    fn start(role: &str, lines: u64, lossless: bool) -> Self {
        let mut command = Command::new(std::env::current_exe().expect("this test binary"));
        command
            .args(["child", "--exact", "--ignored", "--nocapture"])
            .env(ROLE, role)
            .env(LINES, lines.to_string())
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "console")
            .env("OTEL_TRACES_EXPORTER", "none")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if lossless {
            command.env("LOG_LOSSLESS", "1");
        } else {
            command.env_remove("LOG_LOSSLESS");
        }
        let mut child = command.spawn().expect("the child starts");
        let (sender, said) = mpsc::channel();
        let stderr = child.stderr.take().expect("standard error is piped");
        forward(stderr, sender.clone(), Said::Err);
        Self {
            child,
            said,
            stdout_sender: Some(sender),
            deadline: Instant::now() + DEADLINE,
        }
    }

    /// Starts reading the child's standard output.
    fn read_stdout(&mut self) {
        let stdout = self.child.stdout.take().expect("standard output is piped");
        let sender = self.stdout_sender.take().expect("read once");
        forward(stdout, sender, Said::Out);
    }

    /// The next line the child says, on a stream being read; `None` once
    /// both streams have ended.
    fn next_line(&self) -> Option<Said> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.said.recv_timeout(left) {
            Ok(said) => Some(said),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("the child was not done within {DEADLINE:?}")
            }
        }
    }

    /// Waits for the child to say something that begins with `prefix` on
    /// standard error, and returns it.
    fn wait_for(&self, prefix: &str) -> String {
        loop {
            match self.next_line() {
                Some(Said::Err(line)) if line.starts_with(prefix) => return line,
                Some(_) => {}
                None => panic!("the child ended without saying {prefix:?}"),
            }
        }
    }

    /// Lets a child in the [`STALLED`] part exit.
    fn release(&mut self) {
        drop(self.child.stdin.take());
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"))
    }

    /// Waits for the child to exit, once its streams have ended.
    fn status(&mut self) -> ExitStatus {
        self.child.wait().expect("the child's exit status")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `stream` as `kind` says, until the stream ends.
fn forward(stream: impl Read + Send + 'static, sender: Sender<Said>, kind: fn(String) -> Said) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if sender.send(kind(line)).is_err() {
                return;
            }
        }
    });
}

/// The number of a numbered line.
fn number(line: &str) -> Option<u64> {
    line.split_once(NUMBERED)?.1.trim().parse().ok()
}

/// The count a line the child said begins with, after `prefix`.
fn count_after(line: &str, prefix: &str) -> u64 {
    line.strip_prefix(prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// Whether `numbers` only ever go up: the lines in the order they were
/// logged, none twice.
fn in_order(numbers: &[u64]) -> bool {
    numbers.windows(2).all(|pair| pair[0] < pair[1])
}

/// Every line of a child in `role`, read as it ends, reaches its standard
/// output, in order, and so does its report of the spans.
fn every_line_is_written_out(role: &str) {
    const SENT: u64 = 20_000;
    let mut child = Running::start(role, SENT, false);
    if role == TERMINATED {
        // Nobody reads until the child has logged every line: most of them
        // are still queued when SIGTERM comes.
        child.wait_for(LOGGED);
        child.read_stdout();
        kill(child.pid(), Signal::SIGTERM).expect("SIGTERM to the child");
    } else {
        child.read_stdout();
    }
    let mut numbers = Vec::new();
    let mut errors = Vec::new();
    while let Some(said) = child.next_line() {
        match said {
            Said::Out(line) => numbers.extend(number(&line)),
            Said::Err(line) => errors.push(line),
        }
    }
    let status = child.status();
    assert!(status.success(), "{status}: {errors:#?}");
    assert!(
        numbers.iter().copied().eq(1..=SENT),
        "{} of {SENT} lines written, in order: {}",
        numbers.len(),
        in_order(&numbers)
    );
    assert!(
        errors
            .iter()
            .any(|line| line.parse::<FlushReport>().is_ok()),
        "the spans' report on standard error: {errors:#?}"
    );
}

#[test]
fn the_lines_still_queued_at_exit_are_written_out() {
    every_line_is_written_out(EXITS);
}

#[test]
fn the_lines_still_queued_at_sigterm_are_written_out() {
    every_line_is_written_out(TERMINATED);
}

#[test]
fn by_default_a_stalled_reader_never_holds_the_writer_up_and_every_line_it_misses_is_counted() {
    const SENT: u64 = 2 * BUFFERED_LINES as u64;
    let mut child = Running::start(STALLED, SENT, false);
    // Nobody reads the child's output until it has finished: a writer that
    // waited for its reader would never finish.
    let finished = child.wait_for(FINISHED);
    let dropped = count_after(&finished, FINISHED);
    let kept = SENT - dropped;
    child.read_stdout();
    let mut numbers = Vec::new();
    while let Some(said) = child.next_line() {
        if let Said::Out(line) = said {
            numbers.extend(number(&line));
            if numbers.len() as u64 == kept {
                child.release();
            }
        }
    }
    let status = child.status();
    assert!(status.success(), "{status}");
    assert!(dropped > 0, "{SENT} lines with nobody reading: {finished}");
    assert!(
        kept >= BUFFERED_LINES as u64,
        "a queue's worth is kept before any line is dropped: {finished}"
    );
    assert_eq!(
        numbers.len() as u64,
        kept,
        "the lines missing are the lines counted as dropped: {finished}"
    );
    assert!(in_order(&numbers), "the lines kept are in order");
}

#[test]
fn lossless_a_writer_waits_for_its_reader_and_loses_no_line() {
    const SENT: u64 = 200_000;
    let mut child = Running::start(STALLED, SENT, true);
    // The reader stalls until a queue's worth of lines is logged, which the
    // writer does without waiting; then it reads, and the writer, which
    // waits for room in its queue, cannot finish before the reader has
    // read all but what the queue and the pipe hold.
    child.wait_for(LOGGED);
    child.read_stdout();
    let mut numbers = Vec::new();
    let mut read_when_finished = None;
    while let Some(said) = child.next_line() {
        match said {
            Said::Out(line) => numbers.extend(number(&line)),
            Said::Err(line) if line.starts_with(FINISHED) => {
                assert_eq!(count_after(&line, FINISHED), 0, "nothing dropped: {line}");
                read_when_finished = Some(numbers.len() as u64);
            }
            Said::Err(_) => {}
        }
        if read_when_finished.is_some() && numbers.len() as u64 == SENT {
            child.release();
        }
    }
    let status = child.status();
    assert!(status.success(), "{status}");
    let read_when_finished = read_when_finished.expect("the child said it finished");
    assert!(
        read_when_finished >= SENT - MOST_AHEAD,
        "the writer finished when its reader had read only {read_when_finished} of {SENT} lines"
    );
    assert!(
        numbers.iter().copied().eq(1..=SENT),
        "{} of {SENT} lines read, in order: {}",
        numbers.len(),
        in_order(&numbers)
    );
}
