# Observable Rust: the front door. Every recipe is a thin wrapper over a
# program of the workspace, most over the `workshop` CLI
# (tools/learner/workshop); the logic lives in Rust, not here.
# `just` alone lists the recipes.

# `cargo run`, silent once the program is built; while it compiles, cargo's
# own progress bar says so (`--quiet` alone would hide it too). The recipes
# below need just 1.54 or newer (`cargo install --locked just` gets it).
run := "CARGO_TERM_PROGRESS_WHEN=always CARGO_TERM_PROGRESS_WIDTH=80 cargo run --quiet --locked"
workshop := run + " -p workshop --"

# List the recipes.
default:
    @just --list --unsorted

# The live demo: the shop (five services) and the trace collector under load (`--fixed`, `--duration SECS`, `--prometheus`, `--sample 0.1`, `--tail`).
[no-exit-message]
[continue]
demo *FLAGS:
    @{{run}} -p demo -- {{FLAGS}}

# Each argument is passed as it was given (`--operation "POST /orders"` stays one).
# The incident drill: the shop under load with one to three problems drawn at random planted; name each with evidence (`--seed N`, `--problems K`, `--list`, `answer …`, `hint`, `status`), then predict what a fix does and prove it (`predict …`, `fix`). In a classroom: `--room` runs every learner's drill here, `join URL --token T --name N` joins one, `leave` leaves it.
[no-exit-message]
[continue]
[positional-arguments]
incident *ARGS:
    @{{run}} -p incident -- "$@"

# Show lab N's goal and steps, and grade it (`--verbose` for everything).
[no-exit-message]
lab N *FLAGS:
    @{{workshop}} lab {{N}} {{FLAGS}}

# Show the next hint for lab N.
[no-exit-message]
hint N:
    @{{workshop}} hint {{N}}

# Re-grade lab N on every save.
[no-exit-message]
watch N *FLAGS:
    @{{workshop}} watch {{N}} {{FLAGS}}

# Every lab with its status, and your progress.
[no-exit-message]
list:
    @{{workshop}} list

# Grade every lab; write target/workshop/grades.json and junit.xml.
[no-exit-message]
grade *FLAGS:
    @{{workshop}} grade {{FLAGS}}

# Restore lab N's starter (your work is backed up first; `--restore` brings it back; `--yes` to skip the question).
[no-exit-message]
reset N *FLAGS:
    @{{workshop}} reset {{N}} {{FLAGS}}

# Show the diff from lab N's starter to its solution.
[no-exit-message]
solution N:
    @{{workshop}} solution {{N}}

# Check the toolchain, download every crate, build the labs, the demo and their tools for offline use (`--all`: solutions, slides, benchmarks too).
[no-exit-message]
setup *FLAGS:
    @WORKSHOP_STARTED=$(date +%s) {{workshop}} setup {{FLAGS}}

# For maintainers and CI: every starter fails its grader, every solution and alternative passes, every wrong solution fails (`just verify 3` for one lab).
verify *ARGS:
    @{{workshop}} verify {{ARGS}}

# The trace collector alone: OTLP on 127.0.0.1:4318, UI on http://127.0.0.1:16686 (`--data FILE` keeps traces; `--tail-sampling` keeps the failed, the slow and a share of the rest).
[no-exit-message]
[continue]
collector *FLAGS:
    @{{run}} -p collector --bin collector -- {{FLAGS}}

# A trace from the collector as a waterfall with its critical path: `just trace --slowest` or `just trace ID`.
[no-exit-message]
trace *ARGS:
    @{{run}} -p trace-tools --bin trace -- {{ARGS}}

# It runs the program `just setup` built directly, when nothing it was built
# from (its dep-info file lists the sources) has changed since: cargo's own
# check that it is up to date takes 0.3 s, more than the analysis of a demo
# run's 1,000 traces. Otherwise cargo builds it first.
#
# Each argument is passed as it was given: `--what-if "inventory reserve -50%"` stays one.
# Which operations own an endpoint's latency across many traces, per latency band, with flame graphs (after CRISP): `just crisp` after `just demo`; `just crisp DIR… --baseline DIR…`; `--what-if "SERVICE OPERATION ±PCT%"`; `--json`.
[no-exit-message]
[positional-arguments]
crisp *ARGS:
    #!/usr/bin/env bash
    bin=target/debug/crisp
    if [ -x "$bin" ] && [ -f "$bin.d" ] &&
        changed=$(find Cargo.lock Cargo.toml tools/learner/trace-tools/Cargo.toml tools/learner/trace-analysis/Cargo.toml tools/learner/collector-client/Cargo.toml $(cut -d: -f2- "$bin.d") -newer "$bin" -print -quit 2>/dev/null) &&
        [ -z "$changed" ]; then
        exec "$bin" "$@"
    fi
    {{run}} -p trace-tools --bin crisp -- "$@"

# The critical path of a trace saved in Jaeger's JSON shape (`--json` for sections).
[no-exit-message]
critical-path *ARGS:
    @{{run}} -p trace-tools --bin critical-path -- {{ARGS}}

# Load against a running shop: `just loadgen --duration 10 --concurrency 16`.
[no-exit-message]
loadgen *ARGS:
    @{{run}} --release -p loadgen -- {{ARGS}}

# Business statements versus admin statements (logging, timing, instrumentation), worst first: `just ratio demo-services`.
[no-exit-message]
ratio *ARGS:
    @{{run}} -p ratio -- {{ARGS}}

# Every benchmark, then a table of headline figures (`--quick` for a short run; `--modes spans,otlp-head-0%` compares some telemetry modes only).
[no-exit-message]
bench *FLAGS:
    @{{run}} --release -p workshop-bench -- {{FLAGS}}

# A flamegraph SVG of a workload: `just profile lab12` (your pricer), `lab12-original`, `pricing` (`--seconds N`); or of a running demo's operation, from its span profiles: `just profile --operation "pricing index_coupons"` (`--pprof`: a pprof profile of it too).
[no-exit-message]
[positional-arguments]
profile *ARGS:
    @{{workshop}} profile "$@"

# The talk as one self-contained page, target/slides/index.html (`--serve` on http://127.0.0.1:8000).
[no-exit-message]
slides *FLAGS:
    @{{run}} -p slides -- {{FLAGS}}

# Serves the W3C Trace Context harness's test endpoint on 127.0.0.1:5000.
[no-exit-message]
[continue]
w3c-test-service:
    @{{run}} -p w3c-test-service --bin w3c-test-service

# The public W3C Trace Context harness (its `test/` folder at PATH) against the test service, at both spec levels.
w3c PATH:
    @{{run}} -p w3c-test-service --bin w3c-harness -- {{PATH}}

# For maintainers: cargo-mutants on the reference solutions (`just mutants 3` for one lab), with a table per lab.
mutants *LAB:
    @{{workshop}} mutants {{LAB}}

# For maintainers: check labs/checksums.txt, or rewrite it with `--update`.
checksums *FLAGS:
    @{{workshop}} checksums {{FLAGS}}

# The fault suite alone: each test injects one fault on loopback (a client that gives up, a flood, a collector killed or down for 30 s, SIGTERM, a busy port, a slow client, a log reader that stalls, hostile input) and checks the promise it breaks (demo-services/README.md, "Promises"). `just test` runs them too.
faults:
    cargo test --locked -p system-tests -p telemetry -p collector -p demo --test seat_counts --test cancellation --test idempotency_keys --test connection_timeouts --test no_panic_on_any_input --test cancelled_requests --test log_writers --test bounded_store --test memory_under_flood --test bounded_analyses --test ingestion_under_analyses --test tail_sampling --test untrusted_input --test supervision --test export_faults

# The whole test suite, as CI runs it.
test:
    cargo fmt --all --check
    @cargo machete --version >/dev/null 2>&1 || { echo "Installing cargo-machete, which the unused-dependency check needs (once; about a minute)"; cargo install --locked --quiet cargo-machete; }
    cargo machete
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo test --locked
    cargo test --locked -p slides
    cargo test --locked -p workshop-bench --lib --bins --test span_costs
    cargo test --locked -p profile -p lab12-profile
    @{{workshop}} verify
