//! Usage figures of a container cgroup, for `events --stats` and, later, `berth stats`:
//! CPU time, memory usage and limit, pids — read from v1 or v2 files alike.

use std::path::Path;

use crate::{Layout, Manager};

/// What a container uses right now. Absent files give 0 (or `None` for limits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Total CPU time, nanoseconds.
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    /// `None`: unlimited.
    pub memory_limit: Option<u64>,
    pub pids_current: u64,
    /// `None`: unlimited.
    pub pids_limit: Option<u64>,
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn num(p: &Path) -> u64 {
    read(p).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// A limit: "max" (v2) or a huge v1 value (page-rounded i64::MAX) means none.
fn limit(p: &Path) -> Option<u64> {
    let s = read(p)?;
    let v: u64 = s.trim().parse().ok()?;
    (v < (1u64 << 62)).then_some(v)
}

fn keyed(p: &Path, key: &str) -> u64 {
    read(p).and_then(|s| crate::resources::keyed_value(&s, key)).unwrap_or(0)
}

impl Manager {
    /// Current usage of the container's cgroup.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        let v2 = self.layout() == Layout::V2;
        if v2 || self.path("cpuacct").is_none() {
            if let Some(d) = self.path("cpu").or_else(|| self.path("")) {
                let f = d.join("cpu.stat");
                s.cpu_total_ns = keyed(&f, "usage_usec") * 1000;
                s.cpu_user_ns = keyed(&f, "user_usec") * 1000;
                s.cpu_system_ns = keyed(&f, "system_usec") * 1000;
            }
        } else if let Some(d) = self.path("cpuacct") {
            // cpuacct.stat counts USER_HZ ticks (100 per second).
            s.cpu_total_ns = num(&d.join("cpuacct.usage"));
            s.cpu_user_ns = keyed(&d.join("cpuacct.stat"), "user") * 10_000_000;
            s.cpu_system_ns = keyed(&d.join("cpuacct.stat"), "system") * 10_000_000;
        }
        if let Some(d) = self.path("memory") {
            if d.join("memory.usage_in_bytes").exists() {
                s.memory_usage = num(&d.join("memory.usage_in_bytes"));
                s.memory_max_usage = num(&d.join("memory.max_usage_in_bytes"));
                s.memory_limit = limit(&d.join("memory.limit_in_bytes"));
            } else {
                s.memory_usage = num(&d.join("memory.current"));
                s.memory_max_usage = num(&d.join("memory.peak"));
                s.memory_limit = limit(&d.join("memory.max"));
            }
        }
        if let Some(d) = self.path("pids") {
            s.pids_current = num(&d.join("pids.current"));
            s.pids_limit = limit(&d.join("pids.max"));
        }
        s
    }
}
