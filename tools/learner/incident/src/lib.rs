//! `just incident`: the incident drill. The shop runs under load with one
//! to three problems drawn at random from the catalogue planted; the
//! learner finds each with the workshop's tools and names it, with
//! evidence, and is scored. The drill's state is kept in
//! `target/incident/drill.json`, so that each command is a process of its
//! own, run in another terminal.
//!
//! The logic is in the modules: the draw ([`draw`]), the state and its
//! scoring ([`state`]), an answer's judgement ([`answer`]) and its
//! evidence ([`evidence`]) and what a trace must show for each problem
//! ([`signature`]), the drill's run ([`run`]) on a running shop with
//! problems planted ([`scenario`]) and the traces it saves
//! ([`recording`]), what a learner does during it ([`progress`]), the
//! words an answer is made of ([`vocabulary`]), predict, then prove: a
//! prediction and its grade ([`prediction`]), a fix measured in pairs on
//! an open loop ([`measure`]) and `fix`, which measures each prediction
//! so ([`fix`]), the scripted detective that proves every problem can be
//! found with the public tools ([`detective`]), and the room, where the
//! instructor's machine runs one drill per learner and each learner holds
//! only an address and a key ([`room`]).

pub mod answer;
pub mod detective;
pub mod draw;
pub mod evidence;
pub mod fix;
pub mod measure;
pub mod prediction;
pub mod progress;
pub mod recording;
pub mod room;
pub mod run;
pub mod scenario;
pub mod signature;
pub mod state;
pub mod vocabulary;
