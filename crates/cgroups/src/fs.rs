//! File-system primitives for cgroupfs: writes that name the file and value, directory creation
//! that survives a concurrent removal of a shared parent, removal that waits for dying tasks,
//! and killing what is left in a cgroup.
//!
//! Under `cfg(test)` every write is recorded in a per-thread journal and a per-thread "fake
//! kernel" may populate new directories, so that unit tests on a temp-dir tree see what the
//! kernel would show.

use std::io::{ErrorKind, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How often `mkdir_levels` starts over when a parent disappears under it.
const MKDIR_ATTEMPTS: usize = 8;
/// How long to wait for a cgroup to empty (kill) or become removable (rmdir).
const WAIT_LIMIT: Duration = Duration::from_secs(5);

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Writes `value` to an existing cgroup file in one `write(2)` (never creates the file).
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    #[cfg(test)]
    {
        if let Some(r) = test_hooks::write(path, value) {
            return r;
        }
    }
    let werr = |source| Error::Write { path: path.to_path_buf(), value: value.to_string(), source };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(werr)?;
    f.write_all(value.as_bytes()).map_err(werr)
}

/// Like [`write`], but a missing file is reported as `Ok(false)` instead of an error.
pub(crate) fn write_if_exists(path: &Path, value: &str) -> Result<bool> {
    match write(path, value) {
        Ok(()) => Ok(true),
        Err(Error::Write { source, .. }) if source.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(io_err("read", path))
}

pub(crate) fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Opens a cgroup directory `O_RDONLY|O_DIRECTORY|O_CLOEXEC` (what `CLONE_INTO_CGROUP` and
/// `BPF_PROG_ATTACH` need; `O_PATH` is refused by both).
pub(crate) fn open_dir(dir: &Path) -> Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(io_err("open", dir))?;
    Ok(OwnedFd::from(f))
}

fn mkdir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir(dir)?;
    #[cfg(test)]
    test_hooks::mkdir(dir);
    Ok(())
}

fn rmdir(dir: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    test_hooks::rmdir(dir);
    std::fs::remove_dir(dir)
}

/// `mkdir -p hroot/parts…`, appending every directory it made itself to `created`.
/// `before(parent)` runs before each level is made (also for levels that already exist);
/// `after_new(dir)` runs right after this call made `dir`. When a level vanishes under us (another
/// berth removing an empty shared parent), starts over from the top.
pub(crate) fn mkdir_levels(
    hroot: &Path,
    parts: &[&str],
    created: &mut Vec<PathBuf>,
    mut before: impl FnMut(&Path) -> Result<()>,
    mut after_new: impl FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let mut attempt = 0;
    'again: loop {
        attempt += 1;
        let mut dir = hroot.to_path_buf();
        for part in parts {
            let retry = |e: &Error| attempt < MKDIR_ATTEMPTS && vanished(e);
            if let Err(e) = before(&dir) {
                if retry(&e) {
                    continue 'again;
                }
                return Err(e);
            }
            dir.push(part);
            match mkdir(&dir) {
                Ok(()) => {
                    if !created.contains(&dir) {
                        created.push(dir.clone());
                    }
                    // Another berth may remove the new, still empty parent under us: start again.
                    if let Err(e) = after_new(&dir) {
                        if retry(&e) {
                            continue 'again;
                        }
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e)
                    if e.kind() == ErrorKind::NotFound && attempt < MKDIR_ATTEMPTS && dir.parent() != Some(hroot) =>
                {
                    continue 'again
                }
                Err(e) => return Err(Error::Io { op: "mkdir", path: dir, source: e }),
            }
        }
        return Ok(());
    }
}

/// The error says a directory (or its files) disappeared: a concurrent removal of an empty
/// shared parent.
fn vanished(e: &Error) -> bool {
    let src = match e {
        Error::Io { source, .. } => source,
        Error::Write { source, .. } => source,
        _ => return false,
    };
    matches!(src.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV))
}

/// The subdirectories below `dir` (cgroups the container made inside its own), deepest first.
fn descendants(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(descendants(&e.path()));
                out.push(e.path());
            }
        }
    }
    out
}

/// Removes a cgroup directory. A container directory (`leaf`) goes with any cgroups made
/// inside it and is retried on `EBUSY` while its dying tasks go away; a parent is removed only
/// if empty, and `ENOTEMPTY`/`EBUSY` (another container still uses it) are not errors. A
/// missing directory is fine either way.
pub(crate) fn rmdir_retry(dir: &Path, leaf: bool) -> Result<()> {
    if leaf {
        for d in descendants(dir) {
            rmdir_one(&d, true)?;
        }
    }
    rmdir_one(dir, leaf)
}

fn rmdir_one(dir: &Path, leaf: bool) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY)) => {
                if !leaf {
                    return Ok(());
                }
                if start.elapsed() >= WAIT_LIMIT {
                    return Err(Error::Io { op: "rmdir", path: dir.to_path_buf(), source: e });
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(Error::Io { op: "rmdir", path: dir.to_path_buf(), source: e }),
        }
    }
}

/// The pids listed in `cgroup.procs` of all `dirs` and the cgroups below them (sorted,
/// deduplicated; 0 — a process in another pid namespace — is left out).
pub(crate) fn pids_in(dirs: &[PathBuf]) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    let all = dirs.iter().flat_map(|d| std::iter::once(d.clone()).chain(descendants(d)));
    for d in all {
        let d = &d;
        let f = d.join("cgroup.procs");
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound && !d.exists() => continue,
            Err(e) => return Err(Error::Io { op: "read", path: f, source: e }),
        };
        out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()).filter(|p| *p > 0));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Kills every process in the cgroup directories `dirs` and waits (bounded) until none is left:
/// thaws a frozen cgroup first, uses `cgroup.kill` where the kernel has it, then SIGKILLs each
/// pid from `cgroup.procs` until the lists are empty. Never signals the calling process.
pub(crate) fn kill_all(dirs: &[PathBuf]) -> Result<()> {
    let mut pids = pids_in(dirs)?;
    if pids.is_empty() {
        return Ok(());
    }
    for d in dirs {
        // Frozen tasks cannot die: thaw (v1 freezer, v2 cgroup.freeze) before killing.
        let state = d.join("freezer.state");
        if std::fs::read_to_string(&state).is_ok_and(|s| s.trim() != "THAWED") {
            let _ = write(&state, "THAWED");
        }
        let freeze = d.join("cgroup.freeze");
        if std::fs::read_to_string(&freeze).is_ok_and(|s| s.trim() == "1") {
            let _ = write(&freeze, "0");
        }
        let _ = write_if_exists(&d.join("cgroup.kill"), "1");
    }
    let me = std::process::id() as i32;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        for &p in &pids {
            if p != me {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
            }
        }
        pids = pids_in(dirs)?;
        if pids.is_empty() || pids == [me] {
            return Ok(());
        }
        if start.elapsed() >= WAIT_LIMIT {
            return Err(Error::Invalid(format!(
                "processes {pids:?} still in cgroup {} after SIGKILL",
                dirs[0].display()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Test-only hooks: a per-thread journal of writes and a per-thread fake kernel.
#[cfg(test)]
pub(crate) mod test_hooks {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};
    use std::rc::Rc;

    /// What the kernel does on a cgroupfs that a temp dir does not.
    pub(crate) trait FakeKernel {
        /// Populates a new cgroup directory with its interface files.
        fn mkdir(&self, dir: &Path);
        /// Intercepts a write (e.g. `cgroup.subtree_control` semantics); `None` = plain write.
        fn write(&self, path: &Path, value: &str) -> Option<crate::Result<()>>;
    }

    thread_local! {
        static JOURNAL: RefCell<Vec<(PathBuf, String)>> = const { RefCell::new(Vec::new()) };
        static KERNEL: RefCell<Option<Rc<dyn FakeKernel>>> = const { RefCell::new(None) };
    }

    pub(crate) fn set_kernel(k: Option<Rc<dyn FakeKernel>>) {
        KERNEL.with(|c| *c.borrow_mut() = k);
    }

    /// The writes made on this thread since the last call, in order.
    pub(crate) fn take_journal() -> Vec<(PathBuf, String)> {
        JOURNAL.with(|j| std::mem::take(&mut *j.borrow_mut()))
    }

    fn kernel() -> Option<Rc<dyn FakeKernel>> {
        KERNEL.with(|c| c.borrow().clone())
    }

    pub(super) fn write(path: &Path, value: &str) -> Option<crate::Result<()>> {
        JOURNAL.with(|j| j.borrow_mut().push((path.to_path_buf(), value.to_string())));
        kernel().and_then(|k| k.write(path, value))
    }

    pub(super) fn mkdir(dir: &Path) {
        if let Some(k) = kernel() {
            k.mkdir(dir);
        }
    }

    /// cgroupfs removes a cgroup's interface files with it: do that for a fake directory
    /// without subdirectories.
    pub(super) fn rmdir(dir: &Path) {
        if kernel().is_none() {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        let entries: Vec<_> = rd.flatten().collect();
        if entries.iter().any(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
            return;
        }
        for e in entries {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
