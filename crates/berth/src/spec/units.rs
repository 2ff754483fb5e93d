//! Parsers for Docker's flag values: sizes (`32m`, `1.5g`), CPU counts (`0.5`), ulimits
//! (`nofile=1024:2048`), device rates (`/dev/sda:1mb`), env files. Pure functions; errors are
//! Docker's texts where Docker has one.

use anyhow::{anyhow, bail, Result};

/// `RAMInBytes` of Docker's units package: a number with an optional fraction, then an optional
/// binary unit k/m/g/t/p (case-insensitive), optionally followed by `b` (or `ib`).
pub fn ram_in_bytes(s: &str) -> Result<i64> {
    let t = s.trim();
    let bad = || anyhow!("invalid size: '{s}'");
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1 {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// `--memory-swap`: a size, or -1 for unlimited.
pub fn memory_swap(s: &str) -> Result<i64> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(s)
}

/// `--cpus 1.5` → nano CPUs.
pub fn nano_cpus(s: &str) -> Result<i64> {
    let v: f64 = s.trim().parse().map_err(|_| anyhow!("failed to parse {s} as a rational number"))?;
    if !(v.is_finite()) || v < 0.0 {
        bail!("invalid value {s}: must be a positive number");
    }
    let n = (v * 1e9).round();
    if n > i64::MAX as f64 {
        bail!("value is too precise or too large: {s}");
    }
    Ok(n as i64)
}

/// A `--ulimit` value: `name=soft[:hard]`; -1 means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

pub fn ulimit(s: &str) -> Result<Ulimit> {
    let (name, vals) = s.split_once('=').ok_or_else(|| anyhow!("invalid ulimit argument: {s}"))?;
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    if !NAMES.contains(&name) {
        bail!("invalid ulimit type: {name}");
    }
    let num = |v: &str| -> Result<u64> {
        if v == "-1" || v == "unlimited" {
            return Ok(u64::MAX);
        }
        v.parse::<u64>().map_err(|_| anyhow!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let v = num(vals)?;
            (v, v)
        }
    };
    if soft > hard {
        bail!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
    }
    Ok(Ulimit { name: name.to_string(), soft, hard })
}

/// `--device-read-bps /dev/sda:1mb` → (path, bytes per second).
pub fn device_rate(s: &str) -> Result<(String, u64)> {
    let (path, rate) = s.rsplit_once(':').ok_or_else(|| anyhow!("bad format: {s}"))?;
    if !path.starts_with("/dev/") {
        bail!("bad format for device path: {s}");
    }
    let v = ram_in_bytes(rate).map_err(|_| anyhow!("invalid rate for device: {s}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"))?;
    Ok((path.to_string(), v as u64))
}

/// An `-e` value: `KEY=VALUE`, or `KEY` taken from berth's own environment (dropped if unset).
pub fn env_entry(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<String>> {
    if s.is_empty() || s.starts_with('=') {
        bail!("invalid environment variable: {s}");
    }
    if s.contains('=') {
        return Ok(Some(s.to_string()));
    }
    Ok(lookup(s).map(|v| format!("{s}={v}")))
}

/// The lines of an `--env-file`: comments and blank lines skipped, `KEY` alone looked up.
pub fn env_file(content: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let key = l.split('=').next().unwrap_or("");
        if key.trim().is_empty() || key.contains(char::is_whitespace) {
            bail!("variable '{key}' contains whitespaces (line {})", i + 1);
        }
        if let Some(e) = env_entry(l, &lookup)? {
            out.push(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(ram_in_bytes("32m").unwrap(), 32 << 20);
        assert_eq!(ram_in_bytes("32M").unwrap(), 32 << 20);
        assert_eq!(ram_in_bytes("32mb").unwrap(), 32 << 20);
        assert_eq!(ram_in_bytes("512k").unwrap(), 512 << 10);
        assert_eq!(ram_in_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert_eq!(ram_in_bytes("2GiB").unwrap(), 2 << 30);
        for bad in ["12qb", "", "m", "1..2m", ".5m", "-1m", "1x"] {
            assert!(ram_in_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(ram_in_bytes("12qb").unwrap_err().to_string(), "invalid size: '12qb'");
        assert_eq!(memory_swap("-1").unwrap(), -1);
    }

    #[test]
    fn cpus_and_ulimits() {
        assert_eq!(nano_cpus("0.5").unwrap(), 500_000_000);
        assert!(nano_cpus("abc").is_err());
        assert_eq!(ulimit("nofile=1024:2048").unwrap(), Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 });
        assert_eq!(ulimit("nproc=10").unwrap().hard, 10);
        assert!(ulimit("nofile=5:1").is_err());
        assert!(ulimit("bogus=1").is_err());
        assert_eq!(device_rate("/dev/sda:1mb").unwrap(), ("/dev/sda".into(), 1 << 20));
        assert!(device_rate("sda:1mb").is_err());
    }

    #[test]
    fn env() {
        let look = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(env_entry("A=1", look).unwrap(), Some("A=1".into()));
        assert_eq!(env_entry("HOME", look).unwrap(), Some("HOME=/root".into()));
        assert_eq!(env_entry("UNSET", look).unwrap(), None);
        let f = env_file("# c\n\nA=1\nHOME\nB=x=y\n", look).unwrap();
        assert_eq!(f, vec!["A=1", "HOME=/root", "B=x=y"]);
        assert!(env_file("BAD KEY=1\n", look).is_err());
    }

    proptest! {
        #[test]
        fn size_parser_never_panics(s in ".{0,24}") {
            let _ = ram_in_bytes(&s);
            let _ = ulimit(&s);
            let _ = device_rate(&s);
            let _ = nano_cpus(&s);
        }

        #[test]
        fn env_file_never_panics(content in "(?s).{0,300}") {
            if let Ok(v) = env_file(&content, |_| None) {
                for e in v {
                    prop_assert!(e.contains('='));
                }
            }
        }

        #[test]
        fn sizes_round_trip(n in 0i64..1_000_000, unit in prop::sample::select(vec![("", 1i64), ("k", 1024), ("m", 1 << 20), ("g", 1 << 30)])) {
            prop_assert_eq!(ram_in_bytes(&format!("{n}{}", unit.0)).unwrap(), n * unit.1);
        }
    }
}
