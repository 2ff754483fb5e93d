//! A deliberately naive evaluation of OCI seccomp rules, straight from the semantics the
//! compiler documents, to compare compiled programs against. The including module provides
//! `interp` and `syscall_number` (the name tables are data, checked separately).

#![allow(dead_code)]

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as Op};

use super::interp::Data;
use super::syscall_number;

pub const KILL_PROCESS: u32 = 0x8000_0000;

/// The return value of an action, written out independently of the crate's encoder.
pub fn value(action: A, errno: Option<u32>) -> u32 {
    let data = errno.unwrap_or(1);
    match action {
        A::ScmpActKill | A::ScmpActKillThread => 0,
        A::ScmpActKillProcess => 0x8000_0000,
        A::ScmpActTrap => 0x0003_0000,
        A::ScmpActErrno => 0x0005_0000 | data,
        A::ScmpActNotify => 0x7fc0_0000,
        A::ScmpActTrace => 0x7ff0_0000 | data,
        A::ScmpActLog => 0x7ffc_0000,
        A::ScmpActAllow => 0x7fff_0000,
    }
}

/// Rank of an action: lower wins.
fn rank(v: u32) -> u32 {
    match v & 0xffff_0000 {
        0x8000_0000 => 0,
        0x0000_0000 => 1,
        0x0003_0000 => 2,
        0x0005_0000 => 3,
        0x7fc0_0000 => 4,
        0x7ff0_0000 => 5,
        0x7ffc_0000 => 6,
        0x7fff_0000 => 7,
        other => panic!("unknown action {other:#x}"),
    }
}

/// Which OCI architecture a `seccomp_data` belongs to for a filter built for `native`, or
/// `None` when it must be killed as a foreign architecture.
fn data_arch(spec: &LinuxSeccomp, native: Arch, d: &Data) -> Option<Arch> {
    let listed = |a: Arch| a == native || spec.architectures().as_deref().unwrap_or_default().contains(&a);
    match (native, d.arch) {
        // like libseccomp: numbers from the x32 bit up are x32's (`jge 0x40000000`)
        (Arch::ScmpArchX86_64, 0xC000_003E) if d.nr < 0x4000_0000 => Some(Arch::ScmpArchX86_64),
        (Arch::ScmpArchX86_64, 0xC000_003E) => listed(Arch::ScmpArchX32).then_some(Arch::ScmpArchX32),
        (Arch::ScmpArchX86_64, 0x4000_0003) => listed(Arch::ScmpArchX86).then_some(Arch::ScmpArchX86),
        (Arch::ScmpArchAarch64, 0xC000_00B7) => Some(Arch::ScmpArchAarch64),
        (Arch::ScmpArchAarch64, 0x4000_0028) => listed(Arch::ScmpArchArm).then_some(Arch::ScmpArchArm),
        _ => None,
    }
}

/// What the filter must return for `d`.
pub fn evaluate(spec: &LinuxSeccomp, native: Arch, d: &Data) -> u32 {
    let Some(arch) = data_arch(spec, native, d) else {
        return KILL_PROCESS;
    };
    let mut best: Option<u32> = None;
    for s in spec.syscalls().as_deref().unwrap_or_default() {
        let names_it = s.names().iter().any(|n| syscall_number(arch, n) == Some(d.nr));
        if !names_it {
            continue;
        }
        // 32-bit architectures compare the low 32 bits only (as libseccomp does).
        let width = if matches!(arch, Arch::ScmpArchX86 | Arch::ScmpArchArm) { 0xffff_ffff } else { u64::MAX };
        let all = s.args().as_deref().unwrap_or_default().iter().all(|a| {
            let (arg, v, v2) = (d.args[a.index()] & width, a.value() & width, a.value_two().unwrap_or(0) & width);
            match a.op() {
                Op::ScmpCmpNe => arg != v,
                Op::ScmpCmpLt => arg < v,
                Op::ScmpCmpLe => arg <= v,
                Op::ScmpCmpEq => arg == v,
                Op::ScmpCmpGe => arg >= v,
                Op::ScmpCmpGt => arg > v,
                Op::ScmpCmpMaskedEq => arg & v == v2,
            }
        });
        if all {
            let v = value(s.action(), s.errno_ret());
            // strictly stronger replaces; among equals the first listed stays
            if best.is_none() || rank(v) < rank(best.unwrap()) {
                best = Some(v);
            }
        }
    }
    best.unwrap_or_else(|| {
        let errno = spec.default_errno_ret();
        value(spec.default_action(), errno)
    })
}
