//! A real browser for the tests of the workshop's web pages.
//!
//! Web pages here (the collector's waterfall, the rendered slides) are
//! tested the way a person sees them: Debian's Chromium loads the page,
//! runs its scripts, and either dumps the resulting DOM or takes a
//! screenshot. Nothing is mocked, and nothing needs a driver protocol: the
//! two command-line modes of headless Chromium are enough.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
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
/// `limit` has passed: an error then.
fn within(command: &mut Command, limit: Duration) -> io::Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Read both pipes as they fill: a page's DOM outgrows a pipe's buffer,
    // and a Chromium blocked on writing would never end.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "chromium had not ended after {} s, and was killed: a page that blocks it \
                     (an alert() nobody can dismiss headless, a script that never ends)",
                    limit.as_secs()
                ),
            ));
        }
        std::thread::sleep(POLL);
    };
    let join = |reader: std::thread::JoinHandle<Vec<u8>>| reader.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    })
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
