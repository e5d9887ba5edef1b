//! The grader of lab 08. `just lab 8` runs it and explains each result.
//!
//! Your two functions are run on traces whose answers are known (built
//! here, span by span), then on hundreds of generated traces against a
//! straightforward reference written in this file, shrunk to the smallest
//! case that differs. Step 3's answer is checked against the workshop's own
//! analysis of the recording (`collector::aggregate`, the engine of `just
//! crisp`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use collector::aggregate::Endpoint;
use collector::critical_path::critical_path;
use collector::jaeger::{JaegerSpan, Process, RefType, Reference, Trace};
use lab08::{Operation, OperationTime, critical_path_by_operation, exclusive_time_by_operation};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

grader_kit::checks![
    each_section_counts_for_its_spans_operation,
    an_operation_is_its_service_and_name,
    means_count_every_trace_of_the_endpoint,
    only_traces_rooted_at_the_endpoint_count,
    generated_traces_agree_with_a_straightforward_reference,
    the_recordings_p99_owner_and_its_cause_are_named,
];

/// A span of a hand-built trace: id, parent, service, name, start, end (µs).
type Spec<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, u64, u64);

/// A trace in Jaeger's shape. As in Jaeger's answers, a span names its
/// process (`p1`, `p2`, …), and the process names the service.
fn trace(id: &str, specs: &[Spec]) -> Trace {
    let mut services: Vec<&str> = specs.iter().map(|&(_, _, service, ..)| service).collect();
    services.sort_unstable();
    services.dedup();
    let process_of = |service: &str| {
        let at = services.iter().position(|s| *s == service).unwrap_or(0);
        format!("p{}", at + 1)
    };
    let spans = specs
        .iter()
        .map(|&(span, parent, service, name, start, end)| JaegerSpan {
            trace_id: id.to_owned(),
            span_id: span.to_owned(),
            operation_name: name.to_owned(),
            references: parent
                .map(|p| Reference {
                    ref_type: RefType::ChildOf,
                    trace_id: id.to_owned(),
                    span_id: p.to_owned(),
                })
                .into_iter()
                .collect(),
            start_time: start,
            duration: end - start,
            process_id: process_of(service),
            tags: Vec::new(),
            logs: Vec::new(),
            flags: 1,
            warnings: None,
        })
        .collect();
    let processes: BTreeMap<String, Process> = services
        .iter()
        .map(|service| {
            (
                process_of(service),
                Process {
                    service_name: (*service).to_owned(),
                    tags: Vec::new(),
                },
            )
        })
        .collect();
    Trace {
        trace_id: id.to_owned(),
        spans,
        processes,
        warnings: None,
    }
}

fn op(service: &str, name: &str) -> Operation {
    Operation::new(service, name)
}

/// What a learner's map says of `operation`: absent is zero.
fn owned(map: &HashMap<Operation, u64>, operation: &Operation) -> u64 {
    map.get(operation).copied().unwrap_or(0)
}

/// Every span's own duration, by operation: what a sum of durations, not
/// of critical-path sections, would give.
fn durations(trace: &Trace) -> HashMap<Operation, u64> {
    let mut sums = HashMap::new();
    for span in &trace.spans {
        *sums
            .entry(op(trace.service_of(span), &span.operation_name))
            .or_default() += span.duration;
    }
    sums
}

/// Checks one trace against its known answer, with a message that names
/// the likely mistake.
fn expect_owned(trace: &Trace, what: &str, expected: &[(Operation, u64)]) {
    let got = exclusive_time_by_operation(trace);
    for (operation, want) in expected {
        let found = owned(&got, operation);
        if found == *want {
            continue;
        }
        let other_service = got
            .keys()
            .find(|o| o.name == operation.name && o.service != operation.service);
        let advice = if let Some(other) = other_service.filter(|_| found == 0) {
            format!(
                "It has `{other}` instead: an operation's service is the one its span's \
                 process names, `trace.service_of(span)` (a span's `process_id` is only \
                 a key into the trace's processes)."
            )
        } else if found == owned(&durations(trace), operation) && found != 0 {
            "That is the whole duration of its spans: only the sections of the \
             critical path that belong to the span count (while a child on the \
             path runs, the time is the child's)."
                .to_owned()
        } else if found == 0 {
            "Each section of `critical_path(trace)` names a span (`span_id`): \
             find that span, and add `end - start` to its operation."
                .to_owned()
        } else {
            "Add up `end - start` of every section whose span has this operation: \
             a span can own several sections, and an operation several spans."
                .to_owned()
        };
        panic!(
            "In the trace of {what}, `{operation}` owns {want} µs of the critical path, \
             but exclusive_time_by_operation gives {found} µs. {advice} \
             (README step 1.)"
        );
    }
    let total: u64 = got.values().sum();
    let root = trace.root().expect("a root").duration;
    assert!(
        total == root,
        "In the trace of {what}, the times add up to {total} µs, but the critical path \
         covers the root's {root} µs exactly once: something is counted twice, or an \
         operation is missing. (README step 1.)"
    );
}

fn each_section_counts_for_its_spans_operation() {
    // gateway 0–100: catalog 10–30, inventory 30–60, pricing 70–90, one
    // after another: all on the path, the gateway owning the gaps.
    let sequential = trace(
        "sequential",
        &[
            ("r", None, "gateway", "POST /orders", 0, 100),
            ("c", Some("r"), "catalog", "GET /talks", 10, 30),
            ("i", Some("r"), "inventory", "reserve", 30, 60),
            ("p", Some("r"), "pricing", "quote", 70, 90),
        ],
    );
    expect_owned(
        &sequential,
        "three calls one after another",
        &[
            (op("gateway", "POST /orders"), 30),
            (op("catalog", "GET /talks"), 20),
            (op("inventory", "reserve"), 30),
            (op("pricing", "quote"), 20),
        ],
    );
    // The same three calls at once: only the last to finish is on the path;
    // inside it, its database call owns its own stretch.
    let concurrent = trace(
        "concurrent",
        &[
            ("r", None, "gateway", "POST /orders", 0, 200),
            ("c", Some("r"), "catalog", "GET /talks", 10, 50),
            ("i", Some("r"), "inventory", "reserve", 10, 170),
            ("d", Some("i"), "inventory", "write_audit_record", 100, 160),
            ("p", Some("r"), "pricing", "quote", 20, 90),
        ],
    );
    expect_owned(
        &concurrent,
        "three calls at once",
        &[
            (op("gateway", "POST /orders"), 40),
            (op("inventory", "reserve"), 100),
            (op("inventory", "write_audit_record"), 60),
            (op("catalog", "GET /talks"), 0),
            (op("pricing", "quote"), 0),
        ],
    );
}

fn an_operation_is_its_service_and_name() {
    // Two services both answer `GET /health`; the catalog asks its
    // database three times, one query after another (an N+1 ladder).
    let ladder = trace(
        "ladder",
        &[
            ("r", None, "gateway", "GET /talks", 0, 100),
            ("h1", Some("r"), "catalog", "GET /health", 0, 5),
            ("c", Some("r"), "catalog", "GET /talks", 5, 95),
            ("q1", Some("c"), "catalog", "SELECT", 10, 30),
            ("q2", Some("c"), "catalog", "SELECT", 30, 50),
            ("q3", Some("c"), "catalog", "SELECT", 50, 70),
            ("h2", Some("r"), "gateway", "GET /health", 95, 97),
        ],
    );
    expect_owned(
        &ladder,
        "an N+1 ladder of three queries",
        &[
            (op("catalog", "SELECT"), 60),
            (op("catalog", "GET /health"), 5),
            (op("gateway", "GET /health"), 2),
            (op("catalog", "GET /talks"), 30),
            (op("gateway", "GET /talks"), 3),
        ],
    );
    let got = exclusive_time_by_operation(&ladder);
    assert!(
        got.keys()
            .all(|o| !o.service.is_empty() && !o.name.is_empty()),
        "Every operation needs its service (`trace.service_of(span)`) and its span's \
         name (`span.operation_name`); one came back with an empty part: {:?}. \
         (README step 1.)",
        got.keys().collect::<Vec<_>>()
    );
}

/// `endpoint`'s order with `db` µs on the database, and pricing only when
/// `price` is some: in a trace of 10 + db + price + 10 µs.
fn order(id: &str, db: u64, price: Option<u64>) -> Trace {
    let price_us = price.unwrap_or(0);
    let end = 10 + db + price_us + 10;
    let mut specs: Vec<Spec> = vec![
        ("r", None, "gateway", "POST /orders", 0, end),
        ("d", Some("r"), "inventory", "reserve", 10, 10 + db),
    ];
    if price.is_some() {
        specs.push((
            "p",
            Some("r"),
            "pricing",
            "quote",
            10 + db,
            10 + db + price_us,
        ));
    }
    trace(id, &specs)
}

fn orders() -> Operation {
    op("gateway", "POST /orders")
}

fn find<'a>(times: &'a [OperationTime], operation: &Operation) -> Option<&'a OperationTime> {
    times.iter().find(|t| &t.operation == operation)
}

fn expect_mean(times: &[OperationTime], operation: &Operation, total: u64, mean: f64, why: &str) {
    let Some(found) = find(times, operation) else {
        panic!(
            "critical_path_by_operation has no entry for `{operation}`, which owns {total} µs \
             in total. (README step 2.)"
        );
    };
    assert!(
        found.total_us == total,
        "`{operation}` owns {total} µs in total over the endpoint's traces; \
         critical_path_by_operation says {}. (README step 2.)",
        found.total_us
    );
    assert!(
        (found.mean_us - mean).abs() < 1e-9 * mean.max(1.0),
        "`{operation}` has a mean of {mean} µs ({why}); critical_path_by_operation \
         says {}. (README step 2.)",
        found.mean_us
    );
}

fn means_count_every_trace_of_the_endpoint() {
    // Pricing is called in two orders of four: its mean counts the two
    // without it as zero.
    let traces = [
        order("a", 30, Some(50)),
        order("b", 10, None),
        order("c", 20, Some(70)),
        order("d", 40, None),
    ];
    let times = critical_path_by_operation(&traces, &orders());
    expect_mean(
        &times,
        &op("pricing", "quote"),
        120,
        30.0,
        "120 µs over 4 orders: the 2 orders that never called pricing count as zero, \
         so that the means add up to the mean order",
    );
    expect_mean(
        &times,
        &op("inventory", "reserve"),
        100,
        25.0,
        "100 µs over 4 orders",
    );
    let sum: f64 = times.iter().map(|t| t.mean_us).sum();
    let mean_duration = (100 + 30 + 110 + 60) as f64 / 4.0;
    assert!(
        (sum - mean_duration).abs() < 1e-6,
        "The operations' means add up to {sum} µs, but the mean order lasts \
         {mean_duration} µs: every operation's mean is over all the endpoint's traces, \
         and every section belongs to one operation. (README step 2.)"
    );
    // Another set, other figures: no constant passes both.
    let traces = [order("e", 5, Some(5)), order("f", 7, None)];
    let times = critical_path_by_operation(&traces, &orders());
    expect_mean(
        &times,
        &op("pricing", "quote"),
        5,
        2.5,
        "5 µs over 2 orders",
    );
    expect_mean(
        &times,
        &op("gateway", "POST /orders"),
        40,
        20.0,
        "its own 20 µs in each order",
    );
}

fn only_traces_rooted_at_the_endpoint_count() {
    let mut talks = order("talks", 1_000, Some(1_000));
    talks.spans[0].operation_name = "GET /talks".to_owned();
    // The endpoint's operation, but not at the root: a retry inside
    // another request does not make that request an order.
    let nested = trace(
        "nested",
        &[
            ("r", None, "gateway", "POST /retry", 0, 5_000),
            ("o", Some("r"), "gateway", "POST /orders", 100, 4_900),
        ],
    );
    let traces = [
        order("a", 30, Some(50)),
        talks,
        nested,
        order("b", 10, Some(70)),
    ];
    let times = critical_path_by_operation(&traces, &orders());
    expect_mean(
        &times,
        &op("inventory", "reserve"),
        40,
        20.0,
        "only the 2 traces whose root span is gateway POST /orders count; a trace \
         rooted at GET /talks, or one where POST /orders is not the root, is another \
         endpoint's (`trace.root()`)",
    );
    assert!(
        find(&times, &op("gateway", "POST /retry")).is_none(),
        "gateway POST /retry is in the answer: its trace's root is not the endpoint, \
         so none of its spans count. (README step 2.)"
    );
    let none = critical_path_by_operation(&traces, &op("gateway", "DELETE /orders"));
    assert!(
        none.is_empty(),
        "No trace has gateway DELETE /orders as its root, yet the answer has {} \
         operations. (README step 2.)",
        none.len()
    );
}

/// The straightforward reference: for each trace rooted at the endpoint,
/// each critical-path section's length goes to its span's operation; the
/// totals are divided by the number of those traces.
fn reference(traces: &[Trace], endpoint: &Operation) -> BTreeMap<Operation, (u64, f64)> {
    let mut totals: BTreeMap<Operation, u64> = BTreeMap::new();
    let mut count = 0u64;
    for trace in traces {
        let root = trace.root().expect("a root");
        if trace.service_of(root) != endpoint.service || root.operation_name != endpoint.name {
            continue;
        }
        count += 1;
        for section in critical_path(trace) {
            let span = trace
                .spans
                .iter()
                .find(|s| s.span_id == section.span_id)
                .expect("a section names a span of its trace");
            *totals
                .entry(op(trace.service_of(span), &span.operation_name))
                .or_default() += section.end - section.start;
        }
    }
    totals
        .into_iter()
        .map(|(operation, total)| (operation, (total, total as f64 / count as f64)))
        .collect()
}

/// A span of a generated trace, owning its ids.
#[derive(Clone, Debug)]
struct Generated {
    id: String,
    parent: Option<String>,
    service: &'static str,
    name: &'static str,
    start: u64,
    end: u64,
}

/// Traces of 1 to 12 spans: each span under an earlier one (so the first
/// is the root), from a few services and names, at times that overlap,
/// nest, overflow their parent or lie outside it, as real traces do.
fn traces() -> impl Strategy<Value = Vec<Trace>> {
    const SERVICES: [&str; 3] = ["gateway", "inventory", "pricing"];
    const NAMES: [&str; 3] = ["POST /orders", "reserve", "GET /health"];
    let span = (
        any::<prop::sample::Index>(),
        0..3usize,
        0..3usize,
        0..120u64,
        0..120u64,
    );
    let one = prop::collection::vec(span, 1..12).prop_map(|spans| {
        spans
            .iter()
            .enumerate()
            .map(|(i, (parent, service, name, start, length))| {
                // The root is gateway POST /orders, 0–100, or now and then
                // gateway GET /health (another endpoint's trace).
                let (service, name, start, end) = if i == 0 {
                    (SERVICES[0], NAMES[*name % 2 * 2], 0, 100)
                } else {
                    (SERVICES[*service], NAMES[*name], *start, start + length)
                };
                Generated {
                    id: format!("s{i}"),
                    parent: (i > 0).then(|| format!("s{}", parent.index(i))),
                    service,
                    name,
                    start,
                    end,
                }
            })
            .collect::<Vec<_>>()
    });
    prop::collection::vec(one, 1..6).prop_map(|set| {
        set.iter()
            .enumerate()
            .map(|(t, spans)| {
                let specs: Vec<Spec> = spans
                    .iter()
                    .map(|g| {
                        (
                            g.id.as_str(),
                            g.parent.as_deref(),
                            g.service,
                            g.name,
                            g.start,
                            g.end,
                        )
                    })
                    .collect();
                trace(&format!("t{t}"), &specs)
            })
            .collect()
    })
}

fn describe(traces: &[Trace]) -> String {
    let mut out = String::new();
    for trace in traces {
        out.push_str(&format!("  trace {}:\n", trace.trace_id));
        for span in &trace.spans {
            let parent = span
                .references
                .first()
                .map_or("-".to_owned(), |r| r.span_id.clone());
            out.push_str(&format!(
                "    {} (parent {parent}) {} {} {}–{} µs\n",
                span.span_id,
                trace.service_of(span),
                span.operation_name,
                span.start_time,
                span.start_time + span.duration
            ));
        }
    }
    out
}

fn generated_traces_agree_with_a_straightforward_reference() {
    let endpoint = orders();
    let config = Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    };
    let result = TestRunner::new(config).run(&traces(), |traces| {
        let expected = reference(&traces, &endpoint);
        let got: BTreeMap<Operation, (u64, f64)> = critical_path_by_operation(&traces, &endpoint)
            .into_iter()
            .filter(|t| t.total_us > 0)
            .map(|t| (t.operation, (t.total_us, t.mean_us)))
            .collect();
        let same = expected.len() == got.len()
            && expected.iter().all(|(operation, (total, mean))| {
                got.get(operation)
                    .is_some_and(|(t, m)| t == total && (m - mean).abs() <= 1e-9 * mean.max(1.0))
            });
        prop_assert!(same);
        Ok(())
    });
    if let Err(failure) = result {
        let TestError::Fail(_, traces) = failure else {
            panic!("the generated traces were all rejected: {failure}");
        };
        let expected = reference(&traces, &endpoint);
        let got = critical_path_by_operation(&traces, &endpoint);
        let list = |rows: Vec<String>| rows.join(", ");
        panic!(
            "On generated traces, your totals differ from the reference's. The smallest \
             case found:\n{}\nThe reference (total µs, mean µs): {}\nYours: {}\n\
             Work it through by hand: walk the critical path of each trace rooted at \
             gateway POST /orders, give each section to its span's operation, and divide \
             by the number of those traces. (README steps 1 and 2.)",
            describe(&traces),
            list(
                expected
                    .iter()
                    .map(|(o, (t, m))| format!("{o} {t} / {m:.2}"))
                    .collect()
            ),
            list(
                got.iter()
                    .filter(|t| t.total_us > 0)
                    .map(|t| format!("{} {} / {:.2}", t.operation, t.total_us, t.mean_us))
                    .collect()
            )
        );
    }
}

/// The shop's planted problems, by the operations they make slow (the
/// table in `demo-services/README.md`).
fn planted_problem_of(operation: &str) -> Option<u8> {
    Some(match operation {
        "gateway look_up" | "gateway GET catalog" | "gateway GET inventory" => 1,
        "inventory reserve" | "inventory GET /seats/{talk_id}" | "inventory write_audit_record" => {
            2
        }
        "pricing index_coupons" => 3,
        "payments charge" | "gateway charge" | "gateway POST payments" => 4,
        "pricing price" => 5,
        "catalog SELECT speakers" | "catalog SELECT prices" => 6,
        _ => return None,
    })
}

fn the_recordings_p99_owner_and_its_cause_are_named() {
    // The lab, its solution and their alternatives sit at different depths
    // of the workspace: look up from this crate for the recording.
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("labs/08-critical-paths-across-traces/recording"))
        .find(|folder| folder.is_dir())
        .expect("the lab's recording, in the workspace");
    let endpoint = Endpoint {
        service: "gateway".to_owned(),
        operation: "POST /orders".to_owned(),
    };
    let read = collector::recording::analyse(std::slice::from_ref(&folder), &endpoint)
        .expect("the lab's recording is readable");
    let analysis = read.aggregator.finish();
    let p99 = analysis.band("p99").expect("a p99 band");
    let owner = &p99.operations[0];
    let owner = format!("{} {}", owner.service, owner.operation);
    let named = lab08::P99_OWNER.trim();
    assert!(
        !named.is_empty(),
        "P99_OWNER is empty. Run `just crisp labs/08-critical-paths-across-traces/recording` \
         and write the operation that comes first in its p99 line, as \"service operation\". \
         (README step 3.)"
    );
    if named != owner {
        let band = p99
            .operations
            .iter()
            .position(|o| format!("{} {}", o.service, o.operation) == named);
        let why = match band {
            Some(1) => {
                "it is on the p99 band's critical path, but another operation owns more of it"
                    .to_owned()
            }
            Some(rank) => format!(
                "it is on the p99 band's critical path, but {rank} operations own more of it"
            ),
            None => "it is not on the critical path of the p99 band's traces".to_owned(),
        };
        panic!(
            "P99_OWNER is \"{named}\": {why}. The owner is the first operation of the p99 \
             line of `just crisp labs/08-critical-paths-across-traces/recording` (the mean \
             over all traces is another question: the tail is what this step asks about). \
             (README step 3.)"
        );
    }
    let cause = planted_problem_of(&owner).expect("the owner is one of the planted problems");
    assert!(
        lab08::PLANTED_PROBLEM == cause,
        "PLANTED_PROBLEM is {}, but that problem does not make `{owner}` slow. Read the \
         table of planted problems in demo-services/README.md: which one is in that \
         service's `{}`? (README step 3.)",
        lab08::PLANTED_PROBLEM,
        owner.split_once(' ').map_or("", |(_, name)| name)
    );
}
