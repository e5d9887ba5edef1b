//! The demo supervises what it starts, checked on its real binary: a stop
//! signal (SIGTERM, SIGHUP) stops it in order with nothing left running, its
//! children die with it even when it is killed with SIGKILL, and a port
//! already taken stops it before it starts anything.
//!
//! Each demo runs on ports of its own, the shop's five and the collector's
//! two (never the defaults a real demo uses), with its files in a folder of
//! its own. Processes are found and watched through `/proc`, so this is for
//! Linux. Nothing waits for a length of time: each step polls for its
//! condition, with a deadline that only bounds a failure.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use demo::SERVICES;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The ports a demo takes: the shop's five, then the collector's UI and OTLP.
const PORTS: u16 = SERVICES.len() as u16 + 2;

/// Bounds a demo's start: its (up to date) build, the collector, the shop.
const STARTUP: Duration = Duration::from_secs(180);

/// Bounds an orderly stop: the report, then each program's drain and flush.
const STOP: Duration = Duration::from_secs(120);

/// A run of free loopback ports for one demo, apart from every other test's.
fn free_ports() -> u16 {
    static NEXT_OFFSET: AtomicU16 = AtomicU16::new(0);
    // Below 32768, where Linux's ephemeral ports (the local ports of
    // outgoing connections) begin; apart for each test process.
    let first = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let base = first + NEXT_OFFSET.fetch_add(PORTS, Ordering::Relaxed);
        assert!(
            base + PORTS < 32_768,
            "no run of {PORTS} free ports from {first}"
        );
        if (base..base + PORTS).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
}

/// Polls `probe` until it gives a value; fails after `timeout` with `what`
/// and the last thing the probe saw.
fn eventually<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "gave up after {} s waiting for {what}; last seen: {last}",
                timeout.as_secs()
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Builds the services and the collector before any demo starts, so that
/// no start deadline includes a compilation.
fn build_the_shop() {
    demo::build_binaries(&demo::workspace_root(), cfg!(not(debug_assertions)))
        .expect("the services and the collector build");
}

/// The real demo, on ports of its own, its output collected as it comes.
struct Demo {
    child: Child,
    base: u16,
    work: PathBuf,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Demo {
    /// Starts the demo with the shop from `base` and the collector right
    /// after it, two customers, and `extra` arguments.
    fn start(base: u16, extra: &[&str]) -> Self {
        let work = demo::workspace_root().join(format!(
            "target/demo-tests/supervision-{}-{base}",
            std::process::id()
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
            .arg("--base-port")
            .arg(base.to_string())
            .arg("--collector-ui-port")
            .arg((base + 5).to_string())
            .arg("--collector-otlp-port")
            .arg((base + 6).to_string())
            .arg("--work-dir")
            .arg(&work)
            .args(["--concurrency", "2"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the demo's binary starts");
        let (stdout, stdout_reader) = read_in_background(child.stdout.take().expect("its stdout"));
        let (stderr, stderr_reader) = read_in_background(child.stderr.take().expect("its stderr"));
        Self {
            child,
            base,
            work,
            stdout,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.base)
    }

    fn stdout(&self) -> String {
        self.stdout.lock().expect("the output").clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("the output").clone()
    }

    /// All it has said so far, for a failure's message.
    fn output(&self) -> String {
        output_of(&self.stdout, &self.stderr)
    }

    fn wait_for_stdout(&self, text: &str, timeout: Duration) {
        eventually(&format!("the demo to print {text:?}"), timeout, || {
            if self.stdout().contains(text) {
                Ok(())
            } else {
                Err(self.output())
            }
        });
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.pid()).expect("a pid"));
        kill(pid, signal).unwrap_or_else(|err| panic!("{signal} to the demo: {err}"));
    }

    /// Its exit, once all its output has been read.
    fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        let status = eventually("the demo to exit", timeout, || {
            match self.child.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(format!(
                    "still running{}",
                    output_of(&self.stdout, &self.stderr)
                )),
                Err(err) => Err(err.to_string()),
            }
        });
        for reader in self.readers.drain(..) {
            reader.join().expect("the output's reader");
        }
        status
    }

    /// Every one of its ports can be listened on again, but `except`.
    fn assert_ports_free(&self, except: Option<u16>) {
        for port in (self.base..self.base + PORTS).filter(|port| Some(*port) != except) {
            let bound = TcpListener::bind(("127.0.0.1", port));
            assert!(
                bound.is_ok(),
                "port {port} should be free, but: {:?}{}",
                bound.err(),
                self.output()
            );
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A test that failed midway leaves no demo running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

fn output_of(stdout: &Mutex<String>, stderr: &Mutex<String>) -> String {
    format!(
        "\n--- stdout:\n{}\n--- stderr:\n{}",
        stdout.lock().expect("the output"),
        stderr.lock().expect("the output")
    )
}

/// Reads `stream` to its end on a thread of its own (so that the demo never
/// blocks on a full pipe), into the text returned.
fn read_in_background(stream: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        let mut stream = BufReader::new(stream);
        let mut line = Vec::new();
        while stream
            .read_until(b'\n', &mut line)
            .is_ok_and(|read| read > 0)
        {
            sink.lock()
                .expect("the output")
                .push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    });
    (text, reader)
}

/// A process as seen in `/proc`: its pid with its start time, which tells
/// it apart from a later process given the same pid.
#[derive(Debug)]
struct Seen {
    pid: u32,
    name: String,
    started: u64,
}

/// State, parent and start time: fields 3, 4 and 22 of `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after it.
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    Some((
        state,
        fields.get(1)?.parse().ok()?,
        fields.get(19)?.parse().ok()?,
    ))
}

fn is_running(seen: &Seen) -> bool {
    // A zombie has ended; only its exit status waits to be collected.
    stat(seen.pid)
        .is_some_and(|(state, _, started)| started == seen.started && !matches!(state, 'Z' | 'X'))
}

/// The children of a demo, as seen while it ran. Any still running when
/// the test ends is killed: a failing test leaves nothing behind.
struct Children(Vec<Seen>);

impl Children {
    /// The demo's children once the shop is up: the five services and the
    /// collector, each a process of its own.
    fn of_the_shop(demo: &Demo) -> Self {
        let children: Vec<Seen> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let (_, parent, started) = stat(pid)?;
                if parent != demo.pid() {
                    return None;
                }
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                Some(Seen {
                    pid,
                    name: name.trim_end().to_owned(),
                    started,
                })
            })
            .collect();
        let names: Vec<&str> = children.iter().map(|c| c.name.as_str()).collect();
        for expected in SERVICES.iter().map(|(name, _)| *name).chain(["collector"]) {
            assert!(
                names.contains(&expected),
                "the demo's children should include the {expected}; they are {names:?}"
            );
        }
        Self(children)
    }

    fn wait_until_all_ended(&self, timeout: Duration) {
        eventually("every child of the demo to end", timeout, || {
            let running: Vec<String> = self
                .0
                .iter()
                .filter(|child| is_running(child))
                .map(|child| format!("{} (process {})", child.name, child.pid))
                .collect();
            if running.is_empty() {
                Ok(())
            } else {
                Err(format!("still running: {}", running.join(", ")))
            }
        });
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in self.0.iter().filter(|child| is_running(child)) {
            if let Ok(pid) = i32::try_from(child.pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// Waits until the gateway has answered one request of the demo's load,
/// so that the run has something to report.
fn wait_for_an_answered_request(demo: &Demo) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let counted = runtime.block_on(demo::red::scrape_until_counted(
        &demo.gateway_url(),
        1,
        Duration::from_secs(60),
    ));
    if let Err((_, short)) = counted {
        panic!(
            "the gateway answered none of the load in 60 s: {short}{}",
            demo.output()
        );
    }
}

/// `signal` during the load stops the demo as Ctrl-C does: the report is
/// printed, every program it started is stopped and waited for, and it
/// exits 0, its ports free again.
fn stops_in_order_on(signal: Signal) {
    build_the_shop();
    let mut demo = Demo::start(free_ports(), &["--duration", "600"]);
    demo.wait_for_stdout("Load:", STARTUP);
    let children = Children::of_the_shop(&demo);
    wait_for_an_answered_request(&demo);

    demo.signal(signal);
    let status = demo.wait_for_exit(STOP);
    assert!(
        status.success(),
        "after {signal}, the demo should stop in order and exit 0 as after Ctrl-C; it ended with {status}{}",
        demo.output()
    );
    let stdout = demo.stdout();
    assert!(
        stdout.contains(&format!("{signal}: the load stopped early")),
        "the demo should say that {signal} ended the load{}",
        demo.output()
    );
    assert!(
        stdout.contains("Answers by status")
            && stdout.contains("Stopped: the shop's services and the collector are shut down"),
        "the demo should print its report and its stop{}",
        demo.output()
    );
    // The demo waited for each of them; this only bounds a failure.
    children.wait_until_all_ended(Duration::from_secs(10));
    demo.assert_ports_free(None);
}

#[test]
fn sigterm_stops_the_demo_in_order_and_leaves_no_process_behind() {
    stops_in_order_on(Signal::SIGTERM);
}

#[test]
fn sighup_stops_the_demo_in_order_and_leaves_no_process_behind() {
    stops_in_order_on(Signal::SIGHUP);
}

#[test]
fn the_demos_children_die_with_it_when_it_is_killed_outright() {
    build_the_shop();
    let mut demo = Demo::start(free_ports(), &["--duration", "600"]);
    demo.wait_for_stdout("Load:", STARTUP);
    let children = Children::of_the_shop(&demo);

    // SIGKILL: the demo runs no code at all, and stops nothing itself.
    demo.signal(Signal::SIGKILL);
    let status = demo.wait_for_exit(Duration::from_secs(60));
    assert_eq!(
        status.signal(),
        Some(Signal::SIGKILL as i32),
        "the demo should have been killed, it ended with {status}{}",
        demo.output()
    );
    // Each child gets SIGTERM from the kernel, then drains and flushes: to
    // a collector that died with the demo, a service retries for as long as
    // the export's timeout (40 s) before it gives up and exits.
    children.wait_until_all_ended(STOP);
    demo.assert_ports_free(None);
}

#[test]
fn a_port_in_use_stops_the_demo_before_it_starts_anything() {
    let base = free_ports();
    let inventory = base + 2;
    let _taken = TcpListener::bind(("127.0.0.1", inventory)).expect("the inventory's port");

    let mut demo = Demo::start(base, &["--duration", "5"]);
    let status = demo.wait_for_exit(STOP);

    assert!(
        !status.success(),
        "the demo should fail when a port it needs is taken; it ended with {status}{}",
        demo.output()
    );
    let holder = format!(
        "port {inventory} (the inventory) is in use by process {} (",
        std::process::id()
    );
    assert!(
        demo.stderr().contains(&holder),
        "the demo should name the port and its holder, this test: {holder:?}{}",
        demo.output()
    );
    assert!(
        !demo.stdout().contains("The shop is up"),
        "the shop should not have started{}",
        demo.output()
    );
    // Every program the demo starts has a log, created before it starts.
    let logs = demo.work.join("logs");
    assert!(
        !logs.exists(),
        "no program should have started, yet {} exists{}",
        logs.display(),
        demo.output()
    );
    demo.assert_ports_free(Some(inventory));
}
