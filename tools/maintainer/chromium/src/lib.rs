//! A real browser for the tests of the workshop's web pages.
//!
//! Web pages here (the collector's waterfall, the rendered slides) are
//! tested the way a person sees them: Debian's Chromium loads the page,
//! runs its scripts, and either dumps the resulting DOM or takes a
//! screenshot. Nothing is mocked, and nothing needs a driver protocol: the
//! two command-line modes of headless Chromium are enough.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest Chromium is given for one page. It ends on its own once the
/// page's scripts have had their virtual time, within seconds; a page that
/// blocks it (an `alert()` no one can dismiss, headless) is killed, and the
/// test fails with why rather than hanging.
const PAGE_WITHIN: Duration = Duration::from_secs(60);
/// How often a running Chromium is asked whether it has ended.
const POLL: Duration = Duration::from_millis(50);

/// A headless Chromium with a throwaway profile.
pub struct Chromium {
    program: PathBuf,
    profile: PathBuf,
}

impl Chromium {
    /// The browser to drive: `$CHROMIUM`, or the first of the usual names on
    /// PATH. `profile` is a scratch directory for its user data.
    pub fn find(profile: impl Into<PathBuf>) -> Option<Self> {
        let program = match std::env::var_os("CHROMIUM") {
            Some(path) => PathBuf::from(path),
            None => {
                let path = std::env::var_os("PATH")?;
                ["chromium", "chromium-browser", "google-chrome"]
                    .iter()
                    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
                    .find(|candidate| candidate.is_file())?
            }
        };
        Some(Self {
            program,
            profile: profile.into(),
        })
    }

    /// [`Chromium::find`], or the reason to skip: a test calls this and
    /// returns early on `None`. On CI (`$CI` set) a missing browser is a
    /// failure, never a skip, so a browser test cannot pass by not running.
    pub fn find_or_skip(profile: impl Into<PathBuf>) -> Option<Self> {
        let found = Self::find(profile);
        if found.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have Chromium: .ci/run installs Debian's chromium package"
            );
            eprintln!(
                "SKIPPED: no Chromium here (install Debian's chromium, or set CHROMIUM=/path/to/it)"
            );
        }
        found
    }

    fn headless(&self) -> Command {
        let mut command = Command::new(&self.program);
        // A closed network answers Chromium's background requests with
        // refusals: turn them off, and give it a throwaway profile.
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // WebGL in software, which speedscope draws with: Chromium no
            // longer falls back to it unasked. "Unsafe" is for untrusted
            // pages; these are the workshop's own, on loopback.
            "--enable-unsafe-swiftshader",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ]);
        command.arg(format!("--user-data-dir={}", self.profile.display()));
        command
    }

    /// The page's DOM after its scripts ran.
    pub fn dump_dom(&self, url: &str) -> io::Result<String> {
        let output = within(self.headless().arg("--dump-dom").arg(url), PAGE_WITHIN)?;
        if !output.status.success() {
            return Err(failure("--dump-dom", &output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A PNG screenshot of the page in a `width`×`height` window, written to
    /// `png` and returned.
    pub fn screenshot(
        &self,
        url: &str,
        (width, height): (u32, u32),
        png: &Path,
    ) -> io::Result<Vec<u8>> {
        let _ = std::fs::remove_file(png);
        let output = within(
            self.headless()
                .arg(format!("--window-size={width},{height}"))
                .arg(format!("--screenshot={}", png.display()))
                .arg(url),
            PAGE_WITHIN,
        )?;
        if !output.status.success() {
            return Err(failure("--screenshot", &output.stderr));
        }
        std::fs::read(png)
    }
}

/// Runs `command` to its end, as `Command::output` does, or kills it once
/// `limit` has passed: an error then. Chromium starts helper processes
/// (zygote, renderers, GPU), which hold its output pipes too: the command
/// runs in a process group of its own, and the whole group is killed at
/// the end, whether the browser ended or not, so that no helper left behind
/// keeps the pipes open and the reading waiting.
fn within(command: &mut Command, limit: Duration) -> io::Result<Output> {
    let deadline = Instant::now() + limit;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = child.id();
    let (sender, read) = mpsc::channel();
    let pipes: [(bool, Option<Box<dyn Read + Send>>); 2] = [
        (true, child.stdout.take().map(|p| Box::new(p) as _)),
        (false, child.stderr.take().map(|p| Box::new(p) as _)),
    ];
    // Each pipe read as it fills: a page's DOM outgrows a pipe's buffer,
    // and a browser blocked on writing would never end.
    for (is_stdout, pipe) in pipes {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let read = pipe.map_or(Ok(0), |mut pipe| pipe.read_to_end(&mut bytes));
            let _ = sender.send((is_stdout, read.map(|_| bytes)));
        });
    }
    drop(sender);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            Ok(None) => {
                kill_group(group);
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "chromium had not ended after {} s, and was killed: a page that blocks \
                         it (an alert() nobody can dismiss headless, a script that never ends)",
                        limit.as_secs()
                    ),
                ));
            }
            Err(err) => {
                kill_group(group);
                let _ = child.wait();
                return Err(err);
            }
        }
    };
    kill_group(group);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let (is_stdout, bytes) = read.recv_timeout(left).map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "chromium ended, but its output was still open at the limit",
            )
        })?;
        match is_stdout {
            true => stdout = bytes?,
            false => stderr = bytes?,
        }
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Kills every process left in `group` (a shell's `kill`: no `unsafe`
/// here). None left is no error: the browser and its helpers often end
/// together.
fn kill_group(group: u32) {
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -s KILL -- -{group} 2>/dev/null")])
        .status();
}

fn failure(mode: &str, stderr: &[u8]) -> io::Error {
    io::Error::other(format!(
        "chromium {mode} failed:\n{}",
        String::from_utf8_lossy(stderr)
    ))
}

/// Width and height from a PNG's header, if it is one.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let signature = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != signature || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((word(16), word(20)))
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::{png_size, within};

    #[test]
    fn a_program_that_never_ends_is_killed_at_its_limit_and_one_that_ends_is_read() {
        let started = Instant::now();
        let blocked = within(Command::new("sleep").arg("600"), Duration::from_millis(200))
            .expect_err("a program past its limit is an error");
        assert_eq!(blocked.kind(), std::io::ErrorKind::TimedOut);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "killed at its limit, not waited for: {:?}",
            started.elapsed()
        );
        let ended = within(
            Command::new("sh").args(["-c", "head -c 200000 /dev/zero; echo said >&2"]),
            Duration::from_secs(60),
        )
        .expect("a program that ends is read");
        assert!(ended.status.success());
        assert_eq!(
            ended.stdout.len(),
            200_000,
            "more than a pipe holds, read whole"
        );
        assert_eq!(ended.stderr, b"said\n");
        // A helper left behind, holding the output open: killed with its
        // group once the program itself has ended.
        let started = Instant::now();
        let helper_left = within(
            Command::new("sh").args(["-c", "(sleep 600 &); echo ended"]),
            Duration::from_secs(60),
        )
        .expect("a program whose helper lingers is read");
        assert_eq!(helper_left.stdout, b"ended\n");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not kept waiting by the helper: {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn reads_the_size_from_a_png_header() {
        let mut header = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        header.extend(1280u32.to_be_bytes());
        header.extend(720u32.to_be_bytes());
        assert_eq!(png_size(&header), Some((1280, 720)));
        assert_eq!(png_size(b"GIF89a not a png at all, no"), None);
    }
}
