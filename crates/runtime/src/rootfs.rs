//! The container's mount namespace: the spec's mounts inside the root filesystem, the cgroup
//! tree, devices, `pivot_root`, then masked and read-only paths.
//!
//! Everything the child needs is parsed in the parent into a [`MountPlan`]; the child only makes
//! system calls. Mount targets are resolved inside the root with `openat2(RESOLVE_IN_ROOT)`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::Mount;

use crate::error::{Error, Result};
use crate::fsutil::{mkdir_all_in_root, open_root, proc_fd_path, touch_in_root};

/// What kind of mount an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A file system or bind mount made as written.
    Plain,
    /// The container's view of the cgroup tree (`type: cgroup`): cgroup2 on v2, a tmpfs with
    /// one mount per v1 hierarchy otherwise.
    Cgroup,
}

/// One parsed mount entry.
#[derive(Debug, Clone)]
pub struct MountPlan {
    pub kind: MountKind,
    pub source: Option<PathBuf>,
    pub dest: PathBuf,
    pub fstype: Option<String>,
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub data: String,
    pub bind: bool,
}

/// A v1 hierarchy to show inside the container: directory name under /sys/fs/cgroup and the
/// mount options (controllers), or a symlink such as `cpu -> cpu,cpuacct`.
#[derive(Debug, Clone)]
pub enum CgroupEntry {
    V1 { name: String, options: String },
    Unified { name: String },
    Link { name: String, target: String },
}

/// Parses OCI mount options into mount flags, propagation flags and file-system data, as runc.
pub fn parse_options(options: &[String]) -> (MsFlags, MsFlags, String, bool) {
    let mut flags = MsFlags::empty();
    let mut prop = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    let mut bind = false;
    for o in options {
        let (set, clear, p) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty(), None),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY, None),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty(), None),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID, None),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty(), None),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV, None),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty(), None),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC, None),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty(), None),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS, None),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty(), None),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty(), None),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty(), None),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK, None),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME, None),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty(), None),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME, None),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty(), None),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty(), None),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME, None),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty(), None),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME, None),
            "bind" => {
                bind = true;
                (MsFlags::MS_BIND, MsFlags::empty(), None)
            }
            "rbind" => {
                bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty(), None)
            }
            "private" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_PRIVATE)),
            "rprivate" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC)),
            "slave" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_SLAVE)),
            "rslave" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)),
            "shared" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_SHARED)),
            "rshared" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_SHARED | MsFlags::MS_REC)),
            "unbindable" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_UNBINDABLE)),
            "runbindable" => (MsFlags::empty(), MsFlags::empty(), Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC)),
            // Docker's SELinux relabel hints and volume options: nothing to do at mount time.
            "z" | "Z" | "nocopy" | "copy" => continue,
            other => {
                data.push(other);
                continue;
            }
        };
        flags |= set;
        flags &= !clear;
        if let Some(p) = p {
            prop |= p;
        }
    }
    (flags, prop, data.join(","), bind)
}

/// Builds the plan for the spec's mounts.
pub fn plan_mounts(mounts: &[Mount]) -> Result<Vec<MountPlan>> {
    mounts
        .iter()
        .map(|m| {
            let opts = m.options().clone().unwrap_or_default();
            let (flags, propagation, data, bind_opt) = parse_options(&opts);
            let fstype = m.typ().clone();
            let bind = bind_opt || fstype.as_deref() == Some("bind");
            if !m.destination().is_absolute() {
                return Err(Error::Spec(format!("mount destination {} is not absolute", m.destination().display())));
            }
            let kind = if fstype.as_deref() == Some("cgroup") || fstype.as_deref() == Some("cgroup2") {
                MountKind::Cgroup
            } else {
                MountKind::Plain
            };
            Ok(MountPlan {
                kind,
                source: m.source().clone(),
                dest: m.destination().clone(),
                fstype,
                flags: if bind { flags | MsFlags::MS_BIND } else { flags },
                propagation,
                data,
                bind,
            })
        })
        .collect()
}

fn do_mount(
    src: Option<&Path>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: &str,
    shown: &Path,
) -> Result<()> {
    let t = proc_fd_path(target);
    let data = if data.is_empty() { None } else { Some(data) };
    mount(src, t.as_c_str(), fstype, flags, data).map_err(|source| Error::Io {
        op: "mount",
        path: shown.to_path_buf(),
        source: std::io::Error::from(source),
    })
}

/// Read-only remount of an existing bind mount, keeping the flags the kernel locks.
fn remount_ro(target: &OwnedFd, extra: MsFlags, shown: &Path) -> Result<()> {
    let t = proc_fd_path(target);
    let locked = match nix::sys::statvfs::fstatvfs(target) {
        Ok(s) => {
            use nix::sys::statvfs::FsFlags;
            let f = s.flags();
            let mut m = MsFlags::empty();
            for (ff, mf) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
            ] {
                if f.contains(ff) {
                    m |= mf;
                }
            }
            m
        }
        Err(_) => MsFlags::empty(),
    };
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked | extra;
    mount(None::<&str>, t.as_c_str(), None::<&str>, flags, None::<&str>).map_err(|e| Error::Io {
        op: "remount read-only",
        path: shown.to_path_buf(),
        source: e.into(),
    })
}

/// Mounts one entry inside the root (before `pivot_root`).
fn mount_one(root: &OwnedFd, m: &MountPlan, cgroups: &[CgroupEntry]) -> Result<()> {
    if m.kind == MountKind::Cgroup {
        return mount_cgroups(root, m, cgroups);
    }
    let src_is_file = m.bind && m.source.as_deref().map(|s| !s.is_dir()).unwrap_or(false);
    let target =
        if src_is_file { touch_in_root(root.as_fd(), &m.dest) } else { mkdir_all_in_root(root.as_fd(), &m.dest) }
            .map_err(Error::io("create mount point", &m.dest))?;
    if m.bind {
        let src =
            m.source.as_deref().ok_or_else(|| Error::Spec(format!("bind mount {} has no source", m.dest.display())))?;
        let flags = MsFlags::MS_BIND | (m.flags & MsFlags::MS_REC);
        do_mount(Some(src), &target, None, flags, "", &m.dest)?;
        // Re-open: the fd still points at the directory below the new mount.
        let target = crate::fsutil::open_in_root(root.as_fd(), &m.dest, libc::O_PATH, 0)
            .map_err(Error::io("open mount point", &m.dest))?;
        let other = m.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if other.contains(MsFlags::MS_RDONLY) {
            remount_ro(&target, other & !MsFlags::MS_RDONLY, &m.dest)?;
        } else if !other.is_empty() {
            let t = proc_fd_path(&target);
            mount(
                None::<&str>,
                t.as_c_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | other,
                None::<&str>,
            )
            .map_err(|e| Error::Io { op: "remount", path: m.dest.clone(), source: e.into() })?;
        }
        if !m.propagation.is_empty() {
            let t = proc_fd_path(&target);
            mount(None::<&str>, t.as_c_str(), None::<&str>, m.propagation, None::<&str>).map_err(|e| Error::Io {
                op: "set propagation",
                path: m.dest.clone(),
                source: e.into(),
            })?;
        }
        return Ok(());
    }
    let src = m.source.clone().unwrap_or_else(|| PathBuf::from(m.fstype.clone().unwrap_or_default()));
    do_mount(Some(&src), &target, m.fstype.as_deref(), m.flags, &m.data, &m.dest)
}

/// `/sys/fs/cgroup` inside the container. The cgroup namespace was entered after the process
/// joined its cgroup, so each hierarchy's root is the container's own cgroup.
fn mount_cgroups(root: &OwnedFd, m: &MountPlan, cgroups: &[CgroupEntry]) -> Result<()> {
    let ro = m.flags.contains(MsFlags::MS_RDONLY);
    let base_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let dir = mkdir_all_in_root(root.as_fd(), &m.dest).map_err(Error::io("create mount point", &m.dest))?;
    if let [CgroupEntry::Unified { .. }] = cgroups {
        let flags = if ro { base_flags | MsFlags::MS_RDONLY } else { base_flags };
        return do_mount(Some(Path::new("cgroup2")), &dir, Some("cgroup2"), flags, "", &m.dest);
    }
    do_mount(Some(Path::new("tmpfs")), &dir, Some("tmpfs"), base_flags, "mode=755", &m.dest)?;
    for e in cgroups {
        match e {
            CgroupEntry::V1 { name, options } => {
                let d = m.dest.join(name);
                let t = mkdir_all_in_root(root.as_fd(), &d).map_err(Error::io("create mount point", &d))?;
                let flags = if ro { base_flags | MsFlags::MS_RDONLY } else { base_flags };
                do_mount(Some(Path::new("cgroup")), &t, Some("cgroup"), flags, options, &d)?;
            }
            CgroupEntry::Unified { name } => {
                let d = m.dest.join(name);
                let t = mkdir_all_in_root(root.as_fd(), &d).map_err(Error::io("create mount point", &d))?;
                let flags = if ro { base_flags | MsFlags::MS_RDONLY } else { base_flags };
                do_mount(Some(Path::new("cgroup2")), &t, Some("cgroup2"), flags, "", &d)?;
            }
            CgroupEntry::Link { name, target } => {
                let parent = crate::fsutil::open_in_root(root.as_fd(), &m.dest, libc::O_PATH | libc::O_DIRECTORY, 0)
                    .map_err(Error::io("open", &m.dest))?;
                nix::unistd::symlinkat(target.as_str(), parent.as_fd(), name.as_str()).map_err(|e| Error::Io {
                    op: "symlink",
                    path: m.dest.join(name),
                    source: e.into(),
                })?;
            }
        }
    }
    if ro {
        let dir =
            crate::fsutil::open_in_root(root.as_fd(), &m.dest, libc::O_PATH, 0).map_err(Error::io("open", &m.dest))?;
        let t = proc_fd_path(&dir);
        mount(
            None::<&str>,
            t.as_c_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base_flags,
            Some("mode=755"),
        )
        .map_err(|e| Error::Io { op: "remount read-only", path: m.dest.clone(), source: e.into() })?;
    }
    Ok(())
}

/// The v1/hybrid hierarchies of the host as seen in `/proc/self/mountinfo`, for the container's
/// `/sys/fs/cgroup`. On pure v2 this is a single `Unified` entry.
pub fn host_cgroup_entries(layout: berth_cgroups::Layout, root: &Path) -> Vec<CgroupEntry> {
    if layout == berth_cgroups::Layout::V2 {
        return vec![CgroupEntry::Unified { name: String::new() }];
    }
    let mut out = Vec::new();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mp = left.split(' ').nth(4).unwrap_or("");
        let Some(name) = Path::new(mp).strip_prefix(root).ok().and_then(|p| p.to_str()) else { continue };
        if name.is_empty() || name.contains('/') {
            continue;
        }
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let _src = r.next();
        let opts = r.next().unwrap_or("");
        match fstype {
            "cgroup" => {
                let ctrls: Vec<&str> = opts.split(',').filter(|o| !matches!(*o, "rw" | "ro")).collect();
                out.push(CgroupEntry::V1 { name: name.to_string(), options: ctrls.join(",") });
            }
            "cgroup2" => out.push(CgroupEntry::Unified { name: name.to_string() }),
            _ => {}
        }
    }
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                out.push(CgroupEntry::Link {
                    name: e.file_name().to_string_lossy().into_owned(),
                    target: t.to_string_lossy().into_owned(),
                });
            }
        }
    }
    out
}

/// Everything before `pivot_root`: propagation, the root bind mount, the spec's mounts (but the
/// cgroup tree, see [`mount_cgroup_tree`]).
pub(crate) fn prepare(
    rootfs: &Path,
    root_propagation: MsFlags,
    mounts: &[MountPlan],
    cgroups: &[CgroupEntry],
) -> Result<OwnedFd> {
    mount(None::<&str>, "/", None::<&str>, root_propagation, None::<&str>).map_err(|e| Error::Io {
        op: "set propagation of",
        path: "/".into(),
        source: e.into(),
    })?;
    mount(Some(rootfs), rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| Error::Io { op: "bind mount rootfs", path: rootfs.into(), source: e.into() })?;
    let root = open_root(rootfs).map_err(Error::io("open rootfs", rootfs))?;
    for m in mounts.iter().filter(|m| m.kind != MountKind::Cgroup) {
        mount_one(&root, m, cgroups)?;
    }
    Ok(root)
}

/// The cgroup tree mounts, made after `pivot_root` once the process is in its cgroup and its
/// cgroup namespace (so the parent's cgroup attach overlaps the rest of the setup).
pub(crate) fn mount_cgroup_tree(mounts: &[MountPlan], cgroups: &[CgroupEntry]) -> Result<()> {
    let root = open_root(Path::new("/")).map_err(Error::io("open", "/"))?;
    for m in mounts.iter().filter(|m| m.kind == MountKind::Cgroup) {
        mount_cgroups(&root, m, cgroups)?;
    }
    Ok(())
}

/// `pivot_root(".", ".")` then detaches the old root, leaving no path to the host's tree.
pub(crate) fn pivot(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(|e| Error::Io { op: "chdir", path: rootfs.into(), source: e.into() })?;
    nix::unistd::pivot_root(".", ".").map_err(Error::sys("pivot_root"))?;
    // The old root is stacked under "."; make it a slave so the unmount cannot propagate to the host.
    mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
        .map_err(Error::sys("make old root rslave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(Error::sys("unmount old root"))?;
    nix::unistd::chdir("/").map_err(Error::sys("chdir /"))?;
    Ok(())
}

/// Hides `paths` (after pivot): /dev/null over files, an empty read-only tmpfs over directories.
pub(crate) fn mask_paths(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        let meta = match std::fs::symlink_metadata(p) {
            Ok(m) => m,
            Err(_) => continue,
        };
        let r = if meta.is_dir() {
            mount(Some("tmpfs"), p.as_path(), Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)
        } else {
            mount(Some("/dev/null"), p.as_path(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        };
        r.map_err(|e| Error::Io { op: "mask", path: p.clone(), source: e.into() })?;
    }
    Ok(())
}

/// Makes `paths` read-only bind mounts of themselves (after pivot).
pub(crate) fn readonly_paths(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(Some(p.as_path()), p.as_path(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| Error::Io { op: "bind", path: p.clone(), source: e.into() })?;
        let fd = crate::fsutil::open_path(p).map_err(Error::io("open", p))?;
        remount_ro(&fd, MsFlags::empty(), p)?;
    }
    Ok(())
}

/// Remounts the container's `/` read-only.
pub(crate) fn readonly_root() -> Result<()> {
    let fd = crate::fsutil::open_path(Path::new("/")).map_err(Error::io("open", "/"))?;
    remount_ro(&fd, MsFlags::MS_REC, Path::new("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let (f, p, d, b) = parse_options(&o(&["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]));
        assert_eq!(f, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV);
        assert!(p.is_empty());
        assert_eq!(d, "mode=1777,size=65536k");
        assert!(!b);
        let (f, p, _, b) = parse_options(&o(&["rbind", "ro", "rprivate"]));
        assert!(b && f.contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(p, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        let (f, ..) = parse_options(&o(&["ro", "rw"]));
        assert!(!f.contains(MsFlags::MS_RDONLY));
    }

    proptest::proptest! {
        #[test]
        fn option_parsing_never_panics(opts in proptest::collection::vec("[a-z=0-9]{0,12}", 0..8)) {
            let (flags, prop, data, _) = parse_options(&opts);
            // Propagation never leaks into the mount flags, and known words never reach the data.
            proptest::prop_assert!(!flags.intersects(MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE));
            proptest::prop_assert!(prop.difference(MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE | MsFlags::MS_UNBINDABLE | MsFlags::MS_REC).is_empty());
            for w in data.split(',') {
                proptest::prop_assert!(!matches!(w, "ro" | "rw" | "bind" | "rbind" | "nosuid" | "private"));
            }
        }
    }
}
