//! What every face says about a run: the running totals and their summary
//! ([`Tally`]), durations for people ([`human`]), the JSON-lines event
//! stream ([`json`]), the signals that stop a run ([`signals`]), the checked
//! outputs every record goes through ([`sink`]), the files a run writes
//! ([`outputs`]) and what a finished task shows on the terminal
//! ([`results`]). The headless runner, the dashboard and the control CLI
//! all use this layer; none of them uses another face.

mod human;
pub mod json;
pub mod outputs;
pub mod postmortem;
pub mod record;
pub mod replay_read;
pub mod results;
pub mod signals;
pub mod sink;
mod tally;
pub mod trace;

pub use human::human;
pub use tally::{Tally, workers};
