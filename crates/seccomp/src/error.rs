//! The crate's single error type.

use thiserror::Error;

/// Everything that can go wrong while parsing, resolving, compiling or installing a filter.
///
/// Parsing errors name the offending syscall rule (its first name and how many more it lists),
/// field or value, so that `docker run --security-opt seccomp=FILE` style errors are actionable.
#[derive(Debug, Error)]
pub enum Error {
    /// The profile is not JSON, or a field has the wrong JSON type.
    #[error("seccomp profile: invalid JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// The profile has no `defaultAction`.
    #[error("seccomp profile: \"defaultAction\" is missing")]
    MissingDefaultAction,

    /// A syscall rule has no `action`.
    #[error("seccomp profile: syscall {syscall}: \"action\" is missing")]
    MissingAction {
        /// The rule, described by its names.
        syscall: String,
    },

    /// An action string that is not one of the `SCMP_ACT_*` names.
    #[error(
        "seccomp profile: {context}: unknown action {action:?} (expected one of SCMP_ACT_ALLOW, \
         SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, \
         SCMP_ACT_TRACE, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)"
    )]
    UnknownAction {
        /// `defaultAction` or `syscall "name"`.
        context: String,
        /// The string found.
        action: String,
    },

    /// A comparison operator that is not one of the `SCMP_CMP_*` names.
    #[error(
        "seccomp profile: syscall {syscall}: unknown comparison operator {op:?} (expected one of \
         SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, \
         SCMP_CMP_MASKED_EQ)"
    )]
    UnknownOperator {
        /// The rule, described by its names.
        syscall: String,
        /// The string found.
        op: String,
    },

    /// An argument comparison on an argument index above 5.
    #[error("seccomp: syscall {syscall}: argument index {index} is out of range (system calls have arguments 0 to 5)")]
    ArgIndex {
        /// The rule, described by its names.
        syscall: String,
        /// The index found.
        index: u64,
    },

    /// An errno that does not fit the 16-bit data field of a seccomp return value.
    #[error("seccomp: {context}: errno {errno} does not fit in 16 bits")]
    ErrnoRange {
        /// `defaultErrnoRet` or `syscall "name"`.
        context: String,
        /// The value found.
        errno: u32,
    },

    /// An architecture string that is not one of the `SCMP_ARCH_*` names.
    #[error("seccomp profile: {context}: unknown architecture {arch:?}")]
    UnknownArch {
        /// Which field held it.
        context: String,
        /// The string found.
        arch: String,
    },

    /// A filter flag that is not one of the `SECCOMP_FILTER_FLAG_*` names.
    #[error("seccomp profile: unknown flag {0:?} (expected SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_SPEC_ALLOW or SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)")]
    UnknownFlag(String),

    /// A `minKernel` that is not `"<major>.<minor>"`.
    #[error("seccomp profile: syscall {syscall}: invalid minKernel {value:?}, expected \"<major>.<minor>\"")]
    BadKernelVersion {
        /// The rule, described by its names.
        syscall: String,
        /// The string found.
        value: String,
    },

    /// A rule sets both the legacy `name` and `names`.
    #[error("seccomp profile: syscall {syscall}: use either \"name\" or \"names\", not both")]
    NameAndNames {
        /// The rule, described by its names.
        syscall: String,
    },

    /// The profile sets both `architectures` and `archMap`.
    #[error("seccomp profile: both \"architectures\" and \"archMap\" are set; use one of them")]
    ArchitecturesAndArchMap,

    /// `SCMP_ACT_NOTIFY` as the default action (runc refuses it as well: the runtime itself
    /// would be stopped by its own filter).
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be the default action")]
    NotifyDefault,

    /// The running kernel's version could not be read.
    #[error("seccomp: cannot read the running kernel's version: {0}")]
    KernelVersion(String),

    /// No BPF compiler for this machine's architecture.
    #[error("seccomp: cannot compile a filter for {0}: only x86_64 and aarch64 hosts are supported")]
    UnsupportedArch(String),

    /// The compiled program is longer than the kernel accepts.
    #[error("seccomp: the compiled filter has {0} instructions, more than the kernel's limit of 4096")]
    TooLong(usize),

    /// seccomp(2) or prctl(2) refused the filter.
    #[error("seccomp: installing the filter failed: {0}")]
    Install(#[source] std::io::Error),
}

/// Short description of a syscall rule for error messages: `"mkdir"` or `"accept" (and 360 more)`.
pub(crate) fn describe(names: &[String]) -> String {
    match names {
        [] => "(rule without names)".to_string(),
        [one] => format!("{one:?}"),
        [first, rest @ ..] => format!("{first:?} (and {} more)", rest.len()),
    }
}
