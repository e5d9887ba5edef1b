//! Results for machines: `grades.json` and `junit.xml` under
//! `target/workshop/` (build output, made again by every `just grade`), for
//! CI and grading robots.
//! In JUnit terms a lab is a test suite and a check is a test case.

use std::path::Path;

use anyhow::{Context, Result};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;

use crate::grade::{CheckStatus, LabReport};

#[derive(Serialize)]
pub struct Gradebook<'a> {
    pub passed: bool,
    pub points: u32,
    pub max_points: u32,
    pub labs: &'a [LabReport],
}

impl<'a> Gradebook<'a> {
    pub fn new(labs: &'a [LabReport]) -> Self {
        Self {
            passed: labs.iter().all(LabReport::passed),
            points: labs.iter().map(|l| l.points).sum(),
            max_points: labs.iter().map(|l| l.max_points).sum(),
            labs,
        }
    }
}

pub fn write_json(path: &Path, gradebook: &Gradebook<'_>) -> Result<()> {
    crate::store::write_json(path, gradebook)
}

pub fn write_junit(path: &Path, labs: &[LabReport]) -> Result<()> {
    let xml = junit_xml(labs)?;
    std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))
}

fn junit_xml(labs: &[LabReport]) -> Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let total_tests: usize = labs.iter().map(|l| l.checks.len()).sum();
    let total_failures: usize = labs.iter().map(failures).sum();
    let total_errors: usize = labs.iter().map(errors).sum();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "workshop"));
    root.push_attribute(("tests", total_tests.to_string().as_str()));
    root.push_attribute(("failures", total_failures.to_string().as_str()));
    root.push_attribute(("errors", total_errors.to_string().as_str()));
    w.write_event(Event::Start(root))?;
    for lab in labs {
        let suite_name = format!("lab{:02}-{}", lab.number, lab.slug);
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", suite_name.as_str()));
        suite.push_attribute(("tests", lab.checks.len().to_string().as_str()));
        suite.push_attribute(("failures", failures(lab).to_string().as_str()));
        suite.push_attribute(("errors", errors(lab).to_string().as_str()));
        suite.push_attribute(("time", seconds(lab.duration_ms).as_str()));
        w.write_event(Event::Start(suite))?;
        if let Some(error) = &lab.compile_error {
            write_text_element(&mut w, "system-err", error)?;
        }
        for check in &lab.checks {
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("name", check.name.as_str()));
            case.push_attribute(("classname", suite_name.as_str()));
            case.push_attribute(("time", seconds(check.duration_ms).as_str()));
            let element = match check.status {
                CheckStatus::Passed => None,
                CheckStatus::Disturbed => Some("skipped"),
                CheckStatus::NotRun | CheckStatus::Missing | CheckStatus::Crashed => Some("error"),
                CheckStatus::Failed | CheckStatus::Panicked | CheckStatus::TimedOut => {
                    Some("failure")
                }
            };
            if element.is_none() && check.measurement.is_none() {
                w.write_event(Event::Empty(case))?;
                continue;
            }
            w.write_event(Event::Start(case))?;
            if let Some(element) = element {
                let mut message = check.message.clone().unwrap_or_default();
                let headline = message.lines().next().unwrap_or_default().to_owned();
                if let Some(evidence) = &check.evidence {
                    message = format!("{message}\n{}:\n{}", evidence.title, evidence.text);
                }
                let mut tag = BytesStart::new(element);
                tag.push_attribute(("message", headline.as_str()));
                tag.push_attribute(("type", status_name(check.status)));
                w.write_event(Event::Start(tag))?;
                w.write_event(Event::Text(BytesText::new(&message)))?;
                w.write_event(Event::End(BytesEnd::new(element)))?;
            }
            // What a check measured, as JUnit readers show a case's output.
            if let Some(measurement) = &check.measurement {
                write_text_element(&mut w, "system-out", &measurement.summary)?;
            }
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    Ok(String::from_utf8(w.into_inner())? + "\n")
}

fn write_text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

fn failures(lab: &LabReport) -> usize {
    lab.checks
        .iter()
        .filter(|c| {
            matches!(
                c.status,
                CheckStatus::Failed | CheckStatus::Panicked | CheckStatus::TimedOut
            )
        })
        .count()
}

fn errors(lab: &LabReport) -> usize {
    lab.checks
        .iter()
        .filter(|c| {
            matches!(
                c.status,
                CheckStatus::NotRun | CheckStatus::Missing | CheckStatus::Crashed
            )
        })
        .count()
}

fn status_name(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Passed => "passed",
        CheckStatus::Failed => "failed",
        CheckStatus::Panicked => "panicked",
        CheckStatus::TimedOut => "timed_out",
        CheckStatus::Disturbed => "disturbed",
        CheckStatus::Crashed => "crashed",
        CheckStatus::Missing => "missing",
        CheckStatus::NotRun => "not_run",
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::{CheckGrade, LabStatus};

    fn lab(status: LabStatus, checks: Vec<(CheckStatus, Option<&str>)>) -> LabReport {
        LabReport {
            number: 1,
            slug: "first-spans".to_owned(),
            title: "First spans".to_owned(),
            status,
            points: 0,
            max_points: 2,
            duration_ms: 1500,
            checks: checks
                .into_iter()
                .enumerate()
                .map(|(i, (status, message))| CheckGrade {
                    name: format!("check_{i}"),
                    status,
                    points: 0,
                    max_points: 1,
                    duration_ms: 12,
                    message: message.map(str::to_owned),
                    measurement: None,
                    evidence: None,
                    output: String::new(),
                })
                .collect(),
            compile_error: None,
            tampered: Vec::new(),
        }
    }

    #[test]
    fn junit_shows_a_measurement_as_the_case_output() {
        let mut lab = lab(LabStatus::Passed, vec![(CheckStatus::Passed, None)]);
        lab.checks[0].measurement = Some(grader_protocol::Measurement {
            summary: "your loop: 1.20x the cost of the uninstrumented one".to_owned(),
            value: 1.2,
            target: 2.0,
        });
        let xml = junit_xml(&[lab]).expect("xml");
        assert!(
            xml.contains(
                "<system-out>your loop: 1.20x the cost of the uninstrumented one</system-out>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn junit_has_a_suite_per_lab_and_a_case_per_check() {
        let xml = junit_xml(&[lab(
            LabStatus::Failing,
            vec![
                (CheckStatus::Passed, None),
                (
                    CheckStatus::Failed,
                    Some("Add a span <here> & \"there\"\nmore"),
                ),
            ],
        )])
        .unwrap();
        assert!(xml.contains(r#"<testsuites name="workshop" tests="2" failures="1" errors="0">"#));
        assert!(xml.contains(
            r#"<testsuite name="lab01-first-spans" tests="2" failures="1" errors="0" time="1.500">"#
        ));
        assert!(
            xml.contains(
                r#"<testcase name="check_0" classname="lab01-first-spans" time="0.012"/>"#
            )
        );
        assert!(xml.contains(
            r#"<failure message="Add a span &lt;here&gt; &amp; &quot;there&quot;" type="failed">"#
        ));
    }

    #[test]
    fn checks_that_did_not_run_are_errors() {
        let xml = junit_xml(&[lab(
            LabStatus::Tampered,
            vec![(CheckStatus::NotRun, Some("not run: the grader was edited"))],
        )])
        .unwrap();
        assert!(xml.contains(r#"errors="1""#));
        assert!(xml.contains(r#"<error message="not run: the grader was edited" type="not_run">"#));
    }

    #[test]
    fn gradebook_passes_only_when_every_lab_passes() {
        let labs = [
            lab(LabStatus::Passed, vec![(CheckStatus::Passed, None)]),
            lab(LabStatus::Failing, vec![(CheckStatus::Failed, Some("x"))]),
        ];
        assert!(!Gradebook::new(&labs).passed);
        assert!(Gradebook::new(&labs[..1]).passed);
    }
}
