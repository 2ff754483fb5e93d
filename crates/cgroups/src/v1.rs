//! Writing resources to cgroup v1 controller directories, as runc's fs driver does.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::fs::{exists, read, write, write_if_exists};
use crate::layout::Kind;
use crate::resources::{self, throttles};
use crate::{Error, Result};

/// A new v1 cpuset cgroup starts with empty `cpuset.cpus`/`cpuset.mems` and refuses tasks (and
/// children whose values are not a subset of its own): fill every empty level from the
/// hierarchy root `hroot` down to `dir` from its parent, top-down. A parent that another berth
/// made a moment ago may still be empty; filling it with the same value its maker is about to
/// write is harmless, and waiting for it would not be.
pub(crate) fn init_cpuset(hroot: &Path, dir: &Path) -> Result<()> {
    let Ok(below) = dir.strip_prefix(hroot) else {
        return Err(Error::Invalid(format!("{} is not under {}", dir.display(), hroot.display())));
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mut parent_value = read(&hroot.join(file))?.trim().to_string();
        let mut level = hroot.to_path_buf();
        for part in below.components() {
            level.push(part);
            let f = level.join(file);
            let own = read(&f)?.trim().to_string();
            if own.is_empty() {
                if parent_value.is_empty() {
                    return Err(Error::Invalid(format!("{} is empty", hroot.join(file).display())));
                }
                write(&f, &parent_value)?;
            } else {
                parent_value = own;
            }
        }
    }
    Ok(())
}

/// Applies the part of `res` that belongs to `kind` in the v1 directory `dir`.
pub(crate) fn apply(dir: &Path, kind: Kind, res: &LinuxResources, warnings: &mut Vec<String>) -> Result<()> {
    match kind {
        Kind::Cpuset => {
            if let Some(c) = res.cpu() {
                cpuset(dir, c)?;
            }
        }
        Kind::Memory => {
            if let Some(m) = res.memory() {
                memory(dir, m, warnings)?;
            }
        }
        Kind::Cpu => {
            if let Some(c) = res.cpu() {
                cpu(dir, c)?;
            }
        }
        Kind::Pids => {
            if let Some(p) = res.pids() {
                let v = if p.limit() > 0 { p.limit().to_string() } else { "max".to_string() };
                write(&dir.join("pids.max"), &v)?;
            }
        }
        Kind::Io => {
            if let Some(b) = res.block_io() {
                blkio(dir, b, warnings)?;
            }
        }
        Kind::Hugetlb => {
            for l in res.hugepage_limits().as_deref().unwrap_or(&[]) {
                let size = resources::page_size(l.page_size())?;
                let v = l.limit().to_string();
                write(&dir.join(format!("hugetlb.{size}.limit_in_bytes")), &v)?;
                write_if_exists(&dir.join(format!("hugetlb.{size}.rsvd.limit_in_bytes")), &v)?;
            }
        }
        Kind::Devices => {
            let rules = res.devices().as_deref().unwrap_or(&[]);
            for (file, line) in resources::v1_device_writes(rules)? {
                write(&dir.join(file), &line)?;
            }
        }
    }
    Ok(())
}

fn cpuset(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        write(&dir.join("cpuset.cpus"), cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        write(&dir.join("cpuset.mems"), mems)?;
    }
    Ok(())
}

/// Memory limit and memory+swap limit: the kernel requires memsw ≥ limit at all times, so when
/// the new memsw is below the current limit the limit is written first (shrinking), otherwise
/// memsw first (growing) — runc's order.
fn memory(dir: &Path, m: &LinuxMemory, warnings: &mut Vec<String>) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let limit_file = dir.join("memory.limit_in_bytes");
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let has_memsw = exists(&memsw);
    if limit == -1 && swap == 0 && has_memsw {
        swap = -1;
    }
    if swap != 0 && !has_memsw {
        if swap != -1 {
            warnings.push(
                "swap limit not supported by the kernel (no memory.memsw.limit_in_bytes); memory+swap limit ignored"
                    .to_string(),
            );
        }
        swap = 0;
    }
    if limit > 0 && swap > 0 && swap < limit {
        return Err(Error::Invalid(format!("memory+swap limit {swap} must be >= the memory limit {limit}")));
    }
    if limit != 0 && swap != 0 {
        let cur_text = read(&limit_file)?;
        let cur: u64 = cur_text.trim().parse().map_err(|_| {
            Error::Invalid(format!("{}: unexpected content {:?}", limit_file.display(), cur_text.trim()))
        })?;
        if swap == -1 || (cur as i128) < i128::from(swap) {
            write(&memsw, &swap.to_string())?;
            write(&limit_file, &limit.to_string())?;
        } else {
            write(&limit_file, &limit.to_string())?;
            write(&memsw, &swap.to_string())?;
        }
    } else {
        if limit != 0 {
            write(&limit_file, &limit.to_string())?;
        }
        if swap != 0 {
            write(&memsw, &swap.to_string())?;
        }
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        write(&dir.join("memory.soft_limit_in_bytes"), &r.to_string())?;
    }
    if let Some(t) = m.kernel_tcp().filter(|t| *t != 0) {
        write(&dir.join("memory.kmem.tcp.limit_in_bytes"), &t.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::Invalid(format!("memory swappiness {s} (want 0..=100)")));
        }
        write(&dir.join("memory.swappiness"), &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        write(&dir.join("memory.oom_control"), "1")?;
    }
    Ok(())
}

/// CPU: shares, then the CFS period before the quota (runc retries the period after the quota
/// when the kernel refuses a smaller period first), burst, realtime, idle.
fn cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        write(&dir.join("cpu.shares"), &s.to_string())?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    let period_file = dir.join("cpu.cfs_period_us");
    let mut period_pending = false;
    if period != 0 {
        match write(&period_file, &period.to_string()) {
            Ok(()) => {}
            Err(Error::Write { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) && quota != 0 => {
                period_pending = true
            }
            Err(e) => return Err(e),
        }
    }
    if quota != 0 {
        write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        if period_pending {
            write(&period_file, &period.to_string())?;
        }
    }
    if let Some(b) = c.burst() {
        write(&dir.join("cpu.cfs_burst_us"), &b.to_string())?;
    }
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        write(&dir.join("cpu.rt_period_us"), &p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        write(&dir.join("cpu.rt_runtime_us"), &r.to_string())?;
    }
    if let Some(i) = c.idle() {
        write(&dir.join("cpu.idle"), &i.to_string())?;
    }
    Ok(())
}

/// Block I/O: the weight goes to `blkio.weight` or, on kernels with only BFQ,
/// `blkio.bfq.weight`; with neither it is skipped with a warning (as Docker does).
fn blkio(dir: &Path, b: &LinuxBlockIo, warnings: &mut Vec<String>) -> Result<()> {
    let (weight_file, weight_dev_file) = if exists(&dir.join("blkio.weight")) {
        ("blkio.weight", "blkio.weight_device")
    } else if exists(&dir.join("blkio.bfq.weight")) {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("", "")
    };
    let wants_weight = b.weight().is_some_and(|w| w != 0) || b.weight_device().as_ref().is_some_and(|v| !v.is_empty());
    if wants_weight && weight_file.is_empty() {
        warnings.push("blkio weight not supported by the kernel; ignored".to_string());
    } else {
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            write(&dir.join(weight_file), &w.to_string())?;
        }
        for d in b.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = d.weight() {
                write(&dir.join(weight_dev_file), &format!("{}:{} {w}", d.major(), d.minor()))?;
            }
        }
    }
    if let Some(lw) = b.leaf_weight().filter(|w| *w != 0) {
        if !write_if_exists(&dir.join("blkio.leaf_weight"), &lw.to_string())? {
            warnings.push("blkio leaf weight not supported by the kernel; ignored".to_string());
        }
    }
    for (suffix, _, list) in throttles(b) {
        let file = dir.join(format!("blkio.throttle.{suffix}"));
        for d in list {
            write(&file, &format!("{}:{} {}", d.major(), d.minor(), d.rate()))?;
        }
    }
    Ok(())
}
