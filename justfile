# Observable Rust: the front door. Every recipe is a thin wrapper over the
# `workshop` CLI (tools/workshop); the logic lives in Rust, not here.
# `just` alone lists the recipes.

workshop := "cargo run --quiet --locked -p workshop --"

# List the recipes.
default:
    @just --list --unsorted

# Show lab N's goal and steps, and grade it (`--verbose` for everything).
lab N *FLAGS:
    @{{workshop}} lab {{N}} {{FLAGS}}

# Show the next hint for lab N.
hint N:
    @{{workshop}} hint {{N}}

# Re-grade lab N on every save.
watch N *FLAGS:
    @{{workshop}} watch {{N}} {{FLAGS}}

# Every lab with its status, and your progress.
list:
    @{{workshop}} list

# Grade every lab; write target/workshop/grades.json and junit.xml.
grade *FLAGS:
    @{{workshop}} grade {{FLAGS}}

# Restore lab N's starter (your work is backed up first; `--yes` to skip the question).
reset N *FLAGS:
    @{{workshop}} reset {{N}} {{FLAGS}}

# Show the diff from lab N's starter to its solution.
solution N:
    @{{workshop}} solution {{N}}

# Check the toolchain, then download and build everything for offline use.
setup:
    @{{workshop}} setup

# For maintainers and CI: every starter fails its grader, every solution passes.
verify *FLAGS:
    @{{workshop}} verify {{FLAGS}}

# For maintainers: check labs/checksums.txt, or rewrite it with `--update`.
checksums *FLAGS:
    @{{workshop}} checksums {{FLAGS}}

# The whole test suite, as CI runs it.
test:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo test --locked
    @{{workshop}} verify
