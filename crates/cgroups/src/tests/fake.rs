//! A fake cgroupfs in a temp dir: the hierarchies' root files, and a fake kernel that fills new
//! directories with interface files and implements `cgroup.subtree_control`.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::fs::test_hooks::{self, FakeKernel};
use crate::{Error, Layout, Result};

/// What the fake host offers.
#[derive(Clone, Debug)]
pub(crate) struct Opts {
    /// v1 hierarchies by directory name ("cpu,cpuacct" for a co-mount).
    pub v1: Vec<&'static str>,
    /// Swap accounting: v1 `memory.memsw.limit_in_bytes`, v2 `memory.swap.max`.
    pub swap: bool,
    /// The block I/O weight file: v1 "blkio.weight"/"blkio.bfq.weight", v2 "io.weight"/"io.bfq.weight".
    pub io_weight: Option<&'static str>,
    /// `cgroup.controllers` of the cgroup2 root.
    pub v2_controllers: &'static str,
    /// Controllers the fake kernel refuses to enable in a subtree_control.
    pub refuse: Vec<&'static str>,
}

pub(crate) const ALL_V1: [&str; 9] =
    ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb"];

impl Opts {
    pub(crate) fn v1() -> Opts {
        Opts { v1: ALL_V1.to_vec(), swap: true, io_weight: Some("blkio.weight"), v2_controllers: "", refuse: vec![] }
    }
    pub(crate) fn v2() -> Opts {
        Opts {
            v1: vec![],
            swap: true,
            io_weight: Some("io.weight"),
            v2_controllers: "cpuset cpu io memory hugetlb pids rdma misc",
            refuse: vec![],
        }
    }
    pub(crate) fn hybrid() -> Opts {
        let v1 = ALL_V1.iter().copied().filter(|c| *c != "hugetlb").collect();
        Opts { v1, swap: true, io_weight: None, v2_controllers: "hugetlb", refuse: vec![] }
    }
}

/// The fake tree; dropping it uninstalls the fake kernel and removes the tree.
pub(crate) struct Tree {
    pub root: PathBuf,
    pub layout: Layout,
    _dir: tempfile::TempDir,
}

struct Kernel {
    root: PathBuf,
    layout: Layout,
    opts: Opts,
}

pub(crate) fn put(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

pub(crate) fn get(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

impl Tree {
    pub(crate) fn new(layout: Layout, opts: Opts) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cgroup");
        std::fs::create_dir(&root).unwrap();
        let k = Kernel { root: root.clone(), layout, opts: opts.clone() };
        if layout != Layout::V2 {
            for name in &opts.v1 {
                let d = root.join(name);
                std::fs::create_dir(&d).unwrap();
                k.v1_files(&d, name);
                // Root values the kernel shows.
                if name.split(',').any(|c| c == "cpuset") {
                    put(&d.join("cpuset.cpus"), "0-3\n");
                    put(&d.join("cpuset.mems"), "0\n");
                }
                if name.contains(',') {
                    for c in name.split(',') {
                        std::os::unix::fs::symlink(name, root.join(c)).unwrap();
                    }
                }
            }
            // A named hierarchy, and empty mount points of controllers that are not mounted:
            // berth must ignore both.
            std::fs::create_dir(root.join("systemd")).unwrap();
            put(&root.join("systemd/cgroup.procs"), "");
            for c in ALL_V1 {
                if !root.join(c).exists() {
                    std::fs::create_dir(root.join(c)).unwrap();
                }
            }
        }
        let v2root = match layout {
            Layout::V2 => Some(root.clone()),
            Layout::Hybrid => Some(root.join("unified")),
            Layout::V1 => None,
        };
        if let Some(v2) = v2root {
            std::fs::create_dir_all(&v2).unwrap();
            put(&v2.join("cgroup.controllers"), &format!("{}\n", opts.v2_controllers));
            put(&v2.join("cgroup.subtree_control"), "\n");
            put(&v2.join("cgroup.procs"), "");
        }
        test_hooks::set_kernel(Some(Rc::new(k)));
        test_hooks::take_journal();
        Tree { root, layout, _dir: dir }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        test_hooks::set_kernel(None);
    }
}

impl Kernel {
    fn v1_files(&self, d: &Path, hierarchy: &str) {
        let mut files: Vec<(String, String)> =
            vec![("cgroup.procs".into(), String::new()), ("tasks".into(), String::new())];
        let mut add = |n: &str, v: &str| files.push((n.to_string(), v.to_string()));
        for c in hierarchy.split(',') {
            match c {
                "cpu" => {
                    add("cpu.shares", "1024\n");
                    add("cpu.cfs_quota_us", "-1\n");
                    add("cpu.cfs_period_us", "100000\n");
                    add("cpu.cfs_burst_us", "0\n");
                    add("cpu.idle", "0\n");
                }
                "cpuacct" => add("cpuacct.usage", "0\n"),
                "cpuset" => {
                    add("cpuset.cpus", "\n");
                    add("cpuset.mems", "\n");
                }
                "memory" => {
                    add("memory.limit_in_bytes", "9223372036854771712\n");
                    if self.opts.swap {
                        add("memory.memsw.limit_in_bytes", "9223372036854771712\n");
                    }
                    add("memory.soft_limit_in_bytes", "9223372036854771712\n");
                    add("memory.swappiness", "60\n");
                    add("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
                    add("memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n");
                }
                "devices" => {
                    add("devices.allow", "");
                    add("devices.deny", "");
                    add("devices.list", "a *:* rwm\n");
                }
                "freezer" => add("freezer.state", "THAWED\n"),
                "blkio" => {
                    for f in ["read_bps_device", "write_bps_device", "read_iops_device", "write_iops_device"] {
                        add(&format!("blkio.throttle.{f}"), "");
                    }
                    if let Some(w) = self.opts.io_weight {
                        add(w, "500\n");
                        add(&w.replace("weight", "weight_device"), "");
                    }
                }
                "pids" => add("pids.max", "max\n"),
                "hugetlb" => {
                    add("hugetlb.2MB.limit_in_bytes", "9223372036854771712\n");
                    add("hugetlb.1GB.limit_in_bytes", "9223372036854771712\n");
                }
                _ => {}
            }
        }
        for (n, v) in files {
            if !d.join(&n).exists() {
                put(&d.join(n), &v);
            }
        }
    }

    /// Interface files of a v2 cgroup whose parent enables `enabled`.
    fn v2_files(&self, d: &Path, enabled: &str) {
        let mut files: Vec<(String, String)> = vec![
            ("cgroup.controllers".into(), format!("{enabled}\n")),
            ("cgroup.procs".into(), String::new()),
            ("cgroup.events".into(), "populated 0\nfrozen 0\n".into()),
            ("cgroup.kill".into(), String::new()),
            ("cgroup.freeze".into(), "0\n".into()),
        ];
        if !d.join("cgroup.subtree_control").exists() {
            files.push(("cgroup.subtree_control".into(), "\n".into()));
        }
        let mut add = |n: &str, v: &str| files.push((n.to_string(), v.to_string()));
        for c in enabled.split_whitespace() {
            match c {
                "cpu" => {
                    add("cpu.weight", "100\n");
                    add("cpu.max", "max 100000\n");
                    add("cpu.max.burst", "0\n");
                    add("cpu.idle", "0\n");
                }
                "memory" => {
                    add("memory.max", "max\n");
                    add("memory.high", "max\n");
                    add("memory.low", "0\n");
                    if self.opts.swap {
                        add("memory.swap.max", "max\n");
                    }
                    add("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
                }
                "pids" => add("pids.max", "max\n"),
                "io" => {
                    add("io.max", "");
                    if let Some(w) = self.opts.io_weight {
                        add(w, "default 100\n");
                    }
                }
                "cpuset" => {
                    add("cpuset.cpus", "\n");
                    add("cpuset.mems", "\n");
                }
                "hugetlb" => {
                    add("hugetlb.2MB.max", "max\n");
                    add("hugetlb.2MB.rsvd.max", "max\n");
                }
                _ => {}
            }
        }
        for (n, v) in files {
            if n == "cgroup.controllers" || !d.join(&n).exists() {
                put(&d.join(n), &v);
            }
        }
    }

    fn is_v2(&self, dir: &Path) -> bool {
        self.layout == Layout::V2 || dir.strip_prefix(&self.root).is_ok_and(|r| r.starts_with("unified"))
    }
}

impl FakeKernel for Kernel {
    fn mkdir(&self, dir: &Path) {
        if self.is_v2(dir) {
            let enabled = get(&dir.parent().unwrap().join("cgroup.subtree_control"));
            self.v2_files(dir, enabled.trim());
        } else {
            let rel = dir.strip_prefix(&self.root).unwrap();
            let top = rel.components().next().unwrap().as_os_str().to_str().unwrap().to_string();
            self.v1_files(dir, &top);
        }
    }

    fn write(&self, path: &Path, value: &str) -> Option<Result<()>> {
        if path.file_name()? != "cgroup.subtree_control" || !path.exists() {
            return None;
        }
        let dir = path.parent().unwrap();
        let avail = get(&dir.join("cgroup.controllers"));
        let mut enabled: Vec<String> = get(path).split_whitespace().map(str::to_string).collect();
        for tok in value.split_whitespace() {
            let (on, c) = match tok.split_at(1) {
                ("+", c) => (true, c),
                ("-", c) => (false, c),
                _ => return Some(Err(einval(path, value))),
            };
            if !avail.split_whitespace().any(|a| a == c) || self.opts.refuse.contains(&c) {
                return Some(Err(einval(path, value)));
            }
            enabled.retain(|e| e != c);
            if on {
                enabled.push(c.to_string());
            }
        }
        let line = enabled.join(" ");
        put(path, &format!("{line}\n"));
        // The kernel shows newly enabled controllers in existing children at once.
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                self.v2_files(&e.path(), &line);
            }
        }
        Some(Ok(()))
    }
}

fn einval(path: &Path, value: &str) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    }
}

/// The writes made since the last call, as (path relative to `root`, value).
pub(crate) fn journal(root: &Path) -> Vec<(String, String)> {
    test_hooks::take_journal()
        .into_iter()
        .map(|(p, v)| {
            (p.strip_prefix(root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string()), v)
        })
        .collect()
}
