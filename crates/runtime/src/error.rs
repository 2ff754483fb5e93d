//! Typed errors of the runtime. Each names the object (path, container, syscall) involved.

use std::path::PathBuf;

/// What went wrong while preparing, starting or supervising a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec field is missing or not usable.
    #[error("invalid spec: {0}")]
    Spec(String),
    /// A file system operation on `path` failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: nix::Error,
    },
    /// Setting up the container's cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::Error),
    /// Compiling or loading the seccomp filter failed.
    #[error("seccomp: {0}")]
    Seccomp(#[from] berth_seccomp::Error),
    /// The container's init failed before exec; `code` is Docker's exit code for it
    /// (125 setup error, 126 cannot invoke, 127 not found).
    #[error("{message}")]
    Init { code: i32, message: String },
}

impl Error {
    /// Docker-compatible exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Init { code, .. } => *code,
            _ => 125,
        }
    }

    pub(crate) fn sys(op: &'static str) -> impl FnOnce(nix::Error) -> Error {
        move |source| Error::Sys { op, source }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
