//! Live lists: refreshing watchlists from their sources into a versioned cache
//! ([`refresh`]) and what changed between two snapshots ([`diff`]).

pub mod diff;
pub mod refresh;
