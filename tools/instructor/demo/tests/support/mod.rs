//! What the demo's tests share: the real demo binary run on ports of its
//! own, its output read as it comes, and waits that poll for a condition
//! with a deadline that only bounds a failure.

#![allow(dead_code)] // Each test file uses part of this module.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use demo::SERVICES;

/// The ports a demo takes: the shop's five, then the collector's UI and OTLP.
pub const PORTS: u16 = SERVICES.len() as u16 + 2;

/// Bounds a demo's start: its (up to date) build, the collector, the shop.
pub const STARTUP: Duration = Duration::from_secs(180);

/// How often a condition is looked at again.
pub const POLL: Duration = Duration::from_millis(100);

/// A run of `count` free loopback ports, apart from every other test's.
pub fn free_ports(count: u16) -> u16 {
    static NEXT_OFFSET: AtomicU16 = AtomicU16::new(0);
    // Below 32768, where Linux's ephemeral ports (the local ports of
    // outgoing connections) begin; apart for each test process.
    let first = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let base = first + NEXT_OFFSET.fetch_add(count, Ordering::Relaxed);
        assert!(
            base + count < 32_768,
            "no run of {count} free ports from {first}"
        );
        if (base..base + count).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
}

/// Polls `probe` until it gives a value; fails after `timeout` with `what`
/// and the last thing the probe saw.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "gave up after {} s waiting for {what}; last seen: {last}",
                timeout.as_secs()
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Builds the services and the collector before any demo starts, so that
/// no start deadline includes a compilation.
pub fn build_the_shop() {
    demo::build_binaries(&demo::workspace_root(), cfg!(not(debug_assertions)))
        .expect("the services and the collector build");
}

/// A folder of the test's own, `name` and the demo's first port telling it
/// apart, for the demo's files and the collector's.
pub fn work_dir(name: &str, base: u16) -> PathBuf {
    let work = demo::workspace_root().join(format!(
        "target/demo-tests/{name}-{}-{base}",
        std::process::id()
    ));
    std::fs::create_dir_all(&work).expect("the test's folder");
    work
}

/// The real demo, on ports of its own, its output collected as it comes.
pub struct Demo {
    child: Child,
    base: u16,
    work: PathBuf,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Demo {
    /// Starts the demo with the shop from `base` and the collector right
    /// after it, its files in `work`, two customers, `extra` arguments, and
    /// `env` added to the environment it passes on to the services.
    pub fn start(base: u16, work: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
            .arg("--base-port")
            .arg(base.to_string())
            .arg("--collector-ui-port")
            .arg((base + 5).to_string())
            .arg("--collector-otlp-port")
            .arg((base + 6).to_string())
            .arg("--work-dir")
            .arg(work)
            .args(["--concurrency", "2"])
            .args(extra)
            .envs(env.iter().copied())
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
            work: work.to_path_buf(),
            stdout,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// The first of its ports, the gateway's.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// The folder of its files.
    pub fn work(&self) -> &Path {
        &self.work
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("the output").clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("the output").clone()
    }

    /// All it has said so far, for a failure's message.
    pub fn output(&self) -> String {
        format!(
            "\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout(),
            self.stderr()
        )
    }

    pub async fn wait_for_stdout(&self, text: &str, timeout: Duration) {
        eventually(
            &format!("the demo to print {text:?}"),
            timeout,
            async || {
                if self.stdout().contains(text) {
                    Ok(())
                } else {
                    Err(self.output())
                }
            },
        )
        .await;
    }

    /// Its exit status, if it has exited; then all its output is read.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().expect("the demo's state")?;
        for reader in self.readers.drain(..) {
            reader.join().expect("the output's reader");
        }
        Some(status)
    }

    /// Its exit, once all its output has been read.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the demo did not exit within {} s{}",
                timeout.as_secs(),
                self.output()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A test that failed midway leaves no demo running (its services
        // die with it).
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
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
