//! The targets learners are told come from one place: the grader's
//! `TARGET`. Every sentence that states one ("five times faster", "within
//! twice", "two to one"), in a lab's README, `lab.toml` and starter, in the
//! root README and in the slides, must state that value.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// `const TARGET: f64 = 5.0;` in a grader.
fn grader_target(lab: &str) -> f64 {
    let grader = std::fs::read_to_string(root().join(lab).join("tests/grader.rs")).unwrap();
    grader
        .lines()
        .find_map(|line| line.strip_prefix("const TARGET: f64 = "))
        .and_then(|rest| rest.trim_end_matches(';').parse().ok())
        .unwrap_or_else(|| panic!("{lab}'s grader has no `const TARGET: f64`"))
}

/// The value of a number as a learner reads it: `five`, `twice`, `5x`, `3`.
fn number(word: &str) -> Option<f64> {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '.');
    let named = [
        ("one", 1.0),
        ("two", 2.0),
        ("twice", 2.0),
        ("three", 3.0),
        ("four", 4.0),
        ("five", 5.0),
        ("six", 6.0),
        ("ten", 10.0),
    ];
    named
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, value)| *value)
        .or_else(|| word.trim_end_matches('x').parse().ok())
}

/// Every value stated next to `phrase` in `text`: the word before it
/// (`five` in "five times faster") or after it (`twice` in "within
/// twice"), with Markdown emphasis and line breaks ignored.
fn stated(text: &str, phrase: &str, word_before: bool) -> Vec<(String, Option<f64>)> {
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .collect();
    let phrase: Vec<&str> = phrase.split(' ').collect();
    let mut found = Vec::new();
    for i in (0..words.len()).filter(|i| i + phrase.len() <= words.len()) {
        let matches = phrase.iter().enumerate().all(|(k, p)| words[i + k] == *p);
        if !matches {
            continue;
        }
        let word = if word_before {
            i.checked_sub(1).map(|j| words[j])
        } else {
            words.get(i + phrase.len()).copied()
        };
        if let Some(word) = word {
            let context =
                words[i.saturating_sub(3)..(i + phrase.len() + 2).min(words.len())].join(" ");
            found.push((context, number(word)));
        }
    }
    found
}

#[test]
fn every_stated_target_is_the_graders() {
    let labs = [
        ("labs/12-hot-spot", "times faster", true),
        ("labs/13-cost-of-observability", "within", false),
        ("labs/14-admin-ratio", "to one", true),
    ];
    let shared = ["README.md", "slides/talk.md"];
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (lab, phrase, word_before) in labs {
        let target = grader_target(lab);
        let mut files: Vec<PathBuf> = ["README.md", "lab.toml"]
            .iter()
            .map(|f| Path::new(lab).join(f))
            .collect();
        for entry in std::fs::read_dir(root().join(lab).join("src")).unwrap() {
            files.push(Path::new(lab).join("src").join(entry.unwrap().file_name()));
        }
        files.extend(shared.iter().map(PathBuf::from));
        for file in files {
            let text = std::fs::read_to_string(root().join(&file)).unwrap();
            for (context, value) in stated(&text, phrase, word_before) {
                // A shared file speaks of several labs: only the sentences
                // that state a number for this phrase count.
                let Some(value) = value else { continue };
                checked += 1;
                if value != target {
                    wrong.push(format!(
                        "{}: \"{context}\" says {value}, the grader's TARGET is {target}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(checked >= 9, "the sentences were found ({checked})");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_wrong_number_is_seen() {
    let text = "outnumber its admin lines at least **four to one**, while";
    assert_eq!(stated(text, "to one", true)[0].1, Some(4.0));
    assert_eq!(
        stated("within\ntwice the cost", "within", false)[0].1,
        Some(2.0)
    );
    assert_eq!(
        stated(
            "at least 5x faster, five times faster",
            "times faster",
            true
        )[0]
        .1,
        Some(5.0)
    );
}
