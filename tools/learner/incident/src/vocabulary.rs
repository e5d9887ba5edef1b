//! `just incident --list`: the catalogue by the kind of each problem, and
//! the words an answer is made of; never the table of which service,
//! operation and cause make which problem, nor which were drawn.

use shop::{Cause, Problem};

use crate::answer::service_names;

/// The vocabulary, as printed.
pub fn text() -> String {
    let mut text = format!(
        "The catalogue holds {} problems; a drill plants one to three of them.\n\
         An answer names a problem by its service, an operation (a span's name in that \
         service), its cause, and evidence (a trace id, or `metric:SERVICE:NAME`).\n\n",
        Problem::ALL.len()
    );
    for (number, problem) in Problem::ALL.iter().enumerate() {
        text.push_str(&format!("  {:>2}. {}\n", number + 1, problem.title()));
    }
    text.push_str(&format!(
        "\nservices: {}\n\ncauses:\n",
        service_names().join(" ")
    ));
    let width = Cause::ALL.iter().map(|c| c.word().len()).max().unwrap_or(0);
    for cause in Cause::ALL {
        text.push_str(&format!(
            "  {:<width$}  {}\n",
            cause.word(),
            cause.meaning()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_names_every_service_and_cause_and_no_problem() {
        let text = text();
        for service in service_names() {
            assert!(text.contains(service), "{text}");
        }
        for cause in Cause::ALL {
            assert!(text.contains(cause.word()) && text.contains(cause.meaning()));
        }
        assert!(text.contains("12 problems"), "{text}");
        for problem in Problem::ALL {
            assert!(text.contains(problem.title()), "{text}");
        }
        for problem in Problem::ALL {
            assert!(!text.contains(problem.explanation()), "{text}");
            assert!(
                !problem.operations().iter().any(|op| text.contains(op)),
                "no operation is listed: {text}"
            );
        }
    }
}
