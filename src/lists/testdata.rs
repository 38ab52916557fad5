//! Locating the shared real list files for tests (never copied into the repository).
//!
//! Order: the `AML_SHARED_DATA` environment variable (pointing at the `watchlists` folder), then
//! `$CARGO_MANIFEST_DIR/../shared/data/watchlists`. Tests that need the files call
//! [`shared_watchlists_dir`] and return early when it is `None`; the function prints a loud line
//! to stderr so a skipped test is never mistaken for a passing one.

use std::path::PathBuf;

/// The shared `watchlists` folder, or `None` (with a loud message on stderr) when it is absent.
pub fn shared_watchlists_dir() -> Option<PathBuf> {
    let from_env = std::env::var_os("AML_SHARED_DATA").map(PathBuf::from);
    let beside_repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/watchlists"));
    let candidates: Vec<PathBuf> = from_env.into_iter().chain(std::iter::once(beside_repo)).collect();
    if let Some(found) = candidates.iter().find(|p| p.is_dir()) {
        return Some(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "SKIPPED: shared watchlists not found at {}; set AML_SHARED_DATA to the `watchlists` folder",
        tried.join(" or ")
    );
    None
}

/// A file or folder under the shared `watchlists` folder, or `None` (loudly) when absent.
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    let p = shared_watchlists_dir()?.join(relative);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: shared list `{}` not found", p.display());
        None
    }
}
