//! Where a learner looks next: the first `TODO(step N)` still in their
//! files, as `path:line`, the form editors and terminals open with a click.

use std::path::{Path, PathBuf};

/// A `TODO(step N)` marker in a learner's file.
#[derive(Debug, PartialEq)]
pub struct Todo {
    /// Relative to the workspace root, as the CLI's other paths are.
    pub path: PathBuf,
    pub line: usize,
    pub step: u32,
}

impl std::fmt::Display for Todo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} (step {})",
            self.path.display(),
            self.line,
            self.step
        )
    }
}

/// The `TODO(step N)` of the lowest step under `lab_dir/src` (the first in
/// file order among equals): the steps are meant to be done in order.
pub fn first_todo(root: &Path, lab_dir: &Path) -> Option<Todo> {
    let mut files = Vec::new();
    rust_files(&root.join(lab_dir).join("src"), &mut files);
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let path = file.strip_prefix(root).unwrap_or(file).to_path_buf();
            text.lines()
                .enumerate()
                .filter_map(|(i, line)| Some((step_of(line)?, i + 1)))
                .map(|(step, line)| Todo {
                    path: path.clone(),
                    line,
                    step,
                })
                .collect::<Vec<_>>()
        })
        .min_by_key(|todo| todo.step)
}

/// The step number of a line's `TODO(step N)`, if it has one.
fn step_of(line: &str) -> Option<u32> {
    let rest = &line[line.find("TODO(step ")? + "TODO(step ".len()..];
    rest[..rest.find(')')?].trim().parse().ok()
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_step_wins_and_its_line_is_exact() {
        let root = std::env::temp_dir().join(format!("workshop-todos-{}", std::process::id()));
        let src = root.join("labs/06-export/src");
        std::fs::create_dir_all(src.join("deep")).unwrap();
        std::fs::write(src.join("lib.rs"), "fn a() {}\n// TODO(step 3): later\n").unwrap();
        std::fs::write(
            src.join("deep/more.rs"),
            "\n\n    // TODO(step 2): this one\n// TODO(step 2): not this one\n",
        )
        .unwrap();
        let todo = first_todo(&root, Path::new("labs/06-export")).expect("a TODO");
        assert_eq!(
            todo.to_string(),
            "labs/06-export/src/deep/more.rs:3 (step 2)"
        );
        std::fs::write(src.join("deep/more.rs"), "done\n").unwrap();
        std::fs::write(src.join("lib.rs"), "done\n").unwrap();
        assert_eq!(first_todo(&root, Path::new("labs/06-export")), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_marker_needs_a_step_number() {
        assert_eq!(step_of("    // TODO(step 12): x"), Some(12));
        assert_eq!(step_of("// TODO: someday"), None);
        assert_eq!(step_of("// TODO(step two)"), None);
    }
}
