//! Docker's seccomp profile format (`docker run --security-opt seccomp=PROFILE.json`) and its
//! daemon-side resolution into the OCI runtime-spec form.
//!
//! A Docker profile is the OCI `linux.seccomp` object plus three things the OCI form lacks:
//! `archMap` (native architecture → its compat sub-architectures), per-rule `includes`/`excludes`
//! conditions (capabilities, architectures, minimum kernel) and the legacy single `name`.
//! [`Profile::resolve`] evaluates those for one container the way dockerd does before handing
//! the spec to the runtime, so the result no longer depends on anything but the filter itself.
//!
//! Parsing goes through private "raw" types holding plain strings, so that an unknown action,
//! operator or architecture is reported with the rule it appears in rather than as a bare serde
//! "unknown variant" at some line and column.

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{describe, Error};

/// A parsed Docker seccomp profile. Build one with [`Profile::parse`] (or `str::parse`); every
/// field is public so a profile can also be assembled or edited in code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// What happens to a syscall no rule matches.
    pub default_action: LinuxSeccompAction,
    /// The errno for a `SCMP_ACT_ERRNO` (or data for `SCMP_ACT_TRACE`) default action; EPERM when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Explicit architecture list (the old style; mutually exclusive with `arch_map`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    /// Native architecture → sub-architectures, of which only the native entry is used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// seccomp(2) filter flags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<LinuxSeccompFilterFlag>,
    /// Unix socket of the seccomp agent that receives the `SCMP_ACT_NOTIFY` listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<PathBuf>,
    /// Opaque data passed to the seccomp agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    /// The rules, in profile order.
    pub syscalls: Vec<Syscall>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// The native architecture this entry applies to.
    pub architecture: Arch,
    /// The compat architectures a process on it may also use.
    pub sub_architectures: Vec<Arch>,
}

/// One syscall rule of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    /// The syscall names (the legacy `name` field is folded in here).
    pub names: Vec<String>,
    /// What happens when the syscall is made and all `args` comparisons hold.
    pub action: LinuxSeccompAction,
    /// Errno for `SCMP_ACT_ERRNO`, data for `SCMP_ACT_TRACE`; EPERM when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument comparisons, all of which must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<LinuxSeccompArg>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The rule is kept only if all of these hold.
    #[serde(skip_serializing_if = "Filter::is_empty")]
    pub includes: Filter,
    /// The rule is dropped if any of these holds.
    #[serde(skip_serializing_if = "Filter::is_empty")]
    pub excludes: Filter,
}

/// `includes` / `excludes` conditions of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capabilities, `CAP_SYS_ADMIN` style.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// Go architecture names (`amd64`, `arm64`, `s390x`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Minimum kernel version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

impl Filter {
    /// True when the filter has no condition at all.
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// A `"<major>.<minor>"` kernel version as used by `minKernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// e.g. 4 in 4.8.
    pub major: u32,
    /// e.g. 8 in 4.8.
    pub minor: u32,
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}.{}", self.major, self.minor))
    }
}

impl KernelVersion {
    /// Parses `"4.8"`; like dockerd, exactly two dot-separated numbers, not both zero.
    fn parse(s: &str) -> Option<KernelVersion> {
        let (major, minor) = s.split_once('.')?;
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(major) || !all_digits(minor) {
            return None;
        }
        let v = KernelVersion { major: major.parse().ok()?, minor: minor.parse().ok()? };
        (v != KernelVersion { major: 0, minor: 0 }).then_some(v)
    }
}

// ---------------------------------------------------------------------------------------------
// Raw JSON shapes. `null` is accepted wherever Go's encoding/json accepts it (nil slices etc.),
// unknown fields are ignored, as dockerd does.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    #[serde(default)]
    default_action: Option<String>,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<RawArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<RawSyscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<RawArg>>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<RawFilter>,
    #[serde(default)]
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u64,
    value: u64,
    #[serde(default)]
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Parses an enum from its OCI/Docker spelling (`SCMP_ARCH_X86_64`, `SCMP_CMP_EQ`, …) through
/// oci-spec's own serde names, so the accepted spellings are exactly the OCI ones.
fn from_name<T: DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

pub(crate) fn parse_action(s: &str, context: impl FnOnce() -> String) -> Result<LinuxSeccompAction, Error> {
    from_name(s).ok_or_else(|| Error::UnknownAction { context: context(), action: s.to_owned() })
}

fn parse_arch(s: &str, context: &str) -> Result<Arch, Error> {
    from_name(s).ok_or_else(|| Error::UnknownArch { context: context.to_owned(), arch: s.to_owned() })
}

fn parse_arches(list: Option<Vec<String>>, context: &str) -> Result<Vec<Arch>, Error> {
    list.unwrap_or_default().iter().map(|a| parse_arch(a, context)).collect()
}

impl FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Profile::parse(s)
    }
}

impl Profile {
    /// Parses a Docker-format profile, validating every action, operator, architecture, flag,
    /// argument index and `minKernel`, and folding the legacy `name` into `names`.
    pub fn parse(json: &str) -> Result<Profile, Error> {
        let raw: RawProfile = serde_json::from_str(json)?;
        let default_action = match raw.default_action.as_deref() {
            None | Some("") => return Err(Error::MissingDefaultAction),
            Some(a) => parse_action(a, || "defaultAction".to_owned())?,
        };
        let architectures = parse_arches(raw.architectures, "architectures")?;
        let arch_map = raw
            .arch_map
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Ok(ArchMap {
                    architecture: parse_arch(&m.architecture, "archMap")?,
                    sub_architectures: parse_arches(m.sub_architectures, "archMap")?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if !architectures.is_empty() && !arch_map.is_empty() {
            return Err(Error::ArchitecturesAndArchMap);
        }
        let flags = raw
            .flags
            .unwrap_or_default()
            .iter()
            .map(|f| from_name(f).ok_or_else(|| Error::UnknownFlag(f.clone())))
            .collect::<Result<Vec<_>, Error>>()?;
        let syscalls =
            raw.syscalls.unwrap_or_default().into_iter().map(Syscall::from_raw).collect::<Result<Vec<_>, Error>>()?;
        Ok(Profile {
            default_action,
            default_errno_ret: raw.default_errno_ret,
            architectures,
            arch_map,
            flags,
            listener_path: raw.listener_path.filter(|p| !p.is_empty()).map(PathBuf::from),
            listener_metadata: raw.listener_metadata.filter(|m| !m.is_empty()),
            syscalls,
        })
    }

    /// Resolves the profile for a container on this machine: `caps` are its bounding-set
    /// capabilities (`CAP_SYS_ADMIN` style; `SYS_ADMIN` is accepted too) and `kernel` the
    /// running kernel's `(major, minor)`, or `None` to read it with uname(2).
    ///
    /// A rule is kept when every `includes` condition holds (all its caps held, the native Go
    /// architecture listed, kernel ≥ `minKernel`) and no `excludes` condition does (any of its
    /// caps held, the architecture listed, kernel ≥ `minKernel`). The native `archMap` entry
    /// becomes the OCI `architectures` list.
    pub fn resolve(&self, caps: &HashSet<String>, kernel: Option<(u32, u32)>) -> Result<LinuxSeccomp, Error> {
        let kernel = match kernel {
            Some(k) => k,
            None => running_kernel()?,
        };
        Ok(self.resolve_for(caps, kernel, native_go_arch()))
    }

    /// [`Profile::resolve`] for an explicit kernel version and Go architecture name (`amd64`,
    /// `arm64`, …), e.g. to inspect what a profile means on another machine.
    pub fn resolve_for(&self, caps: &HashSet<String>, kernel: (u32, u32), go_arch: &str) -> LinuxSeccomp {
        let caps: HashSet<String> = caps.iter().map(|c| normalize_cap(c)).collect();
        let kernel = KernelVersion { major: kernel.0, minor: kernel.1 };
        let has_cap = |c: &String| caps.contains(&normalize_cap(c));

        let mut architectures = self.architectures.clone();
        if let Some(native) = go_arch_to_seccomp(go_arch) {
            if let Some(m) = self.arch_map.iter().find(|m| m.architecture == native) {
                architectures.push(m.architecture);
                architectures.extend(m.sub_architectures.iter().copied());
            }
        }

        let mut syscalls = Vec::new();
        for rule in &self.syscalls {
            let ex = &rule.excludes;
            if ex.arches.iter().any(|a| a == go_arch)
                || ex.caps.iter().any(has_cap)
                || ex.min_kernel.is_some_and(|min| kernel >= min)
            {
                continue;
            }
            let inc = &rule.includes;
            if (!inc.arches.is_empty() && !inc.arches.iter().any(|a| a == go_arch))
                || !inc.caps.iter().all(has_cap)
                || inc.min_kernel.is_some_and(|min| kernel < min)
            {
                continue;
            }
            let mut s = LinuxSyscall::default();
            s.set_names(rule.names.clone());
            s.set_action(rule.action);
            s.set_errno_ret(rule.errno_ret);
            s.set_args((!rule.args.is_empty()).then(|| rule.args.clone()));
            syscalls.push(s);
        }

        let mut out = LinuxSeccomp::default();
        out.set_default_action(self.default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures((!architectures.is_empty()).then_some(architectures));
        out.set_flags((!self.flags.is_empty()).then(|| self.flags.clone()));
        out.set_listener_path(self.listener_path.clone());
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls(Some(syscalls));
        out
    }
}

impl Syscall {
    fn from_raw(raw: RawSyscall) -> Result<Syscall, Error> {
        let mut names = raw.names.unwrap_or_default();
        let described = |names: &[String], name: &Option<String>| match name {
            Some(n) if !n.is_empty() && names.is_empty() => describe(std::slice::from_ref(n)),
            _ => describe(names),
        };
        let who = described(&names, &raw.name);
        if let Some(name) = raw.name.filter(|n| !n.is_empty()) {
            if !names.is_empty() {
                return Err(Error::NameAndNames { syscall: who });
            }
            names.push(name);
        }
        let action = match raw.action.as_deref() {
            None | Some("") => return Err(Error::MissingAction { syscall: who }),
            Some(a) => parse_action(a, || format!("syscall {who}"))?,
        };
        let args = raw
            .args
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let op: LinuxSeccompOperator = from_name(&a.op)
                    .ok_or_else(|| Error::UnknownOperator { syscall: who.clone(), op: a.op.clone() })?;
                if a.index > 5 {
                    return Err(Error::ArgIndex { syscall: who.clone(), index: a.index });
                }
                Ok(seccomp_arg(a.index as usize, a.value, a.value_two, op))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let filter = |f: Option<RawFilter>| -> Result<Filter, Error> {
            let Some(f) = f else {
                return Ok(Filter::default());
            };
            let min_kernel = match f.min_kernel.as_deref() {
                None | Some("") => None,
                Some(v) => Some(
                    KernelVersion::parse(v)
                        .ok_or_else(|| Error::BadKernelVersion { syscall: who.clone(), value: v.to_owned() })?,
                ),
            };
            Ok(Filter { caps: f.caps.unwrap_or_default(), arches: f.arches.unwrap_or_default(), min_kernel })
        };
        Ok(Syscall {
            includes: filter(raw.includes)?,
            excludes: filter(raw.excludes)?,
            names,
            action,
            errno_ret: raw.errno_ret,
            args,
            comment: raw.comment.filter(|c| !c.is_empty()),
        })
    }
}

/// Builds an OCI argument comparison (oci-spec only offers a builder for it).
pub fn seccomp_arg(index: usize, value: u64, value_two: Option<u64>, op: LinuxSeccompOperator) -> LinuxSeccompArg {
    let b = LinuxSeccompArgBuilder::default().index(index).value(value).op(op);
    match value_two {
        Some(v) => b.value_two(v),
        None => b,
    }
    .build()
    .expect("every field is set")
}

/// `sys_admin` → `CAP_SYS_ADMIN`.
fn normalize_cap(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The Go `GOARCH` name of the machine this crate was built for, which is what profiles'
/// `includes.arches` / `excludes.arches` are written against.
pub fn native_go_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else if cfg!(target_arch = "x86") {
        "386"
    } else if cfg!(target_arch = "arm") {
        "arm"
    } else if cfg!(target_arch = "riscv64") {
        "riscv64"
    } else if cfg!(target_arch = "s390x") {
        "s390x"
    } else if cfg!(target_arch = "loongarch64") {
        "loong64"
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        "ppc64le"
    } else if cfg!(target_arch = "powerpc64") {
        "ppc64"
    } else if cfg!(all(target_arch = "mips64", target_endian = "little")) {
        "mips64le"
    } else if cfg!(target_arch = "mips64") {
        "mips64"
    } else {
        "unknown"
    }
}

/// dockerd's `nativeToSeccomp` table: Go architecture → the `archMap` key to look up.
pub fn go_arch_to_seccomp(go_arch: &str) -> Option<Arch> {
    Some(match go_arch {
        "amd64" => Arch::ScmpArchX86_64,
        "arm64" => Arch::ScmpArchAarch64,
        "386" | "x86" => Arch::ScmpArchX86,
        "arm" => Arch::ScmpArchArm,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" | "mips64le" => Arch::ScmpArchMipsel64,
        "mipsel64n32" | "mips3l64n32" => Arch::ScmpArchMipsel64n32,
        "mipsle" => Arch::ScmpArchMipsel,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        "loong64" => Arch::ScmpArchLoongarch64,
        _ => return None,
    })
}

/// The running kernel's `(major, minor)` from uname(2).
pub fn running_kernel() -> Result<(u32, u32), Error> {
    // SAFETY: utsname is plain old data; all-zero bytes are a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname for the duration of the call.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(Error::KernelVersion(std::io::Error::last_os_error().to_string()));
    }
    let release: String = uts.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect();
    parse_release(&release).ok_or(Error::KernelVersion(format!("unexpected release {release:?}")))
}

/// `"6.18.0-1-amd64"` → `(6, 18)`.
pub(crate) fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
