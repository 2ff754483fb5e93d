//! Path resolution scoped to a container root.
//!
//! Mount destinations and files such as `/etc/passwd` come from the container's root filesystem,
//! which may hold hostile symlinks (`/etc/hosts -> /etc/shadow` resolved on the host would be a
//! breakout). Everything here resolves with `openat2(RESOLVE_IN_ROOT)`, so symlinks are followed
//! as if the container root were `/`, and hands back file descriptors; mounts then target
//! `/proc/self/fd/N` rather than a path that could be swapped.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Opens `path` (relative to `root`, absolute paths are taken as inside it) with `flags`,
/// resolving every symlink inside `root`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let rel = relative(path);
    let c = CString::new(if rel.as_os_str().is_empty() { ".".as_bytes() } else { rel.as_os_str().as_bytes() })
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `c` is a valid NUL-terminated string and `how` a correctly laid out open_how that
        // outlive the call; the kernel does not keep either pointer.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EAGAIN) && err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// An `O_PATH` handle of any file or directory (no resolution restriction: for the container's
/// own paths after `pivot_root`).
pub fn open_path(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid C string; open returns a new fd or -1.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the root directory itself (an `O_PATH` handle used as the anchor of the other calls).
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid C string; open returns a new fd or -1.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `path` made relative, with `.` dropped; `..` is kept and resolved by the kernel inside the root.
pub fn relative(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::RootDir | Component::CurDir | Component::Prefix(_))).collect()
}

/// Makes every missing directory of `path` inside `root` (mode 0755) and returns an `O_PATH`
/// descriptor of the final directory.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    match open_in_root(root, path, flags, 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    let rel = relative(path);
    let mut prefix = PathBuf::new();
    let mut dir = open_in_root(root, Path::new("."), flags, 0)?;
    for comp in rel.components() {
        prefix.push(comp);
        dir = match open_in_root(root, &prefix, flags, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let name = CString::new(comp.as_os_str().as_bytes())
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                // SAFETY: `dir` is a directory fd resolved inside the root and `name` a single
                // component, so the new directory cannot land outside the root.
                let rc = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) };
                if rc != 0 {
                    let err = io::Error::last_os_error();
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        return Err(err);
                    }
                }
                open_in_root(root, &prefix, flags, 0)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(dir)
}

/// Makes sure a regular file exists at `path` inside `root` (creating parents), and returns an
/// `O_PATH` descriptor of it. An existing directory there is an error (`EISDIR`).
pub fn touch_in_root(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    match open_in_root(root, path, libc::O_PATH, 0) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = relative(path).parent() {
        mkdir_all_in_root(root, parent)?;
    }
    drop(open_in_root(root, path, libc::O_WRONLY | libc::O_CREAT, 0o644)?);
    open_in_root(root, path, libc::O_PATH, 0)
}

/// Reads a whole file inside `root` (for `/etc/passwd` and friends).
pub fn read_in_root(root: &Path, path: &Path) -> io::Result<String> {
    use std::io::Read;
    let rootfd = open_root(root)?;
    let fd = open_in_root(std::os::fd::AsFd::as_fd(&rootfd), path, libc::O_RDONLY, 0)?;
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s)?;
    Ok(s)
}

/// `/proc/self/fd/N` for a descriptor, the path mount(2) is given so it acts on exactly that object.
pub fn proc_fd_path(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn symlinks_resolve_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        let outside = dir.path().join("secret");
        std::fs::write(&outside, "host secret").unwrap();
        // An absolute symlink pointing at the host file must stay inside the root.
        std::os::unix::fs::symlink(&outside, root.join("etc/hosts")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("etc/up")).unwrap();
        let rfd = open_root(&root).unwrap();
        assert!(read_in_root(&root, Path::new("/etc/hosts")).is_err(), "escaped through absolute symlink");
        let created = touch_in_root(rfd.as_fd(), Path::new("/etc/up/made")).unwrap();
        drop(created);
        assert!(root.join("made").exists(), "'..' must clamp at the container root");
        assert!(!dir.path().join("made").exists());
    }

    #[test]
    fn mkdir_all_creates_nested() {
        let dir = tempfile::tempdir().unwrap();
        let rfd = open_root(dir.path()).unwrap();
        mkdir_all_in_root(rfd.as_fd(), Path::new("/a/b/c")).unwrap();
        assert!(dir.path().join("a/b/c").is_dir());
        mkdir_all_in_root(rfd.as_fd(), Path::new("a/b/c")).unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        assert!(mkdir_all_in_root(rfd.as_fd(), Path::new("/f/x")).is_err());
    }

    #[test]
    fn relative_drops_root() {
        assert_eq!(relative(Path::new("/etc/./hosts")), PathBuf::from("etc/hosts"));
        assert_eq!(relative(Path::new("/")), PathBuf::new());
    }
}
