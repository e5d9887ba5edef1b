//! Outcomes, and the level each sink gives them.

use serde::Serialize;
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did what it was for.
    Success,
    /// It could not, for a reason it expected and handled: a declined card,
    /// a sold-out talk.
    Failure,
    /// It could not, for a reason it did not handle: an error returned with
    /// `?`, a panic.
    Exception,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Exception];

    /// The one-letter mark of the human format.
    pub fn letter(self) -> char {
        match self {
            Outcome::Success => 'S',
            Outcome::Failure => 'F',
            Outcome::Exception => 'E',
        }
    }

    pub fn from_letter(letter: char) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.letter() == letter)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Exception => "exception",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The level of an action's record, by outcome, and the least level a sink
/// writes: lithoxyl's SensibleFilter. The default logs successes at DEBUG,
/// failures at INFO and exceptions at ERROR, and writes INFO and above, so a
/// healthy service is quiet and a troubled one says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Levels {
    pub success: Level,
    pub failure: Level,
    pub exception: Level,
    /// Records below this level are not written.
    pub threshold: LevelFilter,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            success: Level::DEBUG,
            failure: Level::INFO,
            exception: Level::ERROR,
            threshold: LevelFilter::INFO,
        }
    }
}

impl Levels {
    /// Every record written, whatever its outcome.
    pub fn everything() -> Self {
        Self {
            threshold: LevelFilter::TRACE,
            ..Self::default()
        }
    }

    pub fn level(&self, outcome: Outcome) -> Level {
        match outcome {
            Outcome::Success => self.success,
            Outcome::Failure => self.failure,
            Outcome::Exception => self.exception,
        }
    }

    /// Whether a record of this outcome is written.
    pub fn writes(&self, outcome: Outcome) -> bool {
        self.threshold >= self.level(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_service_writes_only_what_went_wrong() {
        let levels = Levels::default();
        assert!(!levels.writes(Outcome::Success));
        assert!(levels.writes(Outcome::Failure));
        assert!(levels.writes(Outcome::Exception));
        assert!(Levels::everything().writes(Outcome::Success));
    }

    #[test]
    fn letters_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_letter(outcome.letter()), Some(outcome));
        }
    }
}
