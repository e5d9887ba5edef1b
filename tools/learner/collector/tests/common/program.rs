//! The collector as its own program, as `just collector` runs it, on free
//! ports of loopback: what its flags and environment turn on is the
//! program's, not a test's wiring. It is killed when the test is done with
//! it, however the test ends.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Collector;

/// The collector's process, and where it listens.
pub struct Program {
    child: Child,
    pub collector: Collector,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now; the collector binds it at once.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on loopback")
}

impl Program {
    /// The collector started with `args` and the environment variables
    /// `env` (none of its tail sampling's from this test's own), once both
    /// its ports answer.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let (otlp, ui) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_collector"))
            .args(["--otlp-listen", &otlp.to_string()])
            .args(["--ui-listen", &ui.to_string()])
            .args(args)
            .env_remove("TAIL_SAMPLING")
            .env_remove("TAIL_KEEP_SHARE")
            .env_remove("TAIL_DECISION_WAIT_MS")
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the collector starts");
        let mut program = Self {
            child,
            collector: Collector {
                otlp: format!("http://{otlp}"),
                ui: format!("http://{ui}"),
            },
        };
        // Wait for the condition itself: both ports answer.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(otlp).is_err() || TcpStream::connect(ui).is_err() {
            if let Some(status) = program.child.try_wait().expect("the child's status") {
                panic!("the collector exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the collector never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        program
    }
}
