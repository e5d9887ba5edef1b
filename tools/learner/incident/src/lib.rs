//! `just incident`: the incident drill. The shop runs under load with one
//! to three problems drawn at random from the catalogue planted; the
//! learner finds each with the workshop's tools and names it, with
//! evidence, and is scored. The drill's state is kept in
//! `target/incident/drill.json`, so that each command is a process of its
//! own, run in another terminal.
//!
//! The logic is in the modules: the draw ([`draw`]), the state and its
//! scoring ([`state`]), an answer's judgement ([`answer`]) and its
//! evidence ([`evidence`]), the drill's run ([`run`]), what a learner does
//! during it ([`progress`]), and the words an answer is made of
//! ([`vocabulary`]).

pub mod answer;
pub mod draw;
pub mod evidence;
pub mod progress;
pub mod run;
pub mod signature;
pub mod state;
pub mod vocabulary;
