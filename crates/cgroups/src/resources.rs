//! Pure conversions from OCI resources to cgroup file values, following runc.

use oci_spec::runtime::{LinuxBlockIo, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, LinuxThrottleDevice};

use crate::layout::Kind;
use crate::{Error, Result};

/// Whether `res` asks for anything of `kind` (so a missing controller matters).
pub(crate) fn requested(res: &LinuxResources, kind: Kind) -> bool {
    let nz = |v: Option<i64>| v.is_some_and(|v| v != 0);
    match kind {
        Kind::Cpuset => res.cpu().as_ref().is_some_and(|c| {
            c.cpus().as_deref().is_some_and(|s| !s.is_empty()) || c.mems().as_deref().is_some_and(|s| !s.is_empty())
        }),
        Kind::Memory => res.memory().as_ref().is_some_and(|m| {
            nz(m.limit())
                || nz(m.reservation())
                || nz(m.swap())
                || nz(m.kernel_tcp())
                || m.swappiness().is_some()
                || m.disable_oom_killer() == Some(true)
        }),
        Kind::Cpu => res.cpu().as_ref().is_some_and(|c| {
            c.shares().is_some_and(|s| s != 0)
                || nz(c.quota())
                || c.period().is_some_and(|p| p != 0)
                || c.burst().is_some()
                || c.idle().is_some()
                || nz(c.realtime_runtime())
                || c.realtime_period().is_some_and(|p| p != 0)
        }),
        Kind::Pids => res.pids().is_some(),
        Kind::Io => res.block_io().as_ref().is_some_and(|b| {
            let ne = |v: &Option<Vec<LinuxThrottleDevice>>| v.as_ref().is_some_and(|v| !v.is_empty());
            b.weight().is_some_and(|w| w != 0)
                || b.leaf_weight().is_some_and(|w| w != 0)
                || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
                || ne(b.throttle_read_bps_device())
                || ne(b.throttle_write_bps_device())
                || ne(b.throttle_read_iops_device())
                || ne(b.throttle_write_iops_device())
        }),
        Kind::Hugetlb => res.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()),
        Kind::Devices => res.devices().as_ref().is_some_and(|v| !v.is_empty()),
    }
}

/// The value of `key` in a "key value" per line file (`memory.events`, `memory.oom_control`).
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// runc's `numToStr`: 0 is "unset" (None), -1 (any negative) is "max".
pub(crate) fn v2_num(v: i64) -> Option<String> {
    match v {
        0 => None,
        v if v < 0 => Some("max".to_string()),
        v => Some(v.to_string()),
    }
}

/// v1 `cpu.shares` → v2 `cpu.weight` (runc: `1 + ((shares-2)*9999)/262142`, shares clamped
/// to the v1 range 2..=262144).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// v1 `blkio.weight` (10..=1000) → v2 `io.weight` (1..=10000), runc's formula.
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// OCI `swap` (memory+swap) → v2 `memory.swap.max` (swap only), runc's
/// `ConvertMemorySwapToCgroupV2Value`: 0 = unset, -1 = max.
pub(crate) fn v2_swap(swap: i64, memory: i64) -> Result<i64> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err(Error::Invalid("unable to set a swap limit without a memory limit".into()));
    }
    if memory < 0 {
        return Err(Error::Invalid(format!("invalid memory limit {memory}")));
    }
    if swap < memory {
        return Err(Error::Invalid(format!("memory+swap limit {swap} must be >= the memory limit {memory}")));
    }
    Ok(swap - memory)
}

/// v2 `cpu.max` for a quota and period (runc): "max" when quota ≤ 0; period left out when 0.
pub(crate) fn cpu_max(quota: i64, period: u64) -> Option<String> {
    if quota == 0 && period == 0 {
        return None;
    }
    let mut s = if quota > 0 { quota.to_string() } else { "max".to_string() };
    if period != 0 {
        s.push(' ');
        s.push_str(&period.to_string());
    }
    Some(s)
}

fn list(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
    v.as_deref().unwrap_or(&[])
}

/// The throttle lists of `b` as (v1 file suffix, v2 key, devices).
pub(crate) fn throttles(b: &LinuxBlockIo) -> [(&'static str, &'static str, &[LinuxThrottleDevice]); 4] {
    [
        ("read_bps_device", "rbps", list(b.throttle_read_bps_device())),
        ("write_bps_device", "wbps", list(b.throttle_write_bps_device())),
        ("read_iops_device", "riops", list(b.throttle_read_iops_device())),
        ("write_iops_device", "wiops", list(b.throttle_write_iops_device())),
    ]
}

/// v2 `io.max` lines, one per device in order of first mention:
/// `"MAJ:MIN rbps=N wbps=N riops=N wiops=N"` with only the keys that are set.
pub(crate) fn io_max_lines(b: &LinuxBlockIo) -> Vec<String> {
    let mut devs: Vec<((i64, i64), Vec<String>)> = Vec::new();
    for (_, key, list) in throttles(b) {
        for d in list {
            let id = (d.major(), d.minor());
            let idx = match devs.iter().position(|(k, _)| *k == id) {
                Some(i) => i,
                None => {
                    devs.push((id, Vec::new()));
                    devs.len() - 1
                }
            };
            devs[idx].1.push(format!("{key}={}", d.rate()));
        }
    }
    devs.into_iter().map(|((maj, min), kv)| format!("{maj}:{min} {}", kv.join(" "))).collect()
}

/// The access string of a rule, validated ("rwm" when empty).
pub(crate) fn device_access(rule: &LinuxDeviceCgroup) -> Result<String> {
    let a = rule.access().as_deref().unwrap_or("");
    if a.is_empty() {
        return Ok("rwm".to_string());
    }
    if a.chars().any(|c| !matches!(c, 'r' | 'w' | 'm')) || a.len() > 3 {
        return Err(Error::Invalid(format!("device access {a:?} (want a combination of r, w, m)")));
    }
    Ok(a.to_string())
}

/// The v1 writes for a device rule list, in order: (file, line). A rule of type `a` is written as
/// the bare `"a"` (as runc does for the leading deny-all), which resets the whole list.
pub(crate) fn v1_device_writes(rules: &[LinuxDeviceCgroup]) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let file = if r.allow() { "devices.allow" } else { "devices.deny" };
        let typ = r.typ().unwrap_or_default();
        let line = match typ {
            LinuxDeviceType::A => "a".to_string(),
            LinuxDeviceType::P => {
                return Err(Error::Invalid(
                    "device rule type \"p\" (FIFO) is not supported by the device cgroup".into(),
                ))
            }
            t => {
                let n = |v: Option<i64>| v.filter(|v| *v >= 0).map_or_else(|| "*".to_string(), |v| v.to_string());
                let t = if t == LinuxDeviceType::U { "c" } else { t.as_str() };
                format!("{t} {}:{} {}", n(r.major()), n(r.minor()), device_access(r)?)
            }
        };
        out.push((file, line));
    }
    Ok(out)
}

/// Checks a hugepage size such as "2MB" and returns it.
pub(crate) fn page_size(s: &str) -> Result<&str> {
    let ok = s.len() > 2
        && s.ends_with('B')
        && s[..s.len() - 2].bytes().all(|b| b.is_ascii_digit())
        && matches!(s.as_bytes()[s.len() - 2], b'K' | b'M' | b'G');
    if !ok {
        return Err(Error::Invalid(format!("hugepage size {s:?} (want e.g. 2MB or 1GB)")));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxDeviceCgroupBuilder, LinuxThrottleDeviceBuilder};

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(v2_swap(0, -1).unwrap(), -1);
        assert_eq!(v2_swap(-1, 100).unwrap(), -1);
        assert_eq!(v2_swap(0, 100).unwrap(), 0);
        assert_eq!(v2_swap(300, 100).unwrap(), 200);
        assert_eq!(v2_swap(100, 100).unwrap(), 0);
        assert!(v2_swap(50, 100).is_err());
        assert!(v2_swap(50, 0).is_err());
    }

    #[test]
    fn cpu_max_and_nums() {
        assert_eq!(cpu_max(50_000, 100_000).as_deref(), Some("50000 100000"));
        assert_eq!(cpu_max(-1, 100_000).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(20_000, 0).as_deref(), Some("20000"));
        assert_eq!(cpu_max(0, 0), None);
        assert_eq!(v2_num(0), None);
        assert_eq!(v2_num(-1).as_deref(), Some("max"));
        assert_eq!(v2_num(42).as_deref(), Some("42"));
        assert_eq!(keyed_value("oom 3\noom_kill 2\n", "oom_kill"), Some(2));
        assert_eq!(keyed_value("oom_kill_disable 0\noom_kill 5", "oom_kill"), Some(5));
        assert_eq!(keyed_value("x 1", "oom_kill"), None);
    }

    #[test]
    fn io_max_groups_by_device() {
        let t = |maj: i64, min: i64, rate: u64| {
            LinuxThrottleDeviceBuilder::default().major(maj).minor(min).rate(rate).build().unwrap()
        };
        let b = LinuxBlockIoBuilder::default()
            .throttle_read_bps_device(vec![t(8, 0, 1000), t(8, 16, 5)])
            .throttle_write_iops_device(vec![t(8, 0, 30)])
            .build()
            .unwrap();
        assert_eq!(io_max_lines(&b), vec!["8:0 rbps=1000 wiops=30".to_string(), "8:16 rbps=5".to_string()]);
    }

    #[test]
    fn device_lines() {
        let r = |allow: bool, typ, maj: Option<i64>, min: Option<i64>, acc: &str| {
            let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).typ(typ).access(acc);
            if let Some(m) = maj {
                b = b.major(m);
            }
            if let Some(m) = min {
                b = b.minor(m);
            }
            b.build().unwrap()
        };
        let w = v1_device_writes(&[
            r(false, LinuxDeviceType::A, None, None, "rwm"),
            r(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            r(true, LinuxDeviceType::B, None, None, "m"),
            r(true, LinuxDeviceType::C, Some(136), None, ""),
            r(false, LinuxDeviceType::C, Some(10), Some(200), "w"),
        ])
        .unwrap();
        let want = [
            ("devices.deny", "a"),
            ("devices.allow", "c 1:3 rwm"),
            ("devices.allow", "b *:* m"),
            ("devices.allow", "c 136:* rwm"),
            ("devices.deny", "c 10:200 w"),
        ];
        assert_eq!(w.iter().map(|(f, l)| (*f, l.as_str())).collect::<Vec<_>>(), want);
        assert!(v1_device_writes(&[r(true, LinuxDeviceType::C, Some(1), Some(3), "rx")]).is_err());
        assert!(page_size("2MB").is_ok() && page_size("1GB").is_ok() && page_size("64KB").is_ok());
        assert!(page_size("../x").is_err() && page_size("2M").is_err());
    }
}
