//! cgroup management for berth containers on all three host layouts: cgroup v1, pure cgroup v2
//! ("unified") and hybrid (v1 controllers plus a cgroup2 mount at `<root>/unified`).
//!
//! The crate only ever creates, writes and removes cgroups under the path it is given
//! (`berth/<id>` by default): it never moves or edits a cgroup it did not create, except enabling
//! controllers in `cgroup.subtree_control` of the ancestors on v2, which is required to delegate
//! them, and filling a still-empty v1 `cpuset.cpus`/`cpuset.mems` of a shared parent (e.g.
//! `berth`) that another berth made a moment ago, with the value its maker is about to write.
//!
//! The hierarchies are found by probing the root (each `<root>/<name>` directory whose name
//! lists controllers berth uses and that holds `cgroup.procs`), not from mountinfo, so a fake
//! tree in a temp dir works the same; a manager probes once.
//!
//! API (stable; the runtime codes against it):
//! - [`Layout::detect`] reads the host layout from a cgroupfs root (normally `/sys/fs/cgroup`).
//! - [`Manager::new`] names a container cgroup; [`Manager::create`] makes it and applies
//!   [`oci_spec::runtime::LinuxResources`]; [`Manager::add_pid`] places a process;
//!   [`Manager::v2_dir`] opens the v2 directory for `clone3(CLONE_INTO_CGROUP)`;
//!   [`Manager::oom_kill_count`] tells whether the memory controller killed something;
//!   [`Manager::destroy`] kills leftovers and removes every directory it created.
//!
//! Where each resource goes: on v1 to the controller's own hierarchy; on v2 to the single
//! directory; on hybrid to the v1 hierarchy when that controller is mounted as v1, otherwise to
//! the unified directory when the cgroup2 tree offers it (e.g. `hugetlb` on hosts that only
//! have it there). The device rules go to `devices.allow`/`devices.deny` where the v1 devices
//! controller is mounted and are compiled to a `BPF_PROG_TYPE_CGROUP_DEVICE` program otherwise.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use oci_spec::runtime::LinuxResources;

mod bpf;
mod fs;
mod layout;
mod resources;
mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use layout::{Backend, Hierarchies, Kind};
pub use stats::Stats;

/// Errors name the cgroup file or directory and the operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cgroup {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A write of `value` to a cgroup file failed.
    #[error("cgroup write {path} {value:?}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid cgroup setting: {0}")]
    Invalid(String),
    #[error("cgroup layout: {0}")]
    Layout(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The host's cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies.
    V1,
    /// A single cgroup2 hierarchy at the root.
    V2,
    /// v1 controllers plus a cgroup2 hierarchy at `<root>/unified` (systemd's "hybrid").
    Hybrid,
}

/// One container cgroup, present in every hierarchy berth uses.
///
/// All methods take `&self`; the directories created by [`Manager::create`] and the warnings are
/// kept behind a mutex.
#[derive(Debug)]
pub struct Manager {
    root: PathBuf,
    layout: Layout,
    rel: String,
    hier: OnceLock<Hierarchies>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Directories this manager created, parents before children (None: `create` never ran).
    created: Option<Vec<PathBuf>>,
    /// Settings that were skipped because the host does not support them.
    warnings: Vec<String>,
}

impl Manager {
    /// `root` is the cgroupfs root (normally /sys/fs/cgroup; tests pass a fake tree), `rel` the
    /// container's path relative to each hierarchy, e.g. "berth/<id>". Does no I/O.
    pub fn new(root: &Path, layout: Layout, rel: &str) -> Manager {
        Manager {
            root: root.to_path_buf(),
            layout,
            rel: rel.trim_matches('/').to_string(),
            hier: OnceLock::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// Creates the cgroup in every hierarchy berth uses (v1: cpu, cpuacct, cpuset, memory,
    /// devices, freezer, blkio, pids, hugetlb — whichever are mounted; hybrid: those plus the
    /// unified directory; v2: the one directory), then applies `res`. Only the directories it
    /// made itself are remembered for [`Manager::destroy`]; on error they are removed again.
    pub fn create(&self, res: &LinuxResources) -> Result<()> {
        let parts = self.rel_parts()?;
        let h = self.hier()?;
        if h.v1.is_empty() && h.v2.is_none() {
            return Err(Error::Layout(format!("no cgroup hierarchy found under {}", self.root.display())));
        }
        let mut created = Vec::new();
        let mut warnings = Vec::new();
        let result = self
            .create_dirs(h, &parts, res, &mut created, &mut warnings)
            .and_then(|()| self.apply_with(h, res, &mut warnings));
        let mut st = self.lock();
        st.warnings.extend(warnings);
        if let Err(e) = result {
            drop(st);
            for d in created.iter().rev() {
                let _ = fs::rmdir_retry(d, false);
            }
            return Err(e);
        }
        st.created.get_or_insert_with(Vec::new).extend(created);
        Ok(())
    }

    /// Applies (again) a resource set, e.g. for a later `update` command.
    pub fn apply(&self, res: &LinuxResources) -> Result<()> {
        let h = self.hier()?;
        let mut warnings = Vec::new();
        let r = (|| {
            if let (Layout::Hybrid, Some(v2root)) = (self.layout, &h.v2) {
                let needed = self.v2_needed(h, res);
                v2::enable_controllers_along(v2root, &self.rel, &needed, &mut warnings)?;
            }
            self.apply_with(h, res, &mut warnings)
        })();
        self.lock().warnings.extend(warnings);
        r
    }

    /// Settings the host could not apply and that were skipped (e.g. a block I/O weight on a
    /// kernel without `blkio.weight`), as messages for the user. Never repeats a message.
    pub fn warnings(&self) -> Vec<String> {
        let st = self.lock();
        let mut out: Vec<String> = Vec::new();
        for w in &st.warnings {
            if !out.contains(w) {
                out.push(w.clone());
            }
        }
        out
    }

    /// Opens the v2 directory (`O_RDONLY|O_DIRECTORY|O_CLOEXEC`) for
    /// `clone3(CLONE_INTO_CGROUP)`; `None` on V1 and hybrid (the caller uses [`Manager::add_pid`]).
    pub fn v2_dir(&self) -> Result<Option<OwnedFd>> {
        if self.layout != Layout::V2 {
            return Ok(None);
        }
        self.rel_parts()?;
        let dir = self.root.join(&self.rel);
        fs::open_dir(&dir).map(Some)
    }

    /// Writes `pid` to `cgroup.procs` in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        if pid <= 0 {
            return Err(Error::Invalid(format!("cannot add pid {pid} to a cgroup")));
        }
        let h = self.hier()?;
        let value = pid.to_string();
        for dir in self.leaf_dirs(h) {
            fs::write(&dir.join("cgroup.procs"), &value)?;
        }
        Ok(())
    }

    /// Number of OOM kills in this cgroup (v1 `memory.oom_control`, v2 `memory.events`, key
    /// `oom_kill`); 0 when unknown.
    pub fn oom_kill_count(&self) -> u64 {
        let Ok(h) = self.hier() else { return 0 };
        let file = match self.backend(h, Kind::Memory) {
            Backend::V1(d) => d.join("memory.oom_control"),
            Backend::V2(d) => d.join("memory.events"),
            Backend::Missing => return 0,
        };
        std::fs::read_to_string(file).ok().and_then(|s| resources::keyed_value(&s, "oom_kill")).unwrap_or(0)
    }

    /// Freezes (`true`) or thaws the container: the v1 freezer (`freezer.state`, waiting until
    /// the kernel reports FROZEN) or, where there is none, v2 `cgroup.freeze`.
    pub fn freeze(&self, on: bool) -> Result<()> {
        let h = self.hier()?;
        let v1 = h.v1_root("freezer").map(|r| r.join(&self.rel)).filter(|d| d.is_dir());
        if let Some(d) = v1 {
            let file = d.join("freezer.state");
            let want = if on { "FROZEN" } else { "THAWED" };
            for _ in 0..1000 {
                fs::write(&file, want)?;
                if std::fs::read_to_string(&file).is_ok_and(|s| s.trim() == want) {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return Err(Error::Invalid(format!("{} did not become {want}", file.display())));
        }
        match h.v2.as_ref().map(|v| v.join(&self.rel)).filter(|d| d.join("cgroup.freeze").exists()) {
            Some(d) => fs::write(&d.join("cgroup.freeze"), if on { "1" } else { "0" }),
            None => Err(Error::Invalid("no freezer: neither a v1 freezer hierarchy nor cgroup v2".into())),
        }
    }

    /// The pids currently in the cgroup (the union over all hierarchies, sorted).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let h = self.hier()?;
        let dirs: Vec<PathBuf> = self.leaf_dirs(h).into_iter().filter(|d| d.is_dir()).collect();
        fs::pids_in(&dirs)
    }

    /// Kills every process still in the cgroup, removes the container directories and then the
    /// parent directories this manager created if they are empty (another container may still
    /// use them). A manager whose `create` did not run here (e.g. in a later `berth rm`) removes
    /// the container directory in each hierarchy and leaves the parents alone.
    pub fn destroy(&self) -> Result<()> {
        let h = self.hier()?;
        let leaves: Vec<PathBuf> = self.leaf_dirs(h).into_iter().filter(|d| d.is_dir()).collect();
        fs::kill_all(&leaves)?;
        let created = self.lock().created.clone();
        let to_remove = created.unwrap_or_else(|| leaves.clone());
        let mut first_err = None;
        let all_leaves = self.leaf_dirs(h);
        for d in to_remove.iter().rev() {
            if let Err(e) = fs::rmdir_retry(d, all_leaves.contains(d)) {
                first_err.get_or_insert(e);
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        self.lock().created = Some(Vec::new());
        Ok(())
    }

    /// Removes the empty ancestors of the container cgroup (such as berth's own `berth` parent)
    /// in every hierarchy, whoever created them. For parents that belong to berth only: the
    /// caller decides that. `rmdir` refuses a non-empty directory, so a parent another
    /// container still uses stays, and `create` retries if a parent vanishes under it.
    pub fn remove_empty_parents(&self) {
        let Ok(h) = self.hier() else { return };
        let depth = Path::new(&self.rel).components().count();
        for leaf in self.leaf_dirs(h) {
            let mut dir = leaf.parent();
            for _ in 1..depth {
                let Some(d) = dir else { break };
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
    }

    /// Path of the container cgroup in a given v1 controller (`"memory"`, `"cpu"`, …) or in the
    /// v2 tree (`""` or `"unified"`; on pure v2 every controller name maps to the one directory).
    pub fn path(&self, controller: &str) -> Option<PathBuf> {
        let h = self.hier().ok()?;
        let rel = &self.rel;
        match self.layout {
            Layout::V2 => Some(self.root.join(rel)),
            Layout::V1 | Layout::Hybrid => {
                if let Some(r) = h.v1_root(controller) {
                    return Some(r.join(rel));
                }
                let v2 = h.v2.as_ref()?;
                if controller.is_empty() || controller == "unified" || h.v2_controllers.iter().any(|c| c == controller)
                {
                    Some(v2.join(rel))
                } else {
                    None
                }
            }
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hierarchies, probed once; fails first on an invalid `rel`, so that no method ever
    /// touches a path outside the container's directories.
    fn hier(&self) -> Result<&Hierarchies> {
        self.rel_parts()?;
        if let Some(h) = self.hier.get() {
            return Ok(h);
        }
        let h = Hierarchies::probe(&self.root, self.layout)?;
        let _ = self.hier.set(h);
        Ok(self.hier.get().expect("just set"))
    }

    /// The components of `rel`, validated: relative, no `.`/`..`, not empty.
    fn rel_parts(&self) -> Result<Vec<&str>> {
        let parts: Vec<&str> = self.rel.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(Error::Invalid(format!("cgroup path {:?} must be a relative path without . or ..", self.rel)));
        }
        Ok(parts)
    }

    /// The container directory in each hierarchy, v1 ones first (deduplicated), then v2.
    fn leaf_dirs(&self, h: &Hierarchies) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = h.v1_unique().iter().map(|r| r.join(&self.rel)).collect();
        if let Some(v2) = &h.v2 {
            out.push(v2.join(&self.rel));
        }
        out
    }

    fn backend(&self, h: &Hierarchies, kind: Kind) -> Backend {
        h.backend(self.layout, kind, &self.rel)
    }

    /// The v2 controllers the resources need on hybrid (those not mounted as v1).
    fn v2_needed(&self, h: &Hierarchies, res: &LinuxResources) -> Vec<&'static str> {
        Kind::ALL
            .iter()
            .filter(|k| resources::requested(res, **k) && matches!(self.backend(h, **k), Backend::V2(_)))
            .filter_map(|k| k.v2_name())
            .collect()
    }

    fn create_dirs(
        &self,
        h: &Hierarchies,
        parts: &[&str],
        res: &LinuxResources,
        created: &mut Vec<PathBuf>,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        for hroot in h.v1_unique() {
            let is_cpuset = h.v1_root("cpuset") == Some(hroot);
            fs::mkdir_levels(
                hroot,
                parts,
                created,
                |_| Ok(()),
                |dir| if is_cpuset { v1::init_cpuset(hroot, dir) } else { Ok(()) },
            )?;
        }
        if let Some(v2root) = &h.v2 {
            let wanted: Vec<&'static str> =
                if self.layout == Layout::V2 { v2::WANTED.to_vec() } else { self.v2_needed(h, res) };
            // Enable the controllers in each ancestor's subtree_control, from the root down,
            // before creating the level below it.
            fs::mkdir_levels(
                v2root,
                parts,
                created,
                |parent| v2::enable_controllers(parent, &wanted, warnings),
                |_| Ok(()),
            )?;
        }
        Ok(())
    }

    fn apply_with(&self, h: &Hierarchies, res: &LinuxResources, warnings: &mut Vec<String>) -> Result<()> {
        let root = &self.root;
        let miss = |what: &str, ctrl: &str| {
            Error::Invalid(format!("cannot apply {what}: no {ctrl} cgroup controller under {}", root.display()))
        };
        for kind in Kind::ALL {
            if !resources::requested(res, kind) {
                continue;
            }
            match (self.backend(h, kind), kind) {
                (Backend::V1(dir), _) => v1::apply(&dir, kind, res, warnings)?,
                (Backend::V2(dir), _) => v2::apply(&dir, kind, res, warnings)?,
                (Backend::Missing, Kind::Io) => {
                    warnings.push("block I/O controller not available; block I/O limits ignored".to_string())
                }
                (Backend::Missing, _) => return Err(miss(kind.what(), kind.v1_name())),
            }
        }
        if let Some(unified) = res.unified().as_ref().filter(|u| !u.is_empty()) {
            let Some(v2root) = &h.v2 else {
                return Err(Error::Invalid("unified resources need cgroup v2".to_string()));
            };
            v2::unified(&v2root.join(&self.rel), unified)?;
        }
        Ok(())
    }
}
