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

mod support;

use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use demo::SERVICES;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Demo, PORTS, STARTUP, build_the_shop, eventually, free_ports, work_dir};

/// Bounds an orderly stop: the report, then each program's drain and flush.
const STOP: Duration = Duration::from_secs(120);

/// The demo with the shop from `base`, its files in a folder of this
/// test's own, and `extra` arguments.
fn start_demo(base: u16, extra: &[&str]) -> Demo {
    Demo::start(base, &work_dir("supervision", base), extra, &[])
}

/// What only these tests ask of a demo.
impl Demo {
    fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.base())
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.pid()).expect("a pid"));
        kill(pid, signal).unwrap_or_else(|err| panic!("{signal} to the demo: {err}"));
    }

    /// Every one of its ports can be listened on again, but `except`.
    fn assert_ports_free(&self, except: Option<u16>) {
        let base = self.base();
        for port in (base..base + PORTS).filter(|port| Some(*port) != except) {
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

    async fn wait_until_all_ended(&self, timeout: Duration) {
        eventually("every child of the demo to end", timeout, async || {
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
        })
        .await;
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
async fn wait_for_an_answered_request(demo: &Demo) {
    let counted =
        demo::red::scrape_until_counted(&demo.gateway_url(), 1, Duration::from_secs(60)).await;
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
async fn stops_in_order_on(signal: Signal) {
    build_the_shop();
    let mut demo = start_demo(free_ports(PORTS), &["--duration", "600"]);
    demo.wait_for_stdout("Load:", STARTUP).await;
    let children = Children::of_the_shop(&demo);
    wait_for_an_answered_request(&demo).await;

    demo.signal(signal);
    let status = demo.wait_for_exit(STOP).await;
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
    children.wait_until_all_ended(Duration::from_secs(10)).await;
    demo.assert_ports_free(None);
}

#[tokio::test]
async fn sigterm_stops_the_demo_in_order_and_leaves_no_process_behind() {
    stops_in_order_on(Signal::SIGTERM).await;
}

#[tokio::test]
async fn sighup_stops_the_demo_in_order_and_leaves_no_process_behind() {
    stops_in_order_on(Signal::SIGHUP).await;
}

#[tokio::test]
async fn the_demos_children_die_with_it_when_it_is_killed_outright() {
    build_the_shop();
    let mut demo = start_demo(free_ports(PORTS), &["--duration", "600"]);
    demo.wait_for_stdout("Load:", STARTUP).await;
    let children = Children::of_the_shop(&demo);

    // SIGKILL: the demo runs no code at all, and stops nothing itself.
    demo.signal(Signal::SIGKILL);
    let status = demo.wait_for_exit(Duration::from_secs(60)).await;
    assert_eq!(
        status.signal(),
        Some(Signal::SIGKILL as i32),
        "the demo should have been killed, it ended with {status}{}",
        demo.output()
    );
    // Each child gets SIGTERM from the kernel, then drains and flushes: to
    // a collector that died with the demo, a service retries for as long as
    // the export's timeout (40 s) before it gives up and exits.
    children.wait_until_all_ended(STOP).await;
    demo.assert_ports_free(None);
}

#[tokio::test]
async fn a_port_in_use_stops_the_demo_before_it_starts_anything() {
    let base = free_ports(PORTS);
    let inventory = base + 2;
    let _taken = TcpListener::bind(("127.0.0.1", inventory)).expect("the inventory's port");

    let mut demo = start_demo(base, &["--duration", "5"]);
    let status = demo.wait_for_exit(STOP).await;

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
    let logs = demo.work().join("logs");
    assert!(
        !logs.exists(),
        "no program should have started, yet {} exists{}",
        logs.display(),
        demo.output()
    );
    demo.assert_ports_free(Some(inventory));
}
