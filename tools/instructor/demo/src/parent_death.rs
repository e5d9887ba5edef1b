//! Children that die with the demo, even when it is killed with SIGKILL and
//! runs no cleanup at all: on Linux each child asks the kernel for SIGTERM
//! when its parent dies (`PR_SET_PDEATHSIG`), so that it drains and exits
//! instead of holding the shop's ports for the next demo.
//!
//! The request must be made by the child itself, between `fork` and `exec`.
//! std offers that moment only through the `unsafe` `pre_exec` hook, and
//! this workspace forbids unsafe code; so the demo starts each child through
//! its own binary, `demo --launch-child-of PID PROGRAM ARGS…`, which makes
//! the request, checks that its parent is still alive, and `exec`s the
//! program in its place (same process, same pid, the request kept: `exec`
//! clears it only for set-user-ID and set-group-ID programs).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first argument that makes the demo's binary start a child.
const LAUNCH: &str = "--launch-child-of";

/// The running binary itself, even if a build has since replaced or removed
/// the file it was started from.
const THIS_BINARY: &str = "/proc/self/exe";

/// Whether this program's children are started through [`THIS_BINARY`]:
/// only once [`init`] has run in it, since only the demo's binary knows
/// [`LAUNCH`].
static LAUNCHING: AtomicBool = AtomicBool::new(false);

/// Called first in the demo's `main`. In a child being started, it becomes
/// the child's program and never returns. In the demo, on Linux, every
/// child started from then on dies with the demo.
///
/// The kernel sends the signal when the *thread* that started the child
/// exits, not the whole process. The demo starts its children from its main
/// future, which the runtime's `block_on` polls on the main thread: that
/// thread lives exactly as long as the demo. (A tokio worker thread would do
/// too, as it lives as long as the runtime; a `spawn_blocking` thread would
/// not, since it exits when idle and would take the children with it.)
pub fn init() {
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|first| first.to_str() == Some(LAUNCH))
    {
        launch(args);
    }
    LAUNCHING.store(cfg!(target_os = "linux"), Ordering::Relaxed);
}

/// A command that starts `program` so that it dies with this process, once
/// [`init`] has made that possible; a plain one otherwise (in tests and the
/// benchmarks, which start the services through this library too).
pub(crate) fn command(program: &Path) -> Command {
    if !LAUNCHING.load(Ordering::Relaxed) {
        return Command::new(program);
    }
    // The launcher runs in the child's working folder, where a relative
    // path would mean another file. A bare name is looked up on the PATH.
    let program = if program.components().count() > 1 {
        std::path::absolute(program).unwrap_or_else(|_| program.to_path_buf())
    } else {
        program.to_path_buf()
    };
    let mut command = Command::new(THIS_BINARY);
    command
        .arg(LAUNCH)
        .arg(std::process::id().to_string())
        .arg(program);
    command
}

/// In the child: asks for SIGTERM at the parent's death, then becomes the
/// program. Whatever goes wrong is said on stderr, which is the child's log.
fn launch(mut args: impl Iterator<Item = OsString>) -> ! {
    let parent = args
        .next()
        .and_then(|pid| pid.to_str()?.parse::<u32>().ok());
    let (Some(parent), Some(program)) = (parent, args.next()) else {
        eprintln!("usage: demo {LAUNCH} PARENT_PID PROGRAM [ARGS…]");
        std::process::exit(2);
    };
    if let Err(err) = die_with_parent() {
        eprintln!("cannot ask to be stopped when the demo ends: {err}");
        std::process::exit(1);
    }
    // The demo may have died before the request was made: then no signal
    // will ever come, and the program must not start at all.
    if std::os::unix::process::parent_id() != parent {
        eprintln!("the demo that started this program has ended; not starting it");
        std::process::exit(1);
    }
    let err = Command::new(&program).args(args).exec();
    eprintln!("cannot run {}: {err}", Path::new(&program).display());
    std::process::exit(127);
}

#[cfg(target_os = "linux")]
fn die_with_parent() -> nix::Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent() -> nix::Result<()> {
    Ok(())
}
