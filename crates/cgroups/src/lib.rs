//! cgroup management for berth containers on all three host layouts: cgroup v1, pure cgroup v2
//! ("unified") and hybrid (v1 controllers plus a cgroup2 mount at `<root>/unified`).
//!
//! The crate only ever creates, writes and removes cgroups under the path it is given
//! (`berth/<id>` by default): it never moves or edits a cgroup it did not create, except enabling
//! controllers in `cgroup.subtree_control` of the ancestors on v2, which is required to delegate them.
//!
//! API (stable; the runtime codes against it):
//! - [`Layout::detect`] reads the host layout from a cgroupfs root (normally `/sys/fs/cgroup`).
//! - [`Manager::new`] names a container cgroup; [`Manager::create`] makes it and applies
//!   [`oci_spec::runtime::LinuxResources`]; [`Manager::add_pid`] places a process;
//!   [`Manager::v2_dir`] opens the v2 directory for `clone3(CLONE_INTO_CGROUP)`;
//!   [`Manager::oom_kill_count`] tells whether the memory controller killed something;
//!   [`Manager::destroy`] kills leftovers and removes every directory it created.

use std::path::PathBuf;

pub use oci_spec::runtime::LinuxResources;

/// Errors name the cgroup file or directory and the operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cgroup {op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, #[source] source: std::io::Error },
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
