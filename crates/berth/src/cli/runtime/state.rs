//! Container state of the OCI runtime front end: one directory per container under the state
//! root (`--root`, default `/run/berth/runtime`), holding `state.json` and, between `create`
//! and `start`, the exec FIFO. Status is derived, never stored: the init's pid (checked against
//! its start time, so a reused pid is not mistaken for it), the FIFO, and the process state.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// What `create` records.
#[derive(Debug, Clone)]
pub struct Saved {
    pub id: String,
    pub pid: i32,
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub cgroup_root: PathBuf,
    pub cgroup_path: String,
    pub annotations: Value,
}

pub fn valid_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if !ok {
        bail!("invalid container ID format: {id:?}");
    }
    Ok(())
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

pub fn fifo(root: &Path, id: &str) -> PathBuf {
    dir(root, id).join("exec.fifo")
}

/// The start time (clock ticks after boot) and state letter of a process, from /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(19)?.parse().ok()?, f.first()?.chars().next()?))
}

impl Saved {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "pid": self.pid, "pidStart": self.pid_start, "bundle": self.bundle,
            "rootfs": self.rootfs, "created": self.created, "cgroupRoot": self.cgroup_root,
            "cgroupPath": self.cgroup_path, "annotations": self.annotations,
        })
    }

    pub fn load(root: &Path, id: &str) -> Result<Saved> {
        valid_id(id)?;
        let p = dir(root, id).join("state.json");
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("container does not exist"),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        let v: Value = serde_json::from_str(&text).with_context(|| format!("decoding {}", p.display()))?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Ok(Saved {
            id: s("id"),
            pid: v["pid"].as_i64().unwrap_or(0) as i32,
            pid_start: v["pidStart"].as_u64().unwrap_or(0),
            bundle: s("bundle").into(),
            rootfs: s("rootfs").into(),
            created: s("created"),
            cgroup_root: s("cgroupRoot").into(),
            cgroup_path: s("cgroupPath"),
            annotations: v["annotations"].clone(),
        })
    }

    /// Writes state.json atomically (temp name, fsync, rename).
    pub fn save(&self, root: &Path) -> Result<()> {
        use std::io::Write;
        let d = dir(root, &self.id);
        let tmp = d.join(".state.json.tmp");
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(serde_json::to_string(&self.to_json())?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, d.join("state.json")).with_context(|| format!("writing state of {}", self.id))?;
        Ok(())
    }

    /// Whether the recorded init is still this container's (not a reused pid, not a zombie).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((start, st)) if start == self.pid_start && st != 'Z' && st != 'X')
    }

    /// created / running / paused / stopped.
    pub fn status(&self, root: &Path) -> &'static str {
        if !self.alive() {
            return "stopped";
        }
        if fifo(root, &self.id).exists() {
            return "created";
        }
        let m = self.cgroup();
        let frozen = ["freezer", ""].iter().filter_map(|c| m.path(c)).any(|p| {
            std::fs::read_to_string(p.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
                || std::fs::read_to_string(p.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
        });
        if frozen {
            "paused"
        } else {
            "running"
        }
    }

    pub fn cgroup(&self) -> berth_cgroups::Manager {
        let layout = berth_cgroups::Layout::detect(&self.cgroup_root).unwrap_or(berth_cgroups::Layout::V1);
        berth_cgroups::Manager::new(&self.cgroup_root, layout, &self.cgroup_path)
    }

    /// The runtime-spec state JSON (as `state` prints it).
    pub fn oci_state(&self, root: &Path) -> Value {
        let status = self.status(root);
        json!({
            "ociVersion": "1.2.0",
            "id": self.id,
            "status": status,
            "pid": if status == "stopped" { 0 } else { self.pid },
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": if self.annotations.is_null() { json!({}) } else { self.annotations.clone() },
        })
    }
}

/// Every container id under the state root.
pub fn ids(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join("state.json").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// RFC 3339 time in UTC with nanoseconds, as runc's state shows.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(valid_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_format() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }

    #[test]
    fn own_process_stat() {
        let (start, st) = proc_stat(std::process::id() as i32).unwrap();
        assert!(start > 0);
        assert!(st == 'R' || st == 'S');
    }
}
