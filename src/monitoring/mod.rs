//! Live lists and monitoring: refreshing watchlists from their sources into a versioned cache
//! ([`refresh`]), what changed between two snapshots ([`diff`]), re-screening monitored
//! subjects against those changes ([`rescreen`]), and the cycle that ties them together on a
//! schedule or on demand ([`cycle`]).

pub mod cycle;
pub mod diff;
pub mod refresh;
pub mod rescreen;

pub use cycle::{CycleReport, run_cycle, schedule};
