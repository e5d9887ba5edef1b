//! One program the demo started: its health checked against the process
//! itself, not merely its port, and never left running behind.

use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{StartError, parent_death, port_owner};

/// How many of its log's last lines say why a program ended.
const LAST_LINES: usize = 12;

/// One child process, which is never left running behind.
pub(crate) struct Process {
    pub(crate) name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `program`, as `configure` sets it up, writing its output to
    /// `log`. It dies with this process where [`parent_death::init`] ran.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        log: &Path,
        configure: impl FnOnce(&mut Command),
    ) -> std::io::Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let mut command = parent_death::command(program);
        configure(&mut command);
        let child = command
            // A process group of its own: Ctrl-C in the terminal reaches only
            // the demo, which then stops the services in order (the gateway
            // first, each draining its requests and flushing its spans)
            // instead of every process dying at once mid-request.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .map_err(|err| {
                std::io::Error::new(err.kind(), format!("cannot start {name}: {err}"))
            })?;
        Ok(Self {
            name,
            child,
            log: log.to_path_buf(),
        })
    }

    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Polls `http://127.0.0.1:PORT/PATH` until it answers 2xx from this
    /// very process, the process exits, or the deadline. An answer from
    /// whatever else holds the port is not this program's: its own start
    /// then fails (the port is taken) and says why in its log.
    pub(crate) async fn wait_healthy(
        &mut self,
        client: &reqwest::Client,
        port: u16,
        path: &str,
        deadline: Instant,
    ) -> Result<(), StartError> {
        let url = format!("http://127.0.0.1:{port}{path}");
        loop {
            self.fail_if_exited()?;
            if answers(client, &url).await && self.holds(port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.no_answer(port, url));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether this process is the one listening on `port`; assumed where
    /// the system cannot tell (not Linux).
    fn holds(&self, port: u16) -> bool {
        port_owner::is_held_by(port, self.id()).unwrap_or(true)
    }

    /// An error if the process has ended, with the end of its log.
    pub(crate) fn fail_if_exited(&mut self) -> Result<(), StartError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(StartError::Exited {
                name: self.name,
                status,
                log: self.log.clone(),
                last_lines: last_lines(&self.log, LAST_LINES),
            }),
            _ => Ok(()),
        }
    }

    /// Why no answer came in time: someone else's server, or nothing.
    fn no_answer(&self, port: u16, url: String) -> StartError {
        match port_owner::holder(port) {
            Some(holder) if holder.pid != self.id() => StartError::NotOurs {
                name: self.name,
                port,
                holder: holder.to_string(),
            },
            _ => StartError::NoAnswer {
                name: self.name,
                url,
            },
        }
    }

    /// Where it writes its output.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// Asks it to stop (SIGTERM), to drain and flush; how it ended
    /// instead, if it already had.
    pub(crate) fn ask_to_stop(&mut self) -> Option<Ended> {
        match self.child.try_wait() {
            Ok(Some(status)) => return Some(Ended::Before(status)),
            Ok(None) => {}
            Err(err) => return Some(Ended::Unknown(err.to_string())),
        }
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = kill(pid, Signal::SIGTERM);
        None
    }

    /// Once asked to stop: its exit, or SIGKILL at `deadline` (which left
    /// it `grace` to stop).
    pub(crate) fn wait_until_stopped(&mut self, deadline: Instant, grace: Duration) -> Ended {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ended::Exited(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Ended::Killed { grace };
                }
                Err(err) => return Ended::Unknown(err.to_string()),
            }
        }
    }

    /// SIGTERM, then up to `grace` to drain and flush, then SIGKILL.
    pub(crate) fn stop(&mut self, grace: Duration) -> Ended {
        match self.ask_to_stop() {
            Some(ended) => ended,
            None => self.wait_until_stopped(Instant::now() + grace, grace),
        }
    }

    /// [`Process::stop`], and what went wrong, if anything did.
    pub(crate) fn terminate(&mut self, grace: Duration) -> Option<String> {
        problem(self.name, &self.stop(grace))
    }
}

/// How a program ended when it was stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited once asked to stop, with this status.
    Exited(ExitStatus),
    /// It had already ended when it was asked to stop: killed, or crashed.
    Before(ExitStatus),
    /// It had not stopped when its grace ran out, and was killed.
    Killed { grace: Duration },
    /// Whether it had ended could not be read.
    Unknown(String),
}

impl Ended {
    /// Whether it stopped when asked, and exited 0.
    pub fn is_success(&self) -> bool {
        matches!(self, Ended::Exited(status) if status.success())
    }
}

impl fmt::Display for Ended {
    /// What follows a program's name: "gateway exited with exit status: 1".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Exited(status) => write!(f, "exited with {status}"),
            Ended::Before(status) => {
                write!(f, "had already ended when it was to be stopped ({status})")
            }
            Ended::Killed { grace } => write!(
                f,
                "did not stop within {} s and was killed",
                grace.as_secs()
            ),
            Ended::Unknown(err) => write!(f, "could not be waited for ({err})"),
        }
    }
}

/// What went wrong when `name` was stopped, if anything did. An exit
/// because of the signal it was sent (130, 143, or the signal itself) is
/// a stop as asked.
pub(crate) fn problem(name: &str, ended: &Ended) -> Option<String> {
    match ended {
        Ended::Exited(status)
            if status.success() || matches!(status.code(), Some(130 | 143) | None) =>
        {
            None
        }
        ended => Some(format!("{name} {ended}")),
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(5));
    }
}

/// Whether `url` answers 2xx within a second: a server that takes a
/// connection and never answers must not stall the wait past its deadline.
async fn answers(client: &reqwest::Client, url: &str) -> bool {
    client
        .get(url)
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The last `count` non-empty lines of `log` (what a program said last,
/// usually why it stopped); none if it cannot be read.
pub(crate) fn last_lines(log: &Path, count: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(log) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Answers every request on `listener` with 200, as a stray server of
    /// another demo would.
    async fn answer_ok_forever(listener: tokio::net::TcpListener) {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_answer_from_another_program_is_not_health_and_the_childs_death_is_reported() {
        // Another program answers on the port…
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        tokio::spawn(answer_ok_forever(listener));
        // …that the child, failing to listen there, never gets.
        let log = std::env::temp_dir().join(format!(
            "demo-process-test-{}-{port}.log",
            std::process::id()
        ));
        let mut process = Process::spawn("catalog", Path::new("sh"), &log, |command| {
            command.args([
                "-c",
                "echo 'starting'; echo 'Error: Address already in use (os error 98)' >&2; exit 3",
            ]);
        })
        .expect("sh starts");

        let outcome = process
            .wait_healthy(
                &reqwest::Client::new(),
                port,
                "/health",
                Instant::now() + Duration::from_secs(60),
            )
            .await;
        let _ = std::fs::remove_file(&log);

        let err = outcome.expect_err("another program's answer is not the catalog's health");
        assert!(
            matches!(
                err,
                StartError::Exited {
                    name: "catalog",
                    ..
                }
            ),
            "the catalog's death is the error, got: {err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("catalog exited")
                && message.contains("Address already in use (os error 98)"),
            "the message names the service and ends with its last lines: {message}"
        );
    }

    #[test]
    fn the_last_lines_of_a_log_skip_blank_ones() {
        let log =
            std::env::temp_dir().join(format!("demo-last-lines-test-{}.log", std::process::id()));
        std::fs::write(&log, "one\ntwo\n\nthree\n\n").expect("a temporary log");
        let lines = last_lines(&log, 2);
        let _ = std::fs::remove_file(&log);
        assert_eq!(lines, ["two", "three"], "the last two non-empty lines");
        assert!(
            last_lines(Path::new("no/such/log"), 2).is_empty(),
            "a log that cannot be read has no lines"
        );
    }
}
