//! One module per subcommand of the CLI.

pub mod grade_all;
pub mod hint;
pub mod lab;
pub mod list;
pub mod mutants;
pub mod profile;
pub mod reset;
pub mod setup;
pub mod solution;
pub mod verify;
pub mod watch;
