//! End to end: the `workshop` binary on a copy of this workshop, walked
//! through what a learner and a grading robot do. Real cargo builds, real
//! graders, real files; the copy keeps the real checkout untouched.
//!
//! One test function on purpose: the steps share one copy and one build
//! directory, and each builds on the state the previous one left.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LAB: &str = "labs/01-first-spans";
const SOLUTION: &str = "solutions/01-first-spans";

struct Copy {
    root: PathBuf,
    target: PathBuf,
}

impl Copy {
    /// A fresh copy of the workspace sources; the build directory is kept
    /// between runs so that only the first run pays for compiling.
    fn new() -> Self {
        let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let root = scratch.join("journey-workspace");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the copy's folder");
        // Everything but the build output, the history and this checkout's
        // own learner state.
        for entry in std::fs::read_dir(&original).expect("the workspace") {
            let name = entry.expect("an entry").file_name();
            if name != "target" && name != ".git" && name != ".workshop" {
                copy_all(&original.join(&name), &root.join(&name));
            }
        }
        Self {
            root,
            target: scratch.join("journey-target"),
        }
    }

    fn workshop(&self, args: &[&str]) -> Output {
        self.workshop_with_target(args, &self.target)
    }

    fn workshop_with_target(&self, args: &[&str], target: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_workshop"))
            .args(args)
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", target)
            .env("NO_COLOR", "1")
            .output()
            .expect("the workshop binary runs")
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("file exists")
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).expect("file is writable");
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .env("GIT_AUTHOR_NAME", "learner")
            .env("GIT_AUTHOR_EMAIL", "learner@example.invalid")
            .env("GIT_COMMITTER_NAME", "learner")
            .env("GIT_COMMITTER_EMAIL", "learner@example.invalid")
            .output()
            .expect("git runs")
            .status;
        assert!(status.success(), "git {args:?} failed");
    }
}

impl Copy {
    fn git_output(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn copy_all(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("create folder");
        for entry in std::fs::read_dir(from).expect("read folder") {
            let entry = entry.expect("folder entry");
            copy_all(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy file");
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn exit_code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

#[test]
fn a_learner_and_a_grading_robot_walk_through_lab_01() {
    let ws = Copy::new();
    let starter = ws.read(&format!("{LAB}/src/lib.rs"));

    // The starter compiles and fails, with guidance rather than a raw dump.
    let first = ws.workshop(&["lab", "1"]);
    let text = stdout(&first);
    assert_eq!(exit_code(&first), 1, "a failing lab exits 1:\n{text}");
    assert!(text.contains("Lab 01 · First spans"), "{text}");
    assert!(text.contains("0/8 checks passed"), "{text}");
    assert!(
        text.contains("recorded no span named `place_order`"),
        "{text}"
    );
    assert!(text.contains("README step 1"), "{text}");
    assert!(
        !text.contains("RUST_BACKTRACE"),
        "no test-harness noise:\n{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when NO_COLOR is set");

    // Another build holding the target folder (rust-analyzer's `cargo
    // check`, say) is a wait the learner is told about, not a silence. The
    // test holds cargo's own lock on the build folder until the CLI says so.
    let lock = std::fs::File::open(ws.target.join("debug/.cargo-lock")).expect("cargo's lock");
    lock.lock().expect("take cargo's lock");
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_workshop"))
        .args(["lab", "1"])
        .current_dir(&ws.root)
        .env("CARGO_TARGET_DIR", &ws.target)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the workshop binary runs");
    let stderr = waiting.stderr.take().expect("stderr is piped");
    let (said, told) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Waiting for another cargo build") {
                let _ = said.send(line);
            }
        }
    });
    // A guard, not a synchronisation: the message comes as soon as cargo
    // meets the lock; if it never comes, the test fails instead of hanging.
    let told = told.recv_timeout(std::time::Duration::from_secs(120));
    lock.unlock().expect("let go of cargo's lock");
    assert!(
        told.is_ok(),
        "the CLI never said that it waits for cargo's lock"
    );
    assert_eq!(waiting.wait().expect("the grade ends").code(), Some(1));

    // A grading robot gets JSON and JUnit, with a result for every check.
    let graded = ws.workshop(&["grade"]);
    assert_eq!(
        exit_code(&graded),
        1,
        "grade exits non-zero unless all pass"
    );
    let grades: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.target.join("workshop/grades.json")).expect("grades.json"),
    )
    .expect("grades.json is JSON");
    assert_eq!(grades["passed"], false);
    assert_eq!(grades["labs"][0]["status"], "failing");
    assert_eq!(
        grades["labs"][0]["checks"].as_array().map(Vec::len),
        Some(8)
    );
    // JUnit says the same as the JSON: a case per check, a failure or an
    // error per check that did not pass.
    let labs = grades["labs"].as_array().expect("labs");
    let checks: Vec<&serde_json::Value> = labs
        .iter()
        .flat_map(|l| l["checks"].as_array().unwrap())
        .collect();
    let not_passed = checks.iter().filter(|c| c["status"] != "passed").count();
    let junit = std::fs::read_to_string(ws.target.join("workshop/junit.xml")).expect("junit.xml");
    let (suites, cases, failures) = count_junit(&junit);
    assert_eq!(
        (suites, cases, failures),
        (labs.len(), checks.len(), not_passed),
        "{junit}"
    );

    // An edited grader is reported as tampered, never as passed.
    let grader = format!("{LAB}/tests/grader.rs");
    let original_grader = ws.read(&grader);
    ws.write(&grader, &format!("{original_grader}\n// made easier\n"));
    let tampered = ws.workshop(&["grade"]);
    assert_eq!(exit_code(&tampered), 1);
    let grades = std::fs::read_to_string(ws.target.join("workshop/grades.json")).expect("grades");
    assert!(grades.contains(r#""status": "tampered""#), "{grades}");
    assert!(stdout(&tampered).contains("tampered"));
    ws.write(&grader, &original_grader);

    // A compile error is summarised: the first error, with file and line.
    ws.write(
        &format!("{LAB}/src/lib.rs"),
        &starter.replace("Ok(())\n}", "Ok(()\n}"),
    );
    let broken = stdout(&ws.workshop(&["lab", "1"]));
    assert!(
        broken.contains("Your code does not compile yet."),
        "{broken}"
    );
    assert!(broken.contains("src/lib.rs:"), "{broken}");

    // A learner's panic is reported per check, where it happened.
    ws.write(
        &format!("{LAB}/src/lib.rs"),
        &starter.replace(
            "    if order.tickets.is_empty() {",
            "    if order.tickets.is_empty() {\n        todo!(\"empty orders\");",
        ),
    );
    let panicked = stdout(&ws.workshop(&["lab", "1"]));
    assert!(
        panicked.contains("Your code reached a `todo!()`: empty orders"),
        "{panicked}"
    );

    // An infinite loop is stopped at the lab's time limit. The limit is the
    // lab's own setting, so shorten it as a maintainer would: with the
    // checksums rewritten.
    let lab_toml = format!("{LAB}/lab.toml");
    let original_toml = ws.read(&lab_toml);
    ws.write(
        &lab_toml,
        &original_toml.replace("timeout_secs = 20", "timeout_secs = 1"),
    );
    ws.write(&format!("{LAB}/src/lib.rs"), &starter);
    assert_eq!(exit_code(&ws.workshop(&["checksums", "--update"])), 0);
    // The loop is in the solution's code, inside the spans it makes: the
    // report names the one it never left.
    let solution = ws.read(&format!("{SOLUTION}/src/lib.rs"));
    let looping = solution.replacen(
        "    if order.tickets.is_empty() {",
        "    #[allow(clippy::empty_loop)]\n    loop {}\n    #[allow(unreachable_code)]\n    if order.tickets.is_empty() {",
        1,
    );
    assert_ne!(
        looping, solution,
        "the loop goes into the solution's validation"
    );
    ws.write(&format!("{LAB}/src/lib.rs"), &looping);
    let looped = stdout(&ws.workshop(&["lab", "1"]));
    let prose = looped.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        prose.contains("the lab's time limit (1 s) ran out"),
        "{looped}"
    );
    assert!(
        prose.contains(
            "The spans open at that moment: `validate (lab01)`, inside `place_order (lab01)`"
        ),
        "{looped}"
    );
    // One limit for the lab, not one per check in a row: the checks that
    // started (one per core) are stopped at it, and the others are not
    // started after it.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stopped = looped.lines().filter(|l| l.starts_with("⏱ ")).count();
    assert!((1..=cores).contains(&stopped), "{looped}");
    if cores < 8 {
        assert!(looped.contains("ran out before its turn"), "{looped}");
    }
    assert!(
        looped.contains("0/8 checks passed"),
        "every check still reports:\n{looped}"
    );
    ws.write(&lab_toml, &original_toml);
    ws.write(&format!("{LAB}/src/lib.rs"), &starter);
    assert_eq!(exit_code(&ws.workshop(&["checksums", "--update"])), 0);

    // The reference solution passes the very same grader.
    ws.write(
        &format!("{LAB}/src/lib.rs"),
        &ws.read(&format!("{SOLUTION}/src/lib.rs")),
    );
    let solved = ws.workshop(&["lab", "1"]);
    let text = stdout(&solved);
    assert_eq!(exit_code(&solved), 0, "{text}");
    assert!(text.contains("8/8 checks passed · 12/12 points"), "{text}");
    assert!(stdout(&ws.workshop(&["list"])).contains("done"));

    // Reset restores the starter from git history, even after the learner
    // committed their work, and backs that work up first.
    ws.write(&format!("{LAB}/src/lib.rs"), &starter);
    ws.git(&["init", "-q"]);
    ws.git(&["add", "-A"]);
    ws.git(&["commit", "-q", "-m", "workshop"]);
    ws.write(&format!("{LAB}/src/lib.rs"), "// my attempt\n");
    ws.git(&["commit", "-q", "-am", "my attempt"]);
    let reset = ws.workshop(&["reset", "1", "--yes"]);
    assert_eq!(
        exit_code(&reset),
        0,
        "{}{}",
        stdout(&reset),
        String::from_utf8_lossy(&reset.stderr)
    );
    assert_eq!(ws.read(&format!("{LAB}/src/lib.rs")), starter);
    let said = stdout(&reset);
    assert!(
        said.contains("Your work was saved in .workshop/backups/"),
        "{said}"
    );
    let backup = said
        .split("saved in ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the backup's folder is named");
    assert!(
        ws.read(&format!("{backup}/src/lib.rs"))
            .contains("my attempt")
    );
    // The lab was done before the reset; after it, it is the starter again.
    let listed = stdout(&ws.workshop(&["list"]));
    let lab01_row = listed
        .lines()
        .find(|line| line.starts_with("01"))
        .expect("lab 01 is listed");
    assert!(!lab01_row.contains("done"), "{listed}");
    assert!(
        said.contains("`just reset 1 --restore` brings it back"),
        "{said}"
    );
    // The backup comes back, and the starter it replaces is not backed up.
    let restored = ws.workshop(&["reset", "1", "--restore", "--yes"]);
    assert_eq!(exit_code(&restored), 0, "{}", stdout(&restored));
    assert_eq!(ws.read(&format!("{LAB}/src/lib.rs")), "// my attempt\n");
    // Restoring again brings back nothing new: the last backup is the same.
    let restored_twice = ws.workshop(&["reset", "1", "--restore", "--yes"]);
    assert_eq!(exit_code(&restored_twice), 0);
    assert_eq!(ws.read(&format!("{LAB}/src/lib.rs")), "// my attempt\n");
    ws.write(&format!("{LAB}/src/lib.rs"), &starter);

    // A shortcut around the grader: it is rewritten to pass everything and
    // the checksums with it, then committed. Graded in place, the lab
    // passes; graded as a robot does, only the learner's src/ counts,
    // inside a pristine copy of the commit the workshop started from.
    let started_from = ws.git_output(&["rev-list", "--max-parents=0", "HEAD"]);
    let names: Vec<String> = ws
        .read(&format!("{LAB}/lab.toml"))
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .map(|rest| rest.trim_end_matches('"').to_owned())
        .collect();
    assert!(names.len() >= 5, "lab 01's checks: {names:?}");
    let easy: String = names.iter().map(|n| format!("fn {n}() {{}}\n")).collect();
    ws.write(
        &grader,
        &format!("{easy}grader_kit::checks![{}];\n", names.join(", ")),
    );
    assert_eq!(exit_code(&ws.workshop(&["checksums", "--update"])), 0);
    ws.git(&["commit", "-q", "-am", "an easier grader"]);
    let shortcut = ws.workshop(&["lab", "1"]);
    assert_eq!(exit_code(&shortcut), 0, "{}", stdout(&shortcut));
    let pristine = ws.workshop(&["lab", "1", "--pristine", started_from.trim()]);
    let text = stdout(&pristine);
    assert_eq!(
        exit_code(&pristine),
        1,
        "the starter fails pristine grading:\n{text}"
    );
    assert!(text.contains("0/8 checks passed"), "{text}");
    // The same src/ with the solution in it passes, though the grader the
    // learner edited is still in place.
    ws.write(
        &format!("{LAB}/src/lib.rs"),
        &ws.read(&format!("{SOLUTION}/src/lib.rs")),
    );
    let pristine = ws.workshop(&["grade", "--pristine", started_from.trim()]);
    let grades: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.target.join("workshop/grades.json")).expect("grades"),
    )
    .expect("grades.json is JSON");
    let lab01 = grades["labs"]
        .as_array()
        .and_then(|labs| labs.iter().find(|l| l["slug"] == "first-spans"))
        .expect("lab 01 is graded");
    assert_eq!(lab01["status"], "passed", "{}\n{lab01}", stdout(&pristine));
    let lab02 = grades["labs"]
        .as_array()
        .and_then(|labs| labs.iter().find(|l| l["slug"] == "structured-output"))
        .expect("lab 02 is graded");
    assert_eq!(
        lab02["status"], "failing",
        "an untouched starter still fails"
    );
    ws.write(&format!("{LAB}/src/lib.rs"), &starter);

    // `cargo clean` deletes the target folder, and nothing of the learner's
    // with it. A scratch target of its own, so that the build above is kept
    // for the next run: it holds a hint counter and a grade report.
    let scratch = ws.target.with_file_name("journey-clean-target");
    assert_eq!(
        exit_code(&ws.workshop_with_target(&["hint", "1"], &scratch)),
        0
    );
    let cleaned = Command::new(env!("CARGO"))
        .args(["clean", "--target-dir"])
        .arg(&scratch)
        .current_dir(&ws.root)
        .output()
        .expect("cargo clean runs");
    assert!(cleaned.status.success(), "{cleaned:?}");
    assert!(!scratch.exists(), "cargo clean removed the target folder");
    let list = stdout(&ws.workshop_with_target(&["list"], &scratch));
    assert!(list.contains("done"), "lab 01's progress survives:\n{list}");
    assert!(
        ws.read(&format!("{backup}/src/lib.rs"))
            .contains("my attempt")
    );
    let hint = stdout(&ws.workshop_with_target(&["hint", "1"], &scratch));
    assert!(
        hint.contains("hint 2 of"),
        "the hint counter survives:\n{hint}"
    );
}

/// (test suites, test cases, failures and errors) in a JUnit document, read
/// with a real XML parser.
fn count_junit(xml: &str) -> (usize, usize, usize) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut suites, mut cases, mut failures) = (0, 0, 0);
    loop {
        match reader.read_event().expect("junit.xml is well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "testsuite" => suites += 1,
                "testcase" => cases += 1,
                "failure" | "error" => failures += 1,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    (suites, cases, failures)
}
