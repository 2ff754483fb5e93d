//! Writing resources to a cgroup v2 directory, as runc's fs2 driver does, and delegating
//! controllers down the tree.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::fs::{exists, read, write, write_if_exists};
use crate::layout::Kind;
use crate::resources::{self, blkio_to_io_weight, shares_to_weight, v2_num};
use crate::{Error, Result};

/// The controllers enabled for containers on a pure v2 host (when the parent offers them).
pub(crate) const WANTED: [&str; 6] = ["cpu", "memory", "pids", "io", "cpuset", "hugetlb"];

/// Enables `wanted` (those `dir` offers in `cgroup.controllers` and that are not enabled yet)
/// in `dir/cgroup.subtree_control` so its children get them. A controller the kernel refuses
/// (e.g. `cpu` while a realtime task sits outside the root) is reported as a warning; writing
/// its limits fails later with an error that names the file.
pub(crate) fn enable_controllers(dir: &Path, wanted: &[&str], warnings: &mut Vec<String>) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let avail = read(&dir.join("cgroup.controllers"))?;
    let subtree = dir.join("cgroup.subtree_control");
    let enabled = read(&subtree)?;
    let todo: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| avail.split_whitespace().any(|a| a == *c) && !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let line = todo.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ");
    if write(&subtree, &line).is_ok() {
        return Ok(());
    }
    for c in todo {
        if let Err(e) = write(&subtree, &format!("+{c}")) {
            warnings.push(format!("cannot enable the {c} controller: {e}"));
        }
    }
    Ok(())
}

/// Enables `wanted` in the v2 root and in each ancestor of the container directory `rel`.
pub(crate) fn enable_controllers_along(
    v2root: &Path,
    rel: &str,
    wanted: &[&str],
    warnings: &mut Vec<String>,
) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let mut dir = v2root.to_path_buf();
    for part in &parts {
        enable_controllers(&dir, wanted, warnings)?;
        dir.push(part);
    }
    Ok(())
}

/// Applies the part of `res` that belongs to `kind` in the v2 directory `dir`.
pub(crate) fn apply(dir: &Path, kind: Kind, res: &LinuxResources, warnings: &mut Vec<String>) -> Result<()> {
    match kind {
        Kind::Cpuset => {
            if let Some(c) = res.cpu() {
                if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                    write(&dir.join("cpuset.cpus"), cpus)?;
                }
                if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                    write(&dir.join("cpuset.mems"), mems)?;
                }
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
                io(dir, b, warnings)?;
            }
        }
        Kind::Hugetlb => {
            for l in res.hugepage_limits().as_deref().unwrap_or(&[]) {
                let size = resources::page_size(l.page_size())?;
                let v = if l.limit() < 0 { "max".to_string() } else { l.limit().to_string() };
                write(&dir.join(format!("hugetlb.{size}.max")), &v)?;
                write_if_exists(&dir.join(format!("hugetlb.{size}.rsvd.max")), &v)?;
            }
        }
        Kind::Devices => {
            let rules = res.devices().as_deref().unwrap_or(&[]);
            crate::bpf::apply_device_rules(dir, rules)?;
        }
    }
    Ok(())
}

/// Memory: `memory.swap.max` holds swap alone (OCI's swap is memory+swap), `memory.max`,
/// `memory.low`. Swappiness and disabling the OOM killer do not exist on v2 (warnings).
fn memory(dir: &Path, m: &LinuxMemory, warnings: &mut Vec<String>) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let swap_in = m.swap().unwrap_or(0);
    let swap = resources::v2_swap(swap_in, limit)?;
    let mut swap_str = v2_num(swap);
    if swap_str.is_none() && swap == 0 && swap_in > 0 {
        // memory+swap equal to memory: no swap at all.
        swap_str = Some("0".to_string());
    }
    if let Some(s) = swap_str {
        if !write_if_exists(&dir.join("memory.swap.max"), &s)? && s != "max" && s != "0" {
            warnings.push(
                "swap limit not supported by the kernel (no memory.swap.max); memory+swap limit ignored".to_string(),
            );
        }
    }
    if let Some(v) = v2_num(limit) {
        write(&dir.join("memory.max"), &v)?;
    }
    if let Some(v) = m.reservation().and_then(v2_num) {
        write(&dir.join("memory.low"), &v)?;
    }
    if m.swappiness().is_some() {
        warnings.push("memory swappiness is not supported on cgroup v2; ignored".to_string());
    }
    if m.disable_oom_killer() == Some(true) {
        warnings.push("disabling the OOM killer is not supported on cgroup v2; ignored".to_string());
    }
    Ok(())
}

fn cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if c.realtime_runtime().is_some_and(|r| r != 0) || c.realtime_period().is_some_and(|p| p != 0) {
        return Err(Error::Invalid("realtime cpu scheduling limits are not supported on cgroup v2".into()));
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        write(&dir.join("cpu.weight"), &shares_to_weight(s).to_string())?;
    }
    if let Some(v) = resources::cpu_max(c.quota().unwrap_or(0), c.period().unwrap_or(0)) {
        write(&dir.join("cpu.max"), &v)?;
    }
    if let Some(b) = c.burst() {
        write(&dir.join("cpu.max.burst"), &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        write(&dir.join("cpu.idle"), &i.to_string())?;
    }
    Ok(())
}

/// Block I/O: the weight goes to `io.bfq.weight` as is (BFQ takes blkio's 1..1000) or to
/// `io.weight` converted to 1..10000; with neither it is skipped with a warning. Throttles go
/// to `io.max`, one line per device.
fn io(dir: &Path, b: &LinuxBlockIo, warnings: &mut Vec<String>) -> Result<()> {
    let bfq = dir.join("io.bfq.weight");
    let plain = dir.join("io.weight");
    let wants_weight = b.weight().is_some_and(|w| w != 0) || b.weight_device().as_ref().is_some_and(|v| !v.is_empty());
    if wants_weight {
        let (file, convert): (&Path, fn(u16) -> u64) = if exists(&bfq) {
            (&bfq, u64::from)
        } else if exists(&plain) {
            (&plain, blkio_to_io_weight)
        } else {
            warnings.push("blkio weight not supported by the kernel; ignored".to_string());
            (Path::new(""), u64::from)
        };
        if !file.as_os_str().is_empty() {
            if let Some(w) = b.weight().filter(|w| *w != 0) {
                write(file, &convert(w).to_string())?;
            }
            for d in b.weight_device().as_deref().unwrap_or(&[]) {
                if let Some(w) = d.weight() {
                    write(file, &format!("{}:{} {}", d.major(), d.minor(), convert(w)))?;
                }
            }
        }
    }
    if b.leaf_weight().is_some_and(|w| w != 0) {
        warnings.push("blkio leaf weight not supported on cgroup v2; ignored".to_string());
    }
    let io_max = dir.join("io.max");
    for line in resources::io_max_lines(b) {
        write(&io_max, &line)?;
    }
    Ok(())
}

/// The OCI `unified` map: each key is a file in the container directory, written verbatim
/// (after everything else, so it can override). Keys are plain file names.
pub(crate) fn unified(dir: &Path, map: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(Error::Invalid(format!("unified key {k:?} is not a cgroup file name")));
        }
        write(&dir.join(k), &map[k])?;
    }
    Ok(())
}
