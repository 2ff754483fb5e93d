//! Capability sets as bit masks and their application in the container's init.
//!
//! The parent turns the spec's named sets into masks once ([`CapSets::from_spec`]); the child then
//! only makes raw `prctl`/`capset` calls, which neither allocate nor fail in surprising ways.

use std::str::FromStr;

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Error, Result};

/// The five capability sets of a process, one bit per capability number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// The number of a capability name such as `NET_ADMIN` or `CAP_NET_ADMIN` (any case).
pub fn number(name: &str) -> Option<u8> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    caps::Capability::from_str(&full).ok().map(|c| c.index())
}

/// The highest capability number the running kernel knows.
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

fn mask(set: &Option<Capabilities>) -> Result<u64> {
    let mut m = 0u64;
    for c in set.iter().flatten() {
        let n = number(&c.to_string()).ok_or_else(|| Error::Spec(format!("unknown capability {c}")))?;
        m |= 1u64 << n;
    }
    Ok(m)
}

impl CapSets {
    pub fn from_spec(c: &LinuxCapabilities) -> Result<CapSets> {
        Ok(CapSets {
            bounding: mask(c.bounding())?,
            effective: mask(c.effective())?,
            permitted: mask(c.permitted())?,
            inheritable: mask(c.inheritable())?,
            ambient: mask(c.ambient())?,
        })
    }
}

/// Drops every capability not in `sets.bounding` from the bounding set (needs CAP_SETPCAP).
pub(crate) fn drop_bounding(sets: &CapSets, last: u8) -> nix::Result<()> {
    for n in 0..=last {
        if sets.bounding & (1u64 << n) == 0 {
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) };
            if rc != 0 {
                let e = nix::Error::last();
                // A capability the kernel does not know is not in the set anyway.
                if e != nix::Error::EINVAL {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Keeps permitted capabilities across the coming setuid (`PR_SET_KEEPCAPS`).
pub(crate) fn keep_caps(on: bool) -> nix::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets effective, permitted and inheritable sets, then raises the ambient ones that can be.
pub(crate) fn apply(sets: &CapSets) -> nix::Result<()> {
    let mut hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let lo = |m: u64| m as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let data = [
        CapData { effective: lo(sets.effective), permitted: lo(sets.permitted), inheritable: lo(sets.inheritable) },
        CapData { effective: hi(sets.effective), permitted: hi(sets.permitted), inheritable: hi(sets.inheritable) },
    ];
    // SAFETY: header and the two-element data array have the layout capset(2) expects for
    // version 3 and live across the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    for n in 0..64u32 {
        if sets.ambient & (1u64 << n) != 0 {
            // Like runc: an ambient capability that is not also permitted and inheritable
            // cannot be raised; that is not fatal (runc's own default spec asks for such).
            // SAFETY: prctl with integer arguments only.
            unsafe {
                libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, n as libc::c_ulong, 0, 0)
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability;

    #[test]
    fn docker_default_mask() {
        let names = [
            "CHOWN",
            "DAC_OVERRIDE",
            "FSETID",
            "FOWNER",
            "MKNOD",
            "NET_RAW",
            "SETGID",
            "SETUID",
            "SETFCAP",
            "SETPCAP",
            "NET_BIND_SERVICE",
            "SYS_CHROOT",
            "KILL",
            "AUDIT_WRITE",
        ];
        let m = names.iter().fold(0u64, |m, n| m | 1 << number(n).unwrap());
        assert_eq!(m, 0xa80425fb);
        let set: Capabilities = [Capability::Chown, Capability::NetAdmin].into_iter().collect();
        assert_eq!(mask(&Some(set)).unwrap(), 1 | 1 << 12);
        assert_eq!(number("cap_sys_admin"), Some(21));
        assert_eq!(number("BOGUS"), None);
    }
}
