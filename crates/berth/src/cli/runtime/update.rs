//! `berth runtime update ID`: changes a running container's cgroup limits, from a
//! runtime-spec `LinuxResources` JSON (`--resources FILE`, `-` for stdin, as containerd and
//! dockerd send it) or from runc's flag forms.

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources};

use super::state::Saved;
use super::Ctx;
use crate::spec::units;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    pub id: String,
    /// Resources as JSON (runtime-spec linux.resources); "-" reads stdin
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Memory limit (e.g. 64m)
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPU CFS period
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (-1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs to use
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block I/O weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

fn size(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_deref()
        .map(|s| if s.trim() == "-1" { Ok(-1) } else { units::ram_in_bytes(s) })
        .transpose()
        .map_err(|e| anyhow!("invalid value for {flag}: {e}"))
}

/// The resources `a` asks for.
pub fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    if let Some(r) = &a.resources {
        let mut text = String::new();
        if r == "-" {
            std::io::stdin().read_to_string(&mut text).context("reading resources from stdin")?;
        } else {
            text = std::fs::read_to_string(r).with_context(|| format!("reading {r}"))?;
        }
        return serde_json::from_str(&text).context("decoding the resources JSON");
    }
    let mut res = LinuxResources::default();
    let (limit, swap, reservation) = (
        size("--memory", &a.memory)?,
        size("--memory-swap", &a.memory_swap)?,
        size("--memory-reservation", &a.memory_reservation)?,
    );
    if limit.is_some() || swap.is_some() || reservation.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = limit {
            m = m.limit(v);
        }
        if let Some(v) = swap {
            m = m.swap(v);
        }
        if let Some(v) = reservation {
            m = m.reservation(v);
        }
        res.set_memory(Some(m.build()?));
    }
    if a.cpu_shares.is_some()
        || a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = LinuxCpuBuilder::default();
        if let Some(v) = a.cpu_shares {
            c = c.shares(v);
        }
        if let Some(v) = a.cpu_period {
            c = c.period(v);
        }
        if let Some(v) = a.cpu_quota {
            c = c.quota(v);
        }
        if let Some(v) = &a.cpuset_cpus {
            c = c.cpus(v.clone());
        }
        if let Some(v) = &a.cpuset_mems {
            c = c.mems(v.clone());
        }
        res.set_cpu(Some(c.build()?));
    }
    if let Some(p) = a.pids_limit {
        res.set_pids(Some(LinuxPidsBuilder::default().limit(p).build()?));
    }
    if let Some(w) = a.blkio_weight {
        res.set_block_io(Some(LinuxBlockIoBuilder::default().weight(w).build()?));
    }
    Ok(res)
}

pub fn run(c: &Ctx, a: &UpdateArgs) -> Result<i32> {
    let s = Saved::load(&c.root, &a.id)?;
    if s.status(&c.root) == "stopped" {
        bail!("container not running");
    }
    let res = resources(a)?;
    s.cgroup().apply(&res).with_context(|| format!("updating container {}", a.id))?;
    Ok(0)
}
