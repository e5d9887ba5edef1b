//! Paths as manifests write them, with `..` in them, made comparable.

use std::path::{Component, Path, PathBuf};

/// `solutions/x/../../labs/x/tests/grader.rs` → `labs/x/tests/grader.rs`,
/// without touching the file system (the path may not exist).
pub fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexically_normal_resolves_parent_folders() {
        assert_eq!(
            lexically_normal(Path::new(
                "solutions/01-x/../../labs/01-x/./tests/grader.rs"
            )),
            Path::new("labs/01-x/tests/grader.rs")
        );
    }
}
