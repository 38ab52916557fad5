//! CPU time of a process from /proc (Linux), shared by the load tools.

use std::time::Duration;

/// utime + stime of a process (`"self"` or a pid), from `/proc/<pid>/stat`.
pub fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// The whole machine's CPU ticks from `/proc/stat`: (total, idle + iowait, steal).
pub fn machine_ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total = f.iter().take(8).sum();
    Some((total, f.get(3)? + f.get(4)?, *f.get(7)?))
}

/// Shares of the machine's CPU that were idle and stolen (by the hypervisor) between two
/// [`machine_ticks`] readings.
pub fn idle_and_steal(before: (u64, u64, u64), after: (u64, u64, u64)) -> (f64, f64) {
    let total = after.0.saturating_sub(before.0).max(1) as f64;
    (after.1.saturating_sub(before.1) as f64 / total, after.2.saturating_sub(before.2) as f64 / total)
}
