//! Syscall name → number, per architecture, and the audit architecture values the kernel
//! reports in `seccomp_data.arch`.
//!
//! The tables come from the `syscalls` crate (generated from the kernel's own tables) for
//! x86_64, i386, aarch64 and arm. x32 has no table there: x32 shares x86_64's numbers
//! (with [`X32_SYSCALL_BIT`] set) except for the 64-bit-only entries, some of which x32
//! has under its own numbers 512–547 (`arch/x86/entry/syscalls/syscall_64.tbl`). 32-bit arm's
//! private syscalls (`cacheflush`, `set_tls`, …, at `0x0f0000 + n`) are added here too.

use std::str::FromStr;

use oci_spec::runtime::Arch;

/// `AUDIT_ARCH_X86_64`: x86_64 and x32 processes (x32 sets [`X32_SYSCALL_BIT`] in the number).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_I386`: 32-bit x86 processes (and `int $0x80` from 64-bit code).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// `AUDIT_ARCH_ARM`: 32-bit arm (EABI, little endian) processes on arm64.
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// `__X32_SYSCALL_BIT`.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// x86_64 entries that are "64" (not "common") in `syscall_64.tbl`: absent from the x32 ABI
/// under their x86_64 number. Those x32 has at all are in [`X32_SPECIFIC`].
const X86_64_ONLY: &[u32] = &[
    13, 15, 16, 19, 20, 45, 46, 47, 54, 55, 59, 101, 127, 128, 129, 131, 134, 156, 174, 177, 178, 180, 205, 206, 209,
    211, 214, 215, 222, 236, 244, 246, 247, 273, 274, 278, 279, 295, 296, 297, 299, 307, 310, 311, 322, 327, 328,
];

/// The x32-only numbers 512–547 (without [`X32_SYSCALL_BIT`]).
const X32_SPECIFIC: &[(&str, u32)] = &[
    ("rt_sigaction", 512),
    ("rt_sigreturn", 513),
    ("ioctl", 514),
    ("readv", 515),
    ("writev", 516),
    ("recvfrom", 517),
    ("sendmsg", 518),
    ("recvmsg", 519),
    ("execve", 520),
    ("ptrace", 521),
    ("rt_sigpending", 522),
    ("rt_sigtimedwait", 523),
    ("rt_sigqueueinfo", 524),
    ("sigaltstack", 525),
    ("timer_create", 526),
    ("mq_notify", 527),
    ("kexec_load", 528),
    ("waitid", 529),
    ("set_robust_list", 530),
    ("get_robust_list", 531),
    ("vmsplice", 532),
    ("move_pages", 533),
    ("preadv", 534),
    ("pwritev", 535),
    ("rt_tgsigqueueinfo", 536),
    ("recvmmsg", 537),
    ("sendmmsg", 538),
    ("process_vm_readv", 539),
    ("process_vm_writev", 540),
    ("setsockopt", 541),
    ("getsockopt", 542),
    ("io_setup", 543),
    ("io_submit", 544),
    ("execveat", 545),
    ("preadv2", 546),
    ("pwritev2", 547),
];

/// 32-bit arm private syscalls (`__ARM_NR_*`), absent from the `syscalls` crate's table.
const ARM_PRIVATE: &[(&str, u32)] = &[
    ("breakpoint", 0x0f_0001),
    ("cacheflush", 0x0f_0002),
    ("usr26", 0x0f_0003),
    ("usr32", 0x0f_0004),
    ("set_tls", 0x0f_0005),
    ("get_tls", 0x0f_0006),
];

/// The number `seccomp_data.nr` carries for syscall `name` on `arch`, or `None` if that
/// architecture has no such syscall (or the architecture is not supported).
pub fn syscall_number(arch: Arch, name: &str) -> Option<u32> {
    match arch {
        Arch::ScmpArchX86_64 => syscalls::x86_64::Sysno::from_str(name).ok().map(|s| s.id() as u32),
        Arch::ScmpArchX86 => syscalls::x86::Sysno::from_str(name).ok().map(|s| s.id() as u32),
        Arch::ScmpArchX32 => {
            if let Some(&(_, nr)) = X32_SPECIFIC.iter().find(|(n, _)| *n == name) {
                return Some(nr | X32_SYSCALL_BIT);
            }
            let nr = syscalls::x86_64::Sysno::from_str(name).ok()?.id() as u32;
            (!X86_64_ONLY.contains(&nr)).then_some(nr | X32_SYSCALL_BIT)
        }
        Arch::ScmpArchAarch64 => syscalls::aarch64::Sysno::from_str(name).ok().map(|s| s.id() as u32),
        Arch::ScmpArchArm => syscalls::arm::Sysno::from_str(name)
            .ok()
            .map(|s| s.id() as u32)
            .or_else(|| ARM_PRIVATE.iter().find(|(n, _)| *n == name).map(|&(_, nr)| nr)),
        _ => None,
    }
}

/// The audit architecture value the kernel reports for processes of `arch`.
pub fn audit_arch(arch: Arch) -> Option<u32> {
    match arch {
        Arch::ScmpArchX86_64 | Arch::ScmpArchX32 => Some(AUDIT_ARCH_X86_64),
        Arch::ScmpArchX86 => Some(AUDIT_ARCH_I386),
        Arch::ScmpArchAarch64 => Some(AUDIT_ARCH_AARCH64),
        Arch::ScmpArchArm => Some(AUDIT_ARCH_ARM),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        use Arch::*;
        assert_eq!(syscall_number(ScmpArchX86_64, "read"), Some(0));
        assert_eq!(syscall_number(ScmpArchX86_64, "mkdir"), Some(83));
        assert_eq!(syscall_number(ScmpArchX86_64, "clone3"), Some(435));
        assert_eq!(syscall_number(ScmpArchX86_64, "socket"), Some(41));
        assert_eq!(syscall_number(ScmpArchX86_64, "mmap2"), None);
        assert_eq!(syscall_number(ScmpArchX86, "socket"), Some(359));
        assert_eq!(syscall_number(ScmpArchX86, "getpid"), Some(20));
        assert_eq!(syscall_number(ScmpArchX86, "_llseek"), Some(140));
        assert_eq!(syscall_number(ScmpArchX32, "read"), Some(0x4000_0000));
        assert_eq!(syscall_number(ScmpArchX32, "mkdir"), Some(0x4000_0000 | 83));
        assert_eq!(syscall_number(ScmpArchX32, "rt_sigaction"), Some(0x4000_0000 | 512));
        assert_eq!(syscall_number(ScmpArchX32, "pwritev2"), Some(0x4000_0000 | 547));
        assert_eq!(syscall_number(ScmpArchX32, "uselib"), None);
        assert_eq!(syscall_number(ScmpArchX32, "epoll_wait_old"), None);
        assert_eq!(syscall_number(ScmpArchAarch64, "openat"), Some(56));
        assert_eq!(syscall_number(ScmpArchAarch64, "open"), None);
        assert_eq!(syscall_number(ScmpArchArm, "set_tls"), Some(0x0f_0005));
        assert_eq!(syscall_number(ScmpArchArm, "arm_fadvise64_64"), Some(270));
        assert_eq!(syscall_number(ScmpArchMips, "read"), None);
        assert_eq!(syscall_number(ScmpArchX86_64, "no_such_syscall"), None);
    }

    #[test]
    fn x32_specific_entries_are_x86_64_only_ones() {
        for (name, _) in X32_SPECIFIC {
            let nr = syscall_number(Arch::ScmpArchX86_64, name).unwrap();
            assert!(X86_64_ONLY.contains(&(nr)), "{name} ({nr}) should be 64-bit only");
        }
    }
}
