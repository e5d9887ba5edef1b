//! CRISP's own output, read back, to check [`crate::aggregate`] against the
//! reference implementation run on the same traces.
//!
//! CRISP writes its calling-context trees as `.cct` files, folded stacks
//! with a count: `[service] op;[service] op mean_µs <<occurrences>>`. Its
//! `flame-graph-P100.cct` is the mean exclusive critical-path time per
//! trace of each calling context over all traces: the same figure as
//! [`crate::aggregate::Analysis::contexts`]' `mean_critical_path_us`.

use std::collections::BTreeMap;

use crate::aggregate::Analysis;

/// CRISP floors each mean to whole microseconds; beyond that, the two may
/// differ where their definitions do (see this crate's README): by at
/// most this share of the mean trace duration.
pub const TOLERANCE_OF_MEAN_DURATION: f64 = 1e-4;

/// Reads a `.cct` file's text: each calling context as `service op`
/// frames, with its mean in microseconds.
pub fn parse_cct(text: &str) -> anyhow::Result<Vec<(Vec<String>, f64)>> {
    use anyhow::Context as _;
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let without_count = line.rsplit_once(" <<").map_or(line, |(head, _)| head);
            let (stack, value) = without_count
                .rsplit_once(' ')
                .with_context(|| format!("not a CCT line: {line:?}"))?;
            let value: f64 = value
                .parse()
                .with_context(|| format!("no time at the end of {line:?}"))?;
            let path = stack
                .split(';')
                .map(
                    |frame| match frame.strip_prefix('[').and_then(|f| f.split_once("] ")) {
                        Some((service, operation)) => format!("{service} {operation}"),
                        None => frame.to_owned(),
                    },
                )
                .collect();
            Ok((path, value))
        })
        .collect()
}

/// One calling context or operation, ours beside CRISP's.
#[derive(Debug)]
pub struct Row {
    pub name: String,
    pub ours_us: f64,
    pub crisp_us: f64,
}

impl Row {
    pub fn difference(&self) -> f64 {
        self.ours_us - self.crisp_us
    }
}

/// An analysis beside CRISP's calling-context tree of the same traces.
#[derive(Debug)]
pub struct Agreement {
    /// Per calling context, CRISP's largest first.
    pub contexts: Vec<Row>,
    /// Per operation (the contexts that end in it, added up).
    pub operations: Vec<Row>,
    pub tolerance_us: f64,
}

impl Agreement {
    pub fn of(analysis: &Analysis, crisp: &[(Vec<String>, f64)]) -> Self {
        // Ours in the frames' folded spelling (`;` becomes `_`, as CRISP
        // writes them too).
        let ours: Vec<(Vec<String>, f64)> = analysis
            .contexts
            .iter()
            .map(|c| {
                let path = c.path.iter().map(|f| f.replace(';', "_")).collect();
                (path, c.mean_critical_path_us)
            })
            .collect();
        let rows = |key: &dyn Fn(&Vec<String>) -> String| {
            let mut both: BTreeMap<String, (f64, f64)> = BTreeMap::new();
            for (path, mean) in &ours {
                both.entry(key(path)).or_default().0 += mean;
            }
            for (path, mean) in crisp {
                both.entry(key(path)).or_default().1 += mean;
            }
            let mut rows: Vec<Row> = both
                .into_iter()
                .map(|(name, (ours_us, crisp_us))| Row {
                    name,
                    ours_us,
                    crisp_us,
                })
                .collect();
            rows.sort_by(|a, b| b.crisp_us.total_cmp(&a.crisp_us));
            rows
        };
        Self {
            contexts: rows(&|path| path.join(" > ")),
            operations: rows(&|path| path.last().cloned().unwrap_or_default()),
            tolerance_us: 1.0 + TOLERANCE_OF_MEAN_DURATION * analysis.mean_duration_us,
        }
    }

    pub fn largest_difference_us(&self) -> f64 {
        self.contexts
            .iter()
            .chain(&self.operations)
            .map(|row| row.difference().abs())
            .fold(0.0, f64::max)
    }

    pub fn agrees(&self) -> bool {
        self.largest_difference_us() <= self.tolerance_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cct_line_becomes_a_path_and_a_mean() {
        let cct = "[gateway] POST /orders;[inventory] GET /seats/{id} 75508 <<1989>>\n\
                   [gateway] POST /orders 276 <<1000>>\n";
        let parsed = parse_cct(cct).unwrap();
        assert_eq!(
            parsed,
            [
                (
                    vec![
                        "gateway POST /orders".to_owned(),
                        "inventory GET /seats/{id}".to_owned()
                    ],
                    75508.0
                ),
                (vec!["gateway POST /orders".to_owned()], 276.0)
            ]
        );
    }

    #[test]
    fn a_line_without_a_time_is_an_error() {
        assert!(parse_cct("[gateway] POST /orders\n").is_err());
    }
}
