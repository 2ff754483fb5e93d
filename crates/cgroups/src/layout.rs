//! Host layout detection and discovery of the hierarchies under a cgroupfs root.

use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};

use crate::{Error, Layout, Result};

/// The v1 controllers berth creates a directory in (when mounted).
pub(crate) const V1_CONTROLLERS: [&str; 9] =
    ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb"];

impl Layout {
    /// Reads the layout of the cgroupfs at `root` with statfs: cgroup2 at `root` is V2; a tmpfs
    /// `root` with cgroup2 at `root/unified` is Hybrid; anything else is V1.
    pub fn detect(root: &Path) -> Result<Layout> {
        let st = statfs(root).map_err(|e| Error::Layout(format!("statfs {}: {e}", root.display())))?;
        let t = st.filesystem_type();
        if t == CGROUP2_SUPER_MAGIC {
            return Ok(Layout::V2);
        }
        if t == TMPFS_MAGIC && statfs(&root.join("unified")).is_ok_and(|u| u.filesystem_type() == CGROUP2_SUPER_MAGIC) {
            return Ok(Layout::Hybrid);
        }
        Ok(Layout::V1)
    }
}

/// A kind of resource, i.e. a controller under its v1 and v2 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Cpuset,
    Memory,
    Cpu,
    Pids,
    Io,
    Hugetlb,
    Devices,
}

impl Kind {
    /// In the order resources are applied: cpuset first (a v1 cpuset must be filled before
    /// anything joins), devices last.
    pub(crate) const ALL: [Kind; 7] =
        [Kind::Cpuset, Kind::Memory, Kind::Cpu, Kind::Pids, Kind::Io, Kind::Hugetlb, Kind::Devices];

    pub(crate) fn v1_name(self) -> &'static str {
        match self {
            Kind::Cpuset => "cpuset",
            Kind::Memory => "memory",
            Kind::Cpu => "cpu",
            Kind::Pids => "pids",
            Kind::Io => "blkio",
            Kind::Hugetlb => "hugetlb",
            Kind::Devices => "devices",
        }
    }

    /// The controller's name in `cgroup.controllers`; devices have none (an eBPF program).
    pub(crate) fn v2_name(self) -> Option<&'static str> {
        match self {
            Kind::Cpuset => Some("cpuset"),
            Kind::Memory => Some("memory"),
            Kind::Cpu => Some("cpu"),
            Kind::Pids => Some("pids"),
            Kind::Io => Some("io"),
            Kind::Hugetlb => Some("hugetlb"),
            Kind::Devices => None,
        }
    }

    /// For error messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Kind::Cpuset => "cpuset limits",
            Kind::Memory => "memory limits",
            Kind::Cpu => "cpu limits",
            Kind::Pids => "pids limit",
            Kind::Io => "block I/O limits",
            Kind::Hugetlb => "hugepage limits",
            Kind::Devices => "device rules",
        }
    }
}

/// Where a kind of resource is written for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The container directory in the controller's v1 hierarchy.
    V1(PathBuf),
    /// The container directory in the cgroup2 tree.
    V2(PathBuf),
    /// The host has no such controller.
    Missing,
}

/// The hierarchies under one cgroupfs root, found by probing the root (so a fake tree works).
#[derive(Debug, Default)]
pub(crate) struct Hierarchies {
    /// (controller, hierarchy root) for each mounted v1 controller berth uses; co-mounted
    /// controllers (`cpu,cpuacct`) share a root.
    pub(crate) v1: Vec<(&'static str, PathBuf)>,
    /// The cgroup2 tree: `root` on V2, `root/unified` on hybrid.
    pub(crate) v2: Option<PathBuf>,
    /// What the cgroup2 root offers (its `cgroup.controllers`).
    pub(crate) v2_controllers: Vec<String>,
}

impl Hierarchies {
    /// V1/hybrid: every directory entry of `root` whose name lists controllers berth uses
    /// (`memory`, `cpu,cpuacct`) and that holds a `cgroup.procs` is a hierarchy; symbolic links
    /// (`cpu -> cpu,cpuacct`) are skipped, their targets are found directly.
    pub(crate) fn probe(root: &Path, layout: Layout) -> Result<Hierarchies> {
        let mut h = Hierarchies::default();
        let v2 = match layout {
            Layout::V2 => Some(root.to_path_buf()),
            Layout::Hybrid => Some(root.join("unified")),
            Layout::V1 => None,
        };
        if layout != Layout::V2 {
            let rd = std::fs::read_dir(root).map_err(|e| Error::Io {
                op: "read directory",
                path: root.to_path_buf(),
                source: e,
            })?;
            let mut found: Vec<(&'static str, PathBuf)> = Vec::new();
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                if !ft.is_dir() {
                    continue;
                }
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                let ctrls: Vec<&'static str> =
                    name.split(',').filter_map(|c| V1_CONTROLLERS.iter().find(|k| **k == c).copied()).collect();
                if ctrls.is_empty() || !e.path().join("cgroup.procs").exists() {
                    continue;
                }
                for c in ctrls {
                    found.push((c, e.path()));
                }
            }
            // A stable order (the order of V1_CONTROLLERS), independent of readdir.
            found.sort_by_key(|(c, _)| V1_CONTROLLERS.iter().position(|k| k == c));
            h.v1 = found;
        }
        if let Some(v2) = v2 {
            let f = v2.join("cgroup.controllers");
            let text = std::fs::read_to_string(&f).map_err(|e| Error::Io { op: "read", path: f, source: e })?;
            h.v2_controllers = text.split_whitespace().map(str::to_string).collect();
            h.v2 = Some(v2);
        }
        Ok(h)
    }

    pub(crate) fn v1_root(&self, controller: &str) -> Option<&Path> {
        self.v1.iter().find(|(c, _)| *c == controller).map(|(_, p)| p.as_path())
    }

    /// Each v1 hierarchy root once.
    pub(crate) fn v1_unique(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for (_, p) in &self.v1 {
            if !out.contains(&p.as_path()) {
                out.push(p);
            }
        }
        out
    }

    /// Where `kind` is written for the container at `rel`.
    pub(crate) fn backend(&self, layout: Layout, kind: Kind, rel: &str) -> Backend {
        if layout == Layout::V2 {
            return match &self.v2 {
                Some(v2) => Backend::V2(v2.join(rel)),
                None => Backend::Missing,
            };
        }
        if let Some(r) = self.v1_root(kind.v1_name()) {
            return Backend::V1(r.join(rel));
        }
        match (&self.v2, kind.v2_name()) {
            (Some(v2), None) => Backend::V2(v2.join(rel)),
            (Some(v2), Some(name)) if self.v2_controllers.iter().any(|c| c == name) => Backend::V2(v2.join(rel)),
            _ => Backend::Missing,
        }
    }
}
