//! Translates `berth run` flags into an OCI runtime spec with Docker's defaults, the way dockerd
//! does before handing a bundle to its runtime. (Moves to the engine crate with the lifecycle
//! work; the runtime only ever sees the resulting spec.)

pub mod defaults;
pub mod mounts;
pub mod security;
pub mod units;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDevice, LinuxDeviceBuilder,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, LinuxThrottleDevice, LinuxThrottleDeviceBuilder, PosixRlimitBuilder,
    PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use crate::cli::run::RunArgs;

/// Builds the spec for `a`, writing the container's /etc files into `run_dir`.
pub fn build(a: &RunArgs, id: &str, rootfs: &Path, run_dir: &Path) -> Result<Spec> {
    let host_net = match a.network.as_str() {
        "none" | "default" | "bridge" => false,
        "host" => true,
        other => bail!("network {other} not found (only none and host are available in this release)"),
    };
    let hostname = a.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    let sec = security::parse_security_opts(&a.security_opt)?;
    let caps = security::capabilities(a.privileged, &a.cap_add, &a.cap_drop)?;
    let seccomp = security::seccomp(&sec, a.privileged, &caps)?;

    // User and groups, resolved in the container's own /etc files.
    let read = |p: &str| berth_runtime::fsutil::read_in_root(rootfs, Path::new(p)).unwrap_or_default();
    let user = berth_runtime::user::resolve(
        a.user.as_deref().unwrap_or(""),
        &read("/etc/passwd"),
        &read("/etc/group"),
        &a.group_add,
    )
    .map_err(|e| anyhow!(e))?;

    let env = environment(a, &hostname, &user.home)?;
    let cwd = a.workdir.clone().unwrap_or_else(|| "/".to_string());
    if !cwd.starts_with('/') {
        bail!("the working directory '{cwd}' is invalid, it needs to be an absolute path");
    }
    let mut rlimits = vec![PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(defaults::NOFILE)
        .hard(defaults::NOFILE)
        .build()?];
    for u in &a.ulimit {
        let u = units::ulimit(u)?;
        let typ: PosixRlimitType = format!("RLIMIT_{}", u.name.to_uppercase())
            .parse()
            .map_err(|_| anyhow!("invalid ulimit type: {}", u.name))?;
        rlimits.retain(|r| r.typ() != typ);
        rlimits.push(PosixRlimitBuilder::default().typ(typ).soft(u.soft).hard(u.hard).build()?);
    }
    if let Some(v) = a.oom_score_adj {
        if !(-1000..=1000).contains(&v) {
            bail!("invalid value {v}, range for oom score adj is [-1000, 1000]");
        }
    }
    let capset = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(oci_spec::runtime::Capabilities::new())
        .ambient(oci_spec::runtime::Capabilities::new())
        .build()?;
    let mut process = ProcessBuilder::default()
        .terminal(a.tty)
        .user(UserBuilder::default().uid(user.uid).gid(user.gid).additional_gids(user.additional_gids.clone()).build()?)
        .args(a.command.clone())
        .env(env)
        .cwd(cwd)
        .capabilities(capset)
        .rlimits(rlimits)
        .no_new_privileges(sec.no_new_privileges)
        .build()?;
    process.set_oom_score_adj(a.oom_score_adj);

    // Mounts: Docker's standard set, /dev/shm sized, the /etc files, then -v and --tmpfs.
    let mut mounts = defaults::mounts(a.privileged);
    if let Some(s) = &a.shm_size {
        let bytes =
            units::ram_in_bytes(s).map_err(|e| anyhow!("invalid argument {s:?} for \"--shm-size\" flag: {e}"))?;
        if let Some(m) = mounts.iter_mut().find(|m| m.destination() == Path::new("/dev/shm")) {
            let mut o = m.options().clone().unwrap_or_default();
            o.retain(|x| !x.starts_with("size="));
            o.push(format!("size={bytes}"));
            m.set_options(Some(o));
        }
    }
    mounts.extend(mounts::etc_files(run_dir, &hostname, host_net)?);
    for v in &a.volume {
        mounts.push(mounts::volume(v)?);
    }
    for t in &a.tmpfs {
        mounts.push(mounts::tmpfs(t)?);
    }

    let mut namespaces = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Cgroup,
    ];
    if !host_net {
        namespaces.push(LinuxNamespaceType::Network);
    }
    let sysctls = sysctls(&a.sysctl, host_net)?;
    let mut linux = LinuxBuilder::default()
        .namespaces(
            namespaces
                .into_iter()
                .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
                .collect::<Result<Vec<_>, _>>()?,
        )
        .resources(resources(a)?)
        .sysctl(sysctls)
        .build()?;
    if !a.privileged {
        linux.set_masked_paths(Some(defaults::MASKED_PATHS.iter().map(|s| s.to_string()).collect()));
        linux.set_readonly_paths(Some(defaults::READONLY_PATHS.iter().map(|s| s.to_string()).collect()));
    } else {
        // oci-spec's Linux default carries masked/read-only paths: a privileged container has none.
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
        linux.set_devices(Some(host_devices()));
    }
    linux.set_seccomp(seccomp);

    let mut spec = SpecBuilder::default()
        .version("1.2.0")
        .root(RootBuilder::default().path(rootfs).readonly(a.read_only).build()?)
        .process(process)
        .hostname(hostname)
        .mounts(mounts)
        .linux(linux)
        .build()?;
    if let Some(d) = &a.domainname {
        spec.set_domainname(Some(d.clone()));
    }
    Ok(spec)
}

/// PATH, HOSTNAME, TERM (with -t), HOME, then --env-file and -e entries (later ones win).
fn environment(a: &RunArgs, hostname: &str, home: &str) -> Result<Vec<String>> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = vec![format!("PATH={}", berth_runtime::DEFAULT_PATH), format!("HOSTNAME={hostname}")];
    if a.tty {
        env.push("TERM=xterm".into());
    }
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("open {}", f.display()))?;
        env.extend(units::env_file(&text, lookup).with_context(|| format!("env file {}", f.display()))?);
    }
    for e in &a.env {
        env.extend(units::env_entry(e, lookup)?);
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    // Keep the last value of each key, in first-seen order.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<String> = Vec::new();
    for e in env {
        let k = e.split('=').next().unwrap_or("").to_string();
        match seen.get(&k) {
            Some(&i) => out[i] = e,
            None => {
                seen.insert(k, out.len());
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Docker only allows namespaced sysctls: IPC ones, fs.mqueue.*, and net.* with a private network.
fn sysctls(list: &[String], host_net: bool) -> Result<HashMap<String, String>> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let mut out = HashMap::new();
    for s in list {
        let (k, v) = s.split_once('=').ok_or_else(|| anyhow!("sysctl '{s}' is not allowed: expected KEY=VALUE"))?;
        let ok = IPC.contains(&k) || k.starts_with("fs.mqueue.") || (k.starts_with("net.") && !host_net);
        if !ok {
            bail!(
                "sysctl '{k}' is not allowed in a container (not namespaced{})",
                if host_net { " or host network" } else { "" }
            );
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn throttle(list: &[String], iops: bool) -> Result<Vec<LinuxThrottleDevice>> {
    list.iter()
        .map(|s| {
            let (path, rate) = if iops {
                let (p, r) = s.rsplit_once(':').ok_or_else(|| anyhow!("bad format: {s}"))?;
                (p.to_string(), r.parse::<u64>().map_err(|_| anyhow!("invalid rate for device: {s}"))?)
            } else {
                units::device_rate(s)?
            };
            let (major, minor) = device_numbers(&path)?;
            Ok(LinuxThrottleDeviceBuilder::default().major(major).minor(minor).rate(rate).build()?)
        })
        .collect()
}

fn device_numbers(path: &str) -> Result<(i64, i64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(path).with_context(|| format!("device {path}"))?;
    if !md.file_type().is_block_device() && !md.file_type().is_char_device() {
        bail!("{path} is not a device");
    }
    let rdev = md.rdev();
    Ok((libc::major(rdev) as i64, libc::minor(rdev) as i64))
}

fn resources(a: &RunArgs) -> Result<oci_spec::runtime::LinuxResources> {
    let flag = |name: &str, v: &str, e: anyhow::Error| anyhow!("invalid argument {v:?} for \"{name}\" flag: {e}");
    let mut mem = LinuxMemoryBuilder::default();
    let mut memory = None;
    if let Some(m) = &a.memory {
        let v = units::ram_in_bytes(m).map_err(|e| flag("-m, --memory", m, e))?;
        memory = Some(v);
        mem = mem.limit(v);
    }
    if let Some(s) = &a.memory_swap {
        let v = units::memory_swap(s).map_err(|e| flag("--memory-swap", s, e))?;
        match memory {
            None => bail!("you should always set the memory limit when using the memoryswap limit, see usage"),
            Some(m) if v != -1 && v < m => {
                bail!("minimum memoryswap limit should be larger than memory limit, see usage")
            }
            _ => mem = mem.swap(v),
        }
    } else if let Some(m) = memory {
        // Docker: without --memory-swap the container may use as much swap as memory.
        mem = mem.swap(m * 2);
    }
    if let Some(r) = &a.memory_reservation {
        mem = mem.reservation(units::ram_in_bytes(r).map_err(|e| flag("--memory-reservation", r, e))?);
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(c) = &a.cpus {
        if a.cpu_quota.is_some() || a.cpu_period.is_some() {
            bail!("conflicting options: Nano CPUs and CPU Period or Quota cannot both be set");
        }
        let nano = units::nano_cpus(c).map_err(|e| flag("--cpus", c, e))?;
        let ncpu = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
        if nano > ncpu * 1_000_000_000 {
            bail!("range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available");
        }
        if nano > 0 {
            cpu = cpu.period(100_000u64).quota(nano * 100_000 / 1_000_000_000);
        }
    }
    if let Some(q) = a.cpu_quota {
        cpu = cpu.quota(q);
    }
    if let Some(p) = a.cpu_period {
        cpu = cpu.period(p);
    }
    if let Some(s) = a.cpu_shares {
        cpu = cpu.shares(s);
    }
    if let Some(c) = &a.cpuset_cpus {
        cpu = cpu.cpus(c.clone());
    }
    if let Some(m) = &a.cpuset_mems {
        cpu = cpu.mems(m.clone());
    }
    let mut blkio = LinuxBlockIoBuilder::default();
    if let Some(w) = a.blkio_weight {
        if w != 0 && !(10..=1000).contains(&w) {
            bail!("range of blkio weight is from 10 to 1000");
        }
        if w != 0 {
            blkio = blkio.weight(w);
        }
    }
    blkio = blkio
        .throttle_read_bps_device(throttle(&a.device_read_bps, false)?)
        .throttle_write_bps_device(throttle(&a.device_write_bps, false)?)
        .throttle_read_iops_device(throttle(&a.device_read_iops, true)?)
        .throttle_write_iops_device(throttle(&a.device_write_iops, true)?);
    let devices = if a.privileged {
        vec![LinuxDeviceCgroupBuilder::default().allow(true).typ(LinuxDeviceType::A).access("rwm").build()?]
    } else {
        defaults::device_rules()
    };
    let mut res = LinuxResourcesBuilder::default()
        .memory(mem.build()?)
        .cpu(cpu.build()?)
        .block_io(blkio.build()?)
        .devices(devices);
    if let Some(p) = a.pids_limit {
        res = res.pids(LinuxPidsBuilder::default().limit(if p <= 0 { -1 } else { p }).build()?);
    }
    Ok(res.build()?)
}

/// Every device node directly under the host's /dev, for `--privileged`.
fn host_devices() -> Vec<LinuxDevice> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/dev") else { return out };
    for e in rd.flatten() {
        let Ok(md) = e.path().symlink_metadata() else { continue };
        let ft = md.file_type();
        let typ = if ft.is_char_device() {
            LinuxDeviceType::C
        } else if ft.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        let name = e.file_name();
        if name == "console" || name == "ptmx" || name == "tty" {
            continue;
        }
        let rdev = md.rdev();
        if let Ok(d) = LinuxDeviceBuilder::default()
            .path(e.path())
            .typ(typ)
            .major(libc::major(rdev) as i64)
            .minor(libc::minor(rdev) as i64)
            .file_mode(md.permissions().mode() & 0o777)
            .uid(md.uid())
            .gid(md.gid())
            .build()
        {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests;
