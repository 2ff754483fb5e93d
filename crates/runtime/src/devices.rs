//! Device nodes in the container's `/dev` (a fresh tmpfs): the runtime-spec's default devices,
//! the spec's `linux.devices`, and the standard symlinks.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType};

use crate::error::{Error, Result};
use crate::fsutil::{mkdir_all_in_root, proc_fd_path, touch_in_root};

/// A node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    pub path: PathBuf,
    pub char: bool,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn default_devices() -> Vec<DevicePlan> {
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
        .into_iter()
        .map(|(n, ma, mi)| DevicePlan {
            path: PathBuf::from("/dev").join(n),
            char: true,
            major: ma,
            minor: mi,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

/// The device cgroup rules every container gets after the spec's own (runc appends the same):
/// mknod of any node, the default devices, ptys (`/dev/pts/*`, `/dev/ptmx`), `/dev/console`
/// and `/dev/net/tun`. Without them a spec that starts with "deny all" could not open its own
/// `/dev/null` or allocate a terminal.
pub fn default_allowed_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(true).typ(typ).access(access);
        if let Some(x) = major {
            b = b.major(x);
        }
        if let Some(x) = minor {
            b = b.minor(x);
        }
        b.build().expect("static rule is valid")
    };
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(5), Some(1), "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
    ]
}

/// Default devices plus the spec's, the spec's entries winning on the same path.
pub fn plan_devices(spec_devices: &[LinuxDevice]) -> Result<Vec<DevicePlan>> {
    let mut out = default_devices();
    for d in spec_devices {
        let char = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => true,
            LinuxDeviceType::B => false,
            other => return Err(Error::Spec(format!("device {}: unsupported type {other:?}", d.path().display()))),
        };
        let plan = DevicePlan {
            path: d.path().clone(),
            char,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.retain(|p| p.path != plan.path);
        out.push(plan);
    }
    Ok(out)
}

/// Creates the nodes inside `root` (before `pivot_root`). Where mknod is refused (a user
/// namespace) the host's node is bind-mounted instead, as runc does.
pub(crate) fn create(root: &OwnedFd, devices: &[DevicePlan]) -> Result<()> {
    for d in devices {
        let parent = d.path.parent().unwrap_or(Path::new("/dev"));
        let name = d.path.file_name().ok_or_else(|| Error::Spec(format!("device path {}", d.path.display())))?;
        let dir = mkdir_all_in_root(root.as_fd(), parent).map_err(Error::io("create device dir", parent))?;
        // An O_PATH fd cannot be used with mknodat; reopen the directory properly.
        let dirfd = nix::fcntl::open(
            proc_fd_path(&dir).as_c_str(),
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::Io { op: "open", path: parent.into(), source: e.into() })?;
        let cname = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(name))
            .map_err(|_| Error::Spec("device name".into()))?;
        let kind = if d.char { libc::S_IFCHR } else { libc::S_IFBLK };
        // SAFETY: dirfd is an open directory and cname a valid C string; mknodat returns an int.
        let rc = unsafe {
            libc::mknodat(
                dirfd.as_raw_fd(),
                cname.as_ptr(),
                kind | d.mode,
                libc::makedev(d.major as u32, d.minor as u32),
            )
        };
        if rc != 0 {
            let err = nix::Error::last();
            match err {
                nix::Error::EEXIST => continue,
                nix::Error::EPERM => {
                    let target = touch_in_root(root.as_fd(), &d.path).map_err(Error::io("create", &d.path))?;
                    nix::mount::mount(
                        Some(d.path.as_path()),
                        proc_fd_path(&target).as_c_str(),
                        None::<&str>,
                        nix::mount::MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(|e| Error::Io {
                        op: "bind device",
                        path: d.path.clone(),
                        source: e.into(),
                    })?;
                    continue;
                }
                e => return Err(Error::Io { op: "mknod", path: d.path.clone(), source: e.into() }),
            }
        }
        // mknod applies the umask; set the exact mode and owner.
        // SAFETY: plain *at calls on our directory fd with a valid name.
        unsafe {
            libc::fchmodat(dirfd.as_raw_fd(), cname.as_ptr(), d.mode, 0);
            libc::fchownat(dirfd.as_raw_fd(), cname.as_ptr(), d.uid, d.gid, libc::AT_SYMLINK_NOFOLLOW);
        }
    }
    Ok(())
}

/// The `/dev` symlinks Docker and runc create.
pub(crate) fn symlinks(root: &OwnedFd) -> Result<()> {
    let dev = crate::fsutil::open_in_root(root.as_fd(), Path::new("/dev"), libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(Error::io("open", "/dev"))?;
    let dev = nix::fcntl::open(
        proc_fd_path(&dev).as_c_str(),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::Io { op: "open", path: "/dev".into(), source: e.into() })?;
    for (target, name) in [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("/proc/kcore", "core"),
        ("pts/ptmx", "ptmx"),
    ] {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => {
                return Err(Error::Io { op: "symlink", path: PathBuf::from("/dev").join(name), source: e.into() })
            }
        }
    }
    Ok(())
}
