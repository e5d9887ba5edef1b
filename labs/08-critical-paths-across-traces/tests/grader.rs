//! The grader of lab 08. `just lab 8` runs it and explains each result.
//!
//! Your two functions are run on traces whose answers are known (built
//! here, span by span), then on hundreds of generated traces against a
//! straightforward reference written in this file, shrunk to the smallest
//! case that differs. Step 3's answer is checked against the workshop's own
//! analysis of the recording (`trace_analysis::aggregate`, the engine of `just
//! crisp`).
//!
//! Traces are laid out as a collector hands them over, not as they were
//! drawn: spans in any order (the root is never first in a hand-built
//! trace), a service's spans exported by one process or by two (two
//! instances of one service), process ids that say nothing of the service,
//! roots that link to another trace, spans whose parent was lost. Service
//! and operation names, the endpoint, ids, times and scales are drawn fresh
//! on each run (`grader_kit::scenario`): the endpoint is never `gateway`'s
//! by rule, nor in the first process.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use grader_kit::scenario::{self, Rng, distinct, word};
use lab08::{Operation, OperationTime, critical_path_by_operation, exclusive_time_by_operation};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
use trace_analysis::aggregate::Endpoint;
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{JaegerSpan, Process, RefType, Reference, Trace};

grader_kit::checks![
    each_section_counts_for_its_spans_operation,
    an_operation_is_its_service_and_name,
    means_count_every_trace_of_the_endpoint,
    only_traces_rooted_at_the_endpoint_count,
    generated_traces_agree_with_a_straightforward_reference,
    the_recordings_p99_owner_and_its_cause_are_named,
];

/// One span of a trace to build.
#[derive(Clone, Debug)]
struct Spec {
    id: String,
    /// The span it refers to; absent from the trace for an orphan (its
    /// parent was lost) or a root that links to another trace.
    parent: Option<String>,
    /// It follows from its parent (`FOLLOWS_FROM`: the parent does not wait
    /// for it) rather than being its child.
    follows: bool,
    service: String,
    /// Which of two processes of its service exported it.
    instance: usize,
    name: String,
    start: u64,
    end: u64,
}

/// A trace in Jaeger's shape, its spans in the order given. As in Jaeger's
/// answers, a span names its process (`p1`, `p2`, … in the order they
/// first appear), and the process names the service: two instances of one
/// service are two processes with the same service name.
fn build(trace_id: &str, specs: &[Spec]) -> Trace {
    let mut processes: BTreeMap<String, Process> = BTreeMap::new();
    let mut process_of: Vec<((String, usize), String)> = Vec::new();
    let mut spans = Vec::new();
    for spec in specs {
        let key = (spec.service.clone(), spec.instance);
        let process_id = match process_of.iter().find(|(k, _)| *k == key) {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", process_of.len() + 1);
                processes.insert(
                    id.clone(),
                    Process {
                        service_name: spec.service.clone(),
                        tags: Vec::new(),
                    },
                );
                process_of.push((key, id.clone()));
                id
            }
        };
        let references = spec
            .parent
            .iter()
            .map(|parent| Reference {
                ref_type: if spec.follows {
                    RefType::FollowsFrom
                } else {
                    RefType::ChildOf
                },
                trace_id: trace_id.to_owned(),
                span_id: parent.clone(),
            })
            .collect();
        spans.push(JaegerSpan {
            trace_id: trace_id.to_owned(),
            span_id: spec.id.clone(),
            operation_name: spec.name.clone(),
            references,
            start_time: spec.start,
            duration: spec.end - spec.start,
            process_id,
            tags: Vec::new(),
            logs: Vec::new(),
            flags: 1,
            warnings: None,
        });
    }
    Trace {
        trace_id: trace_id.to_owned(),
        spans,
        processes,
        warnings: None,
    }
}

/// A span of a hand-built trace: id, parent, service, name, start, end.
type Row<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, u64, u64);

/// A hand-built trace as a collector hands it over: times at `scale` µs
/// per unit from `offset`, random span ids, the spans in a random order
/// with the root never first, each span exported by one of its service's
/// two processes (the busiest service always by both), and `follows`
/// naming the rows that follow from their parent.
fn hand(
    rng: &mut Rng,
    trace_id: &str,
    rows: &[Row],
    follows: &[&str],
    scale: u64,
    offset: u64,
) -> Trace {
    let ids: HashMap<&str, String> = rows
        .iter()
        .map(|row| (row.0, format!("{:016x}", rng.u64(..))))
        .collect();
    let mut specs: Vec<Spec> = rows
        .iter()
        .map(|&(id, parent, service, name, start, end)| Spec {
            id: ids[id].clone(),
            parent: parent.map(|p| ids[p].clone()),
            follows: follows.contains(&id),
            service: service.to_owned(),
            instance: rng.usize(..2),
            name: name.to_owned(),
            start: offset + start * scale,
            end: offset + end * scale,
        })
        .collect();
    let mut by_service: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        by_service.entry(row.2).or_default().push(i);
    }
    if let Some(busiest) = by_service.values().max_by_key(|spans| spans.len())
        && busiest.len() > 1
    {
        let (first, last) = (busiest[0], busiest[busiest.len() - 1]);
        specs[last].instance = 1 - specs[first].instance;
    }
    rng.shuffle(&mut specs);
    if specs.len() > 1 && specs[0].parent.is_none() {
        let other = rng.usize(1..specs.len());
        specs.swap(0, other);
    }
    build(trace_id, &specs)
}

/// Gives the trace's root a link to a span of another trace (as OTLP links
/// arrive, a `FOLLOWS_FROM` reference to a span that is not here): it is
/// still the root.
fn link_root(rng: &mut Rng, trace: &mut Trace) {
    let ids: Vec<String> = trace.spans.iter().map(|s| s.span_id.clone()).collect();
    let root = trace
        .spans
        .iter_mut()
        .find(|s| s.references.iter().all(|r| !ids.contains(&r.span_id)))
        .expect("a root");
    root.references.push(Reference {
        ref_type: RefType::FollowsFrom,
        trace_id: format!("{:032x}", rng.u128(..)),
        span_id: format!("{:016x}", rng.u64(..)),
    });
}

/// Service names no constant can match.
fn services(rng: &mut Rng, count: usize) -> Vec<String> {
    distinct(rng, count, |r| {
        let len = r.usize(5..=9);
        word(r, len)
    })
}

/// Operation names: routes and plain function names.
fn operations(rng: &mut Rng, count: usize) -> Vec<String> {
    distinct(rng, count, |r| {
        let len = r.usize(4..=8);
        match r.usize(..3) {
            0 => format!("GET /{}", word(r, len)),
            1 => format!("POST /{}", word(r, len)),
            _ => word(r, len),
        }
    })
}

fn scale_and_offset(rng: &mut Rng) -> (u64, u64) {
    (
        rng.u64(1..=40),
        rng.u64(1_600_000_000_000_000..1_900_000_000_000_000),
    )
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
/// what was found and the property it breaks.
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
                "It has `{other}` instead: an operation's service is the service its span's \
                 process names. A process id is only a key into the trace's processes, and \
                 one service may run as several processes."
            )
        } else if found == owned(&durations(trace), operation) && found != 0 {
            "That is the whole duration of its spans: only the sections of the critical \
             path that belong to a span count (while a child on the path runs, the time is \
             the child's)."
                .to_owned()
        } else if found == 0 {
            "Each section of the trace's critical path names a span; the section's length \
             belongs to that span's operation."
                .to_owned()
        } else {
            "Every section of the critical path counts once, for its span's operation: a \
             span can own several sections, and an operation several spans."
                .to_owned()
        };
        panic!(
            "In the trace of {what}, `{operation}` owns {want} µs of the critical path, \
             but exclusive_time_by_operation gives {found} µs. {advice} (README step 1.)\n\
             The trace:\n{}",
            describe(std::slice::from_ref(trace))
        );
    }
    let total: u64 = got.values().sum();
    let root = trace.root().expect("a root").duration;
    assert!(
        total == root,
        "In the trace of {what}, the times add up to {total} µs, but the critical path \
         covers the root's {root} µs exactly once: something is counted twice, or an \
         operation is missing. (README step 1.)\nThe trace:\n{}",
        describe(std::slice::from_ref(trace))
    );
}

fn each_section_counts_for_its_spans_operation() {
    let mut rng = scenario::rng();
    let (s, o) = (services(&mut rng, 4), operations(&mut rng, 6));
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    let o: Vec<&str> = o.iter().map(String::as_str).collect();
    let (scale, offset) = scale_and_offset(&mut rng);
    // The root's service 0–100: three calls one after another, all on the
    // path, the root owning the gaps.
    let mut sequential = hand(
        &mut rng,
        "sequential",
        &[
            ("r", None, s[0], o[0], 0, 100),
            ("c", Some("r"), s[1], o[1], 10, 30),
            ("i", Some("r"), s[2], o[2], 30, 60),
            ("p", Some("r"), s[3], o[3], 70, 90),
        ],
        &[],
        scale,
        offset,
    );
    if rng.bool() {
        link_root(&mut rng, &mut sequential);
    }
    expect_owned(
        &sequential,
        "three calls one after another",
        &[
            (op(s[0], o[0]), 30 * scale),
            (op(s[1], o[1]), 20 * scale),
            (op(s[2], o[2]), 30 * scale),
            (op(s[3], o[3]), 20 * scale),
        ],
    );
    // The same three calls at once: only the last to finish is on the path;
    // inside it, its own database call owns its stretch.
    let concurrent = hand(
        &mut rng,
        "concurrent",
        &[
            ("r", None, s[0], o[0], 0, 200),
            ("c", Some("r"), s[1], o[1], 10, 50),
            ("i", Some("r"), s[2], o[2], 10, 170),
            ("d", Some("i"), s[2], o[4], 100, 160),
            ("p", Some("r"), s[3], o[3], 20, 90),
        ],
        &[],
        scale,
        offset,
    );
    expect_owned(
        &concurrent,
        "three calls at once, one with a call of its own",
        &[
            (op(s[0], o[0]), 40 * scale),
            (op(s[2], o[2]), 100 * scale),
            (op(s[2], o[4]), 60 * scale),
            (op(s[1], o[1]), 0),
            (op(s[3], o[3]), 0),
        ],
    );
    // A job the root starts and does not wait for (it follows from the
    // root), running past the root's end: it owns nothing.
    let detached = hand(
        &mut rng,
        "detached",
        &[
            ("r", None, s[0], o[0], 0, 100),
            ("a", Some("r"), s[1], o[1], 10, 40),
            ("j", Some("r"), s[3], o[5], 30, 150),
        ],
        &["j"],
        scale,
        offset,
    );
    expect_owned(
        &detached,
        "a call and a job the request does not wait for",
        &[
            (op(s[0], o[0]), 70 * scale),
            (op(s[1], o[1]), 30 * scale),
            (op(s[3], o[5]), 0),
        ],
    );
}

fn an_operation_is_its_service_and_name() {
    let mut rng = scenario::rng();
    let s = services(&mut rng, 2);
    let o = operations(&mut rng, 3);
    let (scale, offset) = scale_and_offset(&mut rng);
    let (front, back) = (s[0].as_str(), s[1].as_str());
    let (route, health, query) = (o[0].as_str(), o[1].as_str(), o[2].as_str());
    // Both services answer the same health check, and both have a span
    // named like the route; the back end asks its database three times, one
    // query after another (an N+1 ladder), from two instances of itself.
    let mut ladder = hand(
        &mut rng,
        "ladder",
        &[
            ("r", None, front, route, 0, 100),
            ("h1", Some("r"), back, health, 0, 5),
            ("c", Some("r"), back, route, 5, 95),
            ("q1", Some("c"), back, query, 10, 30),
            ("q2", Some("c"), back, query, 30, 50),
            ("q3", Some("c"), back, query, 50, 70),
            ("h2", Some("r"), front, health, 95, 97),
        ],
        &[],
        scale,
        offset,
    );
    if rng.bool() {
        link_root(&mut rng, &mut ladder);
    }
    expect_owned(
        &ladder,
        "an N+1 ladder of three queries",
        &[
            (op(back, query), 60 * scale),
            (op(back, health), 5 * scale),
            (op(front, health), 2 * scale),
            (op(back, route), 30 * scale),
            (op(front, route), 3 * scale),
        ],
    );
    let got = exclusive_time_by_operation(&ladder);
    let known: Vec<&str> = s.iter().map(String::as_str).collect();
    let strays: Vec<&Operation> = got
        .keys()
        .filter(|o| !known.contains(&o.service.as_str()) || o.name.is_empty())
        .collect();
    assert!(
        strays.is_empty(),
        "Every operation is a service of the trace and a span's name; these are not: \
         {strays:?} (the trace's services are {known:?}; a process id such as `p2` is not \
         a service). (README step 1.)"
    );
}

/// An order of the endpoint `names[0]`: `db` units on `names[1]`, then
/// `price` units on `names[2]` when it is some, in a root of 10 + db +
/// price + 10 units.
fn order(
    rng: &mut Rng,
    id: &str,
    names: &[Operation; 3],
    db: u64,
    price: Option<u64>,
    scale: u64,
) -> Trace {
    let price_units = price.unwrap_or(0);
    let end = 10 + db + price_units + 10;
    let [root, db_op, price_op] = names;
    let mut rows: Vec<Row> = vec![
        ("r", None, root.service.as_str(), root.name.as_str(), 0, end),
        (
            "d",
            Some("r"),
            db_op.service.as_str(),
            db_op.name.as_str(),
            10,
            10 + db,
        ),
    ];
    if price.is_some() {
        rows.push((
            "p",
            Some("r"),
            price_op.service.as_str(),
            price_op.name.as_str(),
            10 + db,
            10 + db + price_units,
        ));
    }
    let offset = rng.u64(1_600_000_000_000_000..1_900_000_000_000_000);
    hand(rng, id, &rows, &[], scale, offset)
}

fn find<'a>(times: &'a [OperationTime], operation: &Operation) -> Option<&'a OperationTime> {
    times.iter().find(|t| &t.operation == operation)
}

fn expect_mean(times: &[OperationTime], operation: &Operation, total: u64, mean: f64, why: &str) {
    let Some(found) = find(times, operation) else {
        panic!(
            "critical_path_by_operation has no entry for `{operation}`, which owns {total} µs \
             in total ({why}). It gave: {}. (README step 2.)",
            list(times)
        );
    };
    assert!(
        found.total_us == total,
        "`{operation}` owns {total} µs in total over the endpoint's traces ({why}); \
         critical_path_by_operation says {} µs. (README step 2.)",
        found.total_us
    );
    assert!(
        (found.mean_us - mean).abs() <= 1e-9 * mean.max(1.0),
        "`{operation}` has a mean of {mean} µs ({why}); critical_path_by_operation \
         says {} µs. (README step 2.)",
        found.mean_us
    );
}

fn list(times: &[OperationTime]) -> String {
    let rows: Vec<String> = times
        .iter()
        .map(|t| format!("{} {} / {:.2}", t.operation, t.total_us, t.mean_us))
        .collect();
    if rows.is_empty() {
        "nothing".to_owned()
    } else {
        rows.join(", ")
    }
}

/// Three operations of random services and names; the first is the
/// endpoint.
fn three_operations(rng: &mut Rng) -> [Operation; 3] {
    let s = services(rng, 3);
    let o = operations(rng, 3);
    [op(&s[0], &o[0]), op(&s[1], &o[1]), op(&s[2], &o[2])]
}

fn means_count_every_trace_of_the_endpoint() {
    let mut rng = scenario::rng();
    // Two sets, other figures: no constant passes both.
    for _ in 0..2 {
        let names = three_operations(&mut rng);
        let scale = rng.u64(1..=20);
        let count = rng.usize(3..=8);
        let mut traces = Vec::new();
        let (mut db_total, mut price_total, mut duration_total) = (0, 0, 0);
        for t in 0..count {
            let db = rng.u64(1..=500);
            // The second order never calls the third operation, the first
            // always does: its mean counts the orders without it as zero.
            let price = match t {
                0 => Some(rng.u64(1..=500)),
                1 => None,
                _ => rng.bool().then(|| rng.u64(1..=500)),
            };
            db_total += db * scale;
            price_total += price.unwrap_or(0) * scale;
            duration_total += (20 + db + price.unwrap_or(0)) * scale;
            traces.push(order(&mut rng, &format!("t{t}"), &names, db, price, scale));
        }
        rng.shuffle(&mut traces);
        let n = count as f64;
        let times = critical_path_by_operation(&traces, &names[0]);
        let without = traces.len() - traces.iter().filter(|t| t.spans.len() == 3).count();
        expect_mean(
            &times,
            &names[2],
            price_total,
            price_total as f64 / n,
            &format!(
                "{price_total} µs over {count} traces: the {without} that never called it count \
                 as zero, so that the means add up to the mean trace"
            ),
        );
        expect_mean(
            &times,
            &names[1],
            db_total,
            db_total as f64 / n,
            &format!("{db_total} µs over {count} traces"),
        );
        expect_mean(
            &times,
            &names[0],
            20 * scale * count as u64,
            20.0 * scale as f64,
            "its own stretches before and after its calls, in every trace",
        );
        let sum: f64 = times.iter().map(|t| t.mean_us).sum();
        let mean_duration = duration_total as f64 / n;
        assert!(
            (sum - mean_duration).abs() <= 1e-6 * mean_duration,
            "The operations' means add up to {sum} µs, but the mean trace of the endpoint \
             lasts {mean_duration} µs: every operation's mean is over all the endpoint's \
             traces, and every section belongs to one operation. It gave: {}. (README step \
             2.)",
            list(&times)
        );
    }
}

fn only_traces_rooted_at_the_endpoint_count() {
    let mut rng = scenario::rng();
    let names = three_operations(&mut rng);
    let endpoint = names[0].clone();
    // Another service and other names, none of the three operations'.
    let others = services(&mut rng, 4);
    let another_service = others
        .into_iter()
        .find(|s| names.iter().all(|n| n.service != *s))
        .expect("four services, one of them none of the three's");
    let more = operations(&mut rng, 5);
    let other_names: Vec<&String> = more
        .iter()
        .filter(|o| names.iter().all(|n| n.name != **o))
        .collect();
    let (another_name, outer_name) = (other_names[0], other_names[1]);
    let scale = rng.u64(1..=20);

    let mut traces = Vec::new();
    let count = rng.usize(1..=4);
    let mut db_total = 0;
    for t in 0..count {
        let db = rng.u64(1..=500);
        db_total += db * scale;
        let price = rng.u64(1..=500);
        let mut trace = order(&mut rng, &format!("o{t}"), &names, db, Some(price), scale);
        // The first order's root links to another trace: still its root.
        if t == 0 || rng.bool() {
            link_root(&mut rng, &mut trace);
        }
        traces.push(trace);
    }
    // The endpoint's name in another service: another endpoint.
    let renamed = [
        op(&another_service, &endpoint.name),
        names[1].clone(),
        names[2].clone(),
    ];
    traces.push(order(
        &mut rng,
        "same-name",
        &renamed,
        1_000,
        Some(1_000),
        scale,
    ));
    // Another name in the endpoint's service: another endpoint.
    let renamed = [
        op(&endpoint.service, another_name),
        names[1].clone(),
        names[2].clone(),
    ];
    traces.push(order(
        &mut rng,
        "same-service",
        &renamed,
        1_000,
        Some(1_000),
        scale,
    ));
    // The endpoint, but not at the root: a retry inside another request
    // does not make that request one of the endpoint's.
    let offset = rng.u64(1_600_000_000_000_000..1_900_000_000_000_000);
    traces.push(hand(
        &mut rng,
        "nested",
        &[
            (
                "r",
                None,
                endpoint.service.as_str(),
                outer_name.as_str(),
                0,
                5_000,
            ),
            (
                "o",
                Some("r"),
                endpoint.service.as_str(),
                endpoint.name.as_str(),
                100,
                4_900,
            ),
            (
                "d",
                Some("o"),
                names[1].service.as_str(),
                names[1].name.as_str(),
                200,
                4_000,
            ),
        ],
        &[],
        scale,
        offset,
    ));
    // The endpoint's operation in a span whose parent was lost, listed
    // first, in a trace whose root (the earliest span without a parent
    // here) is another operation.
    let mut orphaned = build(
        "orphaned",
        &[
            Spec {
                id: "0000000000000002".to_owned(),
                parent: Some("00000000000000ff".to_owned()),
                follows: false,
                service: endpoint.service.clone(),
                instance: 0,
                name: endpoint.name.clone(),
                start: offset + 500,
                end: offset + 900,
            },
            Spec {
                id: "0000000000000001".to_owned(),
                parent: None,
                follows: false,
                service: another_service.clone(),
                instance: 0,
                name: outer_name.clone(),
                start: offset,
                end: offset + 1_000,
            },
        ],
    );
    orphaned.trace_id = format!("{:032x}", rng.u128(..));
    traces.push(orphaned);
    rng.shuffle(&mut traces);

    let times = critical_path_by_operation(&traces, &endpoint);
    expect_mean(
        &times,
        &names[1],
        db_total,
        db_total as f64 / count as f64,
        &format!(
            "only the {count} traces whose root span is `{endpoint}` count: not a trace \
             rooted at the same name in another service, or at another name in the same \
             service, or where `{endpoint}` is not the root, or is a span whose parent was \
             lost; and a root that links to another trace is still the root"
        ),
    );
    for decoy in [
        op(&another_service, &endpoint.name),
        op(&endpoint.service, another_name),
        op(&endpoint.service, outer_name),
        op(&another_service, outer_name),
    ] {
        assert!(
            find(&times, &decoy).is_none(),
            "`{decoy}` is in the answer, but it is only in traces whose root is not \
             `{endpoint}`: none of their spans count. It gave: {}. (README step 2.)",
            list(&times)
        );
    }
    let nobody = op(&endpoint.service, &format!("DELETE /{}", word(&mut rng, 6)));
    let none = critical_path_by_operation(&traces, &nobody);
    assert!(
        none.is_empty(),
        "No trace has `{nobody}` as its root, yet the answer has {} operations: {}. \
         (README step 2.)",
        none.len(),
        list(&none)
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

/// A span of a generated trace, before its trace is built.
#[derive(Clone, Debug)]
struct Generated(Spec);

/// Sets of 1 to 5 traces of 1 to 12 spans, from these services and names.
/// Each span hangs under an earlier one, at times that overlap, nest,
/// overflow their parent or lie outside it, as real traces do; now and then
/// a span follows from its parent instead, or has lost its parent; the
/// root is the endpoint, or another operation, and sometimes links to
/// another trace; the spans are then listed in a random order, each
/// exported by one of two processes of its service.
fn traces(
    services: Vec<String>,
    names: Vec<String>,
    endpoint: Operation,
) -> impl Strategy<Value = Vec<Trace>> {
    let span = (
        any::<prop::sample::Index>(),
        0..services.len(),
        0..names.len(),
        0..120u64,
        0..120u64,
        0..2usize,
        0..12u8,
    );
    let one = prop::collection::vec(span, 1..12)
        .prop_map(move |spans| {
            spans
                .iter()
                .enumerate()
                .map(
                    |(i, &(parent, service, name, start, length, instance, kind))| {
                        let (service, name, start, end) = if i > 0 {
                            (
                                services[service].clone(),
                                names[name].clone(),
                                start,
                                start + length,
                            )
                        } else if kind < 8 {
                            (
                                endpoint.service.clone(),
                                endpoint.name.clone(),
                                0,
                                40 + length,
                            )
                        } else {
                            (
                                services[service].clone(),
                                names[name].clone(),
                                0,
                                40 + length,
                            )
                        };
                        let (parent, follows) = match (i, kind) {
                            // A root that links to a span of another trace.
                            (0, 0 | 8) => (Some("elsewhere".to_owned()), true),
                            (0, _) => (None, false),
                            // A span whose parent was lost.
                            (_, 0) => (Some(format!("lost{i}")), false),
                            (_, 1) => (Some(format!("s{}", parent.index(i))), true),
                            _ => (Some(format!("s{}", parent.index(i))), false),
                        };
                        Generated(Spec {
                            id: format!("s{i}"),
                            parent,
                            follows,
                            service,
                            instance,
                            name,
                            start,
                            end,
                        })
                    },
                )
                .collect::<Vec<_>>()
        })
        .prop_shuffle();
    prop::collection::vec(one, 1..6).prop_map(|set| {
        set.iter()
            .enumerate()
            .map(|(t, spans)| {
                let specs: Vec<Spec> = spans.iter().map(|g| g.0.clone()).collect();
                build(&format!("t{t}"), &specs)
            })
            .collect()
    })
}

fn describe(traces: &[Trace]) -> String {
    let mut out = String::new();
    for trace in traces {
        out.push_str(&format!("  trace {}:\n", trace.trace_id));
        for span in &trace.spans {
            let parent = span.references.first().map_or("-".to_owned(), |r| {
                let how = match r.ref_type {
                    RefType::ChildOf => "child of",
                    RefType::FollowsFrom => "follows",
                };
                format!("{how} {}", r.span_id)
            });
            out.push_str(&format!(
                "    {} ({parent}) {} [process {}] {} {}–{} µs\n",
                span.span_id,
                trace.service_of(span),
                span.process_id,
                span.operation_name,
                span.start_time,
                span.start_time + span.duration
            ));
        }
    }
    out
}

fn generated_traces_agree_with_a_straightforward_reference() {
    let mut rng = scenario::rng();
    let services = services(&mut rng, 3);
    let names = operations(&mut rng, 3);
    let endpoint = op(
        &services[rng.usize(..services.len())],
        &names[rng.usize(..names.len())],
    );
    let config = Config {
        cases: 300,
        failure_persistence: None,
        // The scenario's seed decides the cases too, so that the printed
        // seed replays them.
        rng_seed: RngSeed::Fixed(rng.u64(..)),
        ..Config::default()
    };
    let strategy = traces(services, names, endpoint.clone());
    let result = TestRunner::new(config).run(&strategy, |traces| {
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
             case found (spans in the order the trace lists them):\n{}\nThe reference \
             (total µs / mean µs): {}\nYours: {}\nWork this case by hand: which span is \
             each trace's root (the earliest span without a parent in the trace, not always \
             the first listed), which traces are `{endpoint}`'s, whose is each stretch of \
             their critical paths, and how many traces does each mean count? The first \
             question where your answer and the reference's differ names what breaks. \
             (README steps 1 and 2; `just hint 8`.)",
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
    let read = trace_analysis::recording::analyse(std::slice::from_ref(&folder), &endpoint)
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
