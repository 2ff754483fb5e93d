//! Unit tests of the compiler; the randomized equivalence tests live in `tests/bpf_equivalence.rs`.

use std::collections::HashSet;

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as Op, LinuxSyscall};

use super::*;
use crate::profile::seccomp_arg;

#[path = "../../tests/support/interp.rs"]
mod interp;
#[path = "../../tests/support/reference.rs"]
mod reference;

use interp::{check, run, Data};

fn rule(names: &[&str], action: A, errno: Option<u32>, args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    let mut s = LinuxSyscall::default();
    s.set_names(names.iter().map(|n| n.to_string()).collect());
    s.set_action(action);
    s.set_errno_ret(errno);
    s.set_args((!args.is_empty()).then_some(args));
    s
}

fn spec(default: A, arches: &[Arch], rules: Vec<LinuxSyscall>) -> LinuxSeccomp {
    let mut s = LinuxSeccomp::default();
    s.set_default_action(default);
    s.set_architectures((!arches.is_empty()).then(|| arches.to_vec()));
    s.set_syscalls(Some(rules));
    s
}

fn x86_64(nr: u32, args: [u64; 6]) -> Data {
    Data { nr, arch: tables::AUDIT_ARCH_X86_64, ip: 0, args }
}

fn exec(p: &Program, d: Data) -> u32 {
    check(p.instructions()).expect("kernel would accept the program");
    run(p.instructions(), &d).0
}

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | 1;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

#[test]
fn action_encoding() {
    assert_eq!(action_value(A::ScmpActAllow, None), Some(0x7fff_0000));
    assert_eq!(action_value(A::ScmpActErrno, None), Some(0x0005_0001));
    assert_eq!(action_value(A::ScmpActErrno, Some(38)), Some(0x0005_0026));
    assert_eq!(action_value(A::ScmpActErrno, Some(0)), Some(0x0005_0000));
    assert_eq!(action_value(A::ScmpActErrno, Some(0x1_0000)), None);
    assert_eq!(action_value(A::ScmpActTrace, None), Some(0x7ff0_0001));
    assert_eq!(action_value(A::ScmpActTrace, Some(7)), Some(0x7ff0_0007));
    assert_eq!(action_value(A::ScmpActKill, None), Some(0));
    assert_eq!(action_value(A::ScmpActKillThread, None), Some(0));
    assert_eq!(action_value(A::ScmpActKillProcess, None), Some(0x8000_0000));
    assert_eq!(action_value(A::ScmpActTrap, Some(5)), Some(0x0003_0000));
    assert_eq!(action_value(A::ScmpActNotify, None), Some(0x7fc0_0000));
    assert_eq!(action_value(A::ScmpActLog, None), Some(0x7ffc_0000));
    // the order the brief and the kernel agree on
    let order = [
        A::ScmpActKillProcess,
        A::ScmpActKillThread,
        A::ScmpActTrap,
        A::ScmpActErrno,
        A::ScmpActNotify,
        A::ScmpActTrace,
        A::ScmpActLog,
        A::ScmpActAllow,
    ];
    for w in order.windows(2) {
        let (a, b) = (action_value(w[0], None).unwrap(), action_value(w[1], None).unwrap());
        assert!(precedence(a) < precedence(b), "{:?} must beat {:?}", w[0], w[1]);
    }
    assert_eq!(
        precedence(action_value(A::ScmpActErrno, Some(1)).unwrap()),
        precedence(action_value(A::ScmpActErrno, Some(99)).unwrap())
    );
}

#[test]
fn constant_conditions_fold() {
    let c = |op, v, v2| Cond::new(&seccomp_arg(0, v, v2, op)).constant();
    assert_eq!(c(Op::ScmpCmpGe, 0, None), Some(true));
    assert_eq!(c(Op::ScmpCmpLt, 0, None), Some(false));
    assert_eq!(c(Op::ScmpCmpGt, u64::MAX, None), Some(false));
    assert_eq!(c(Op::ScmpCmpLe, u64::MAX, None), Some(true));
    assert_eq!(c(Op::ScmpCmpMaskedEq, 0, None), Some(true));
    assert_eq!(c(Op::ScmpCmpMaskedEq, 0, Some(1)), Some(false));
    assert_eq!(c(Op::ScmpCmpMaskedEq, 0xf0, Some(0x0f)), Some(false));
    assert_eq!(c(Op::ScmpCmpMaskedEq, 0xff, Some(0x0f)), None);
    assert_eq!(c(Op::ScmpCmpEq, 0, None), None);
    assert_eq!(c(Op::ScmpCmpGe, 1, None), None);
}

#[test]
fn smallest_program() {
    let p = compile_for(&spec(A::ScmpActAllow, &[], vec![]), Arch::ScmpArchX86_64).unwrap();
    // ld arch; jeq x86_64 → ret allow : ret kill — wherever x32 numbers go, they are killed.
    assert!(p.len() <= 6, "{} instructions", p.len());
    assert_eq!(exec(&p, x86_64(0, [0; 6])), ALLOW);
    assert_eq!(exec(&p, x86_64(0x4000_0027, [0; 6])), KILL);
    assert_eq!(exec(&p, Data { arch: tables::AUDIT_ARCH_I386, ..Default::default() }), KILL);
    assert!(!p.needs_listener());
}

#[test]
fn deny_mkdir() {
    let s = spec(A::ScmpActAllow, &[], vec![rule(&["mkdir", "mkdirat"], A::ScmpActErrno, None, vec![])]);
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    assert_eq!(exec(&p, x86_64(83, [0; 6])), EPERM);
    assert_eq!(exec(&p, x86_64(258, [0; 6])), EPERM);
    assert_eq!(exec(&p, x86_64(82, [0; 6])), ALLOW);
    assert_eq!(exec(&p, x86_64(84, [0; 6])), ALLOW);
    assert_eq!(exec(&p, x86_64(u32::MAX >> 2, [0; 6])), ALLOW);
}

#[test]
fn arguments_and_precedence() {
    let s = spec(
        A::ScmpActErrno,
        &[],
        vec![
            rule(&["socket"], A::ScmpActAllow, None, vec![seccomp_arg(0, 38, None, Op::ScmpCmpLt)]),
            rule(&["socket"], A::ScmpActAllow, None, vec![seccomp_arg(0, 39, None, Op::ScmpCmpEq)]),
            rule(&["socket"], A::ScmpActAllow, None, vec![seccomp_arg(0, 40, None, Op::ScmpCmpGt)]),
            rule(&["socket"], A::ScmpActErrno, Some(97), vec![seccomp_arg(1, 3, None, Op::ScmpCmpEq)]),
            rule(&["socket"], A::ScmpActErrno, Some(98), vec![seccomp_arg(1, 3, None, Op::ScmpCmpEq)]),
        ],
    );
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    let sock = |fam: u64, ty: u64| exec(&p, x86_64(41, [fam, ty, 0, 0, 0, 0]));
    assert_eq!(sock(2, 1), ALLOW);
    assert_eq!(sock(38, 1), EPERM);
    assert_eq!(sock(39, 1), ALLOW);
    assert_eq!(sock(40, 1), EPERM);
    assert_eq!(sock(41, 1), ALLOW);
    assert_eq!(sock(1 << 32, 1), ALLOW); // 64-bit comparison, not truncated
    assert_eq!(sock(2, 3), libc::SECCOMP_RET_ERRNO | 97); // ERRNO beats ALLOW; first ERRNO wins
    assert_eq!(sock(38, 3), libc::SECCOMP_RET_ERRNO | 97);
}

#[test]
fn masked_eq_clone() {
    let s = spec(
        A::ScmpActErrno,
        &[],
        vec![rule(&["clone"], A::ScmpActAllow, None, vec![seccomp_arg(0, 0x7E02_0000, None, Op::ScmpCmpMaskedEq)])],
    );
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    let clone = |flags: u64| exec(&p, x86_64(56, [flags, 0, 0, 0, 0, 0]));
    assert_eq!(clone(0x0120_0011), ALLOW); // fork()'s flags
    assert_eq!(clone(0x1000_0000), EPERM); // CLONE_NEWUSER
    assert_eq!(clone(0x0002_0000), EPERM); // CLONE_NEWNS
    assert_eq!(clone(0xFFFF_FFFF_0000_0000), ALLOW); // upper half is not masked
}

#[test]
fn sub_architectures() {
    let rules = vec![rule(&["getpid"], A::ScmpActErrno, Some(5), vec![])];
    let only_native = compile_for(&spec(A::ScmpActAllow, &[], rules.clone()), Arch::ScmpArchX86_64).unwrap();
    let all = compile_for(
        &spec(
            A::ScmpActAllow,
            &[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32, Arch::ScmpArchS390x],
            rules.clone(),
        ),
        Arch::ScmpArchX86_64,
    )
    .unwrap();
    let e5 = libc::SECCOMP_RET_ERRNO | 5;
    let i386 = |nr| Data { nr, arch: tables::AUDIT_ARCH_I386, ..Default::default() };
    assert_eq!(exec(&only_native, x86_64(39, [0; 6])), e5);
    assert_eq!(exec(&only_native, x86_64(0x4000_0027, [0; 6])), KILL);
    assert_eq!(exec(&only_native, i386(20)), KILL);
    assert_eq!(exec(&all, x86_64(39, [0; 6])), e5);
    assert_eq!(exec(&all, x86_64(0x4000_0027, [0; 6])), e5);
    assert_eq!(exec(&all, x86_64(0x4000_0000 | 83, [0; 6])), ALLOW);
    assert_eq!(exec(&all, i386(20)), e5);
    assert_eq!(exec(&all, i386(39)), ALLOW);
    assert_eq!(exec(&all, Data { arch: 0x8000_0016, ..Default::default() }), KILL);

    let arm = compile_for(&spec(A::ScmpActAllow, &[Arch::ScmpArchArm], rules), Arch::ScmpArchAarch64).unwrap();
    assert_eq!(exec(&arm, Data { nr: 172, arch: tables::AUDIT_ARCH_AARCH64, ..Default::default() }), e5);
    assert_eq!(exec(&arm, Data { nr: 20, arch: tables::AUDIT_ARCH_ARM, ..Default::default() }), e5);
    assert_eq!(exec(&arm, Data { nr: 39, arch: tables::AUDIT_ARCH_X86_64, ..Default::default() }), KILL);
}

#[test]
fn errors() {
    let mut s = spec(A::ScmpActNotify, &[], vec![]);
    assert!(matches!(compile_for(&s, Arch::ScmpArchX86_64), Err(Error::NotifyDefault)));
    s.set_default_action(A::ScmpActErrno);
    s.set_default_errno_ret(Some(70_000));
    assert!(matches!(compile_for(&s, Arch::ScmpArchX86_64), Err(Error::ErrnoRange { .. })));
    let s = spec(
        A::ScmpActAllow,
        &[],
        vec![rule(&["read"], A::ScmpActAllow, None, vec![seccomp_arg(6, 0, None, Op::ScmpCmpEq)])],
    );
    match compile_for(&s, Arch::ScmpArchX86_64) {
        Err(e @ Error::ArgIndex { .. }) => assert!(e.to_string().contains("\"read\""), "{e}"),
        other => panic!("{other:?}"),
    }
    let s = spec(A::ScmpActAllow, &[], vec![rule(&["read"], A::ScmpActErrno, Some(1 << 20), vec![])]);
    assert!(matches!(compile_for(&s, Arch::ScmpArchX86_64), Err(Error::ErrnoRange { .. })));
    let s = spec(A::ScmpActAllow, &[], vec![]);
    assert!(matches!(compile_for(&s, Arch::ScmpArchS390x), Err(Error::UnsupportedArch(_))));
    // A profile too big for the kernel is refused, not truncated.
    let many: Vec<_> = (0..3000u64)
        .map(|v| {
            rule(&["ioctl"], A::ScmpActErrno, Some(2), vec![seccomp_arg(1, v * 7 + (v << 33), None, Op::ScmpCmpEq)])
        })
        .collect();
    assert!(
        matches!(compile_for(&spec(A::ScmpActAllow, &[], many), Arch::ScmpArchX86_64), Err(Error::TooLong(n)) if n > 4096)
    );
}

#[test]
fn notify_needs_listener() {
    let s = spec(A::ScmpActAllow, &[], vec![rule(&["mknod"], A::ScmpActNotify, None, vec![])]);
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    assert!(p.needs_listener());
    assert_eq!(exec(&p, x86_64(133, [0; 6])), libc::SECCOMP_RET_USER_NOTIF);
}

#[test]
fn unknown_names_are_skipped() {
    let s = spec(
        A::ScmpActErrno,
        &[Arch::ScmpArchX86],
        vec![rule(&["mmap2", "no_such_call", "read"], A::ScmpActAllow, None, vec![])],
    );
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    assert_eq!(exec(&p, x86_64(0, [0; 6])), ALLOW);
    assert_eq!(exec(&p, x86_64(192, [0; 6])), EPERM); // 192 is mmap2 on i386 only
    assert_eq!(exec(&p, Data { nr: 192, arch: tables::AUDIT_ARCH_I386, ..Default::default() }), ALLOW);
}

/// Many conditional syscalls make jumps longer than 255 instructions; the result must still
/// be accepted by the kernel's checker and agree with the reference evaluation.
#[test]
fn long_jumps() {
    let names: Vec<&str> = syscalls::x86_64::Sysno::iter().map(|s| s.name()).take(200).collect();
    let rules: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let op = [Op::ScmpCmpEq, Op::ScmpCmpNe, Op::ScmpCmpGt, Op::ScmpCmpLe, Op::ScmpCmpMaskedEq][i % 5];
            rule(
                &[n],
                if i % 3 == 0 { A::ScmpActAllow } else { A::ScmpActErrno },
                Some(i as u32),
                vec![seccomp_arg(i % 6, (i as u64) << (i % 40), Some(i as u64), op)],
            )
        })
        .collect();
    let s = spec(A::ScmpActKillThread, &[Arch::ScmpArchX32], rules);
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    check(p.instructions()).unwrap();
    assert!(p.len() > 600, "{}", p.len());
    assert!(p.instructions().iter().any(|i| i.code == emit::JMP_JA), "expected a trampoline");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..20_000u64 {
        let nr = (rnd() % 460) as u32 | if i % 4 == 0 { X32_SYSCALL_BIT } else { 0 };
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = match rnd() % 4 {
                0 => rnd() % 300,
                1 => (rnd() % 300) << (rnd() % 40),
                2 => rnd(),
                _ => 0,
            };
        }
        let d = x86_64(nr, args);
        assert_eq!(run(p.instructions(), &d).0, reference::evaluate(&s, Arch::ScmpArchX86_64, &d), "{d:?}");
    }
}

#[test]
fn default_profile_size_and_behaviour() {
    let docker_caps: HashSet<String> = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let resolved = crate::default_profile().resolve_for(&docker_caps, (6, 18), "amd64");
    let p = compile_for(&resolved, Arch::ScmpArchX86_64).unwrap();
    check(p.instructions()).unwrap();
    println!("default profile on x86_64: {} instructions", p.len());
    assert!(p.len() < 700, "{} instructions", p.len());
    let enosys = libc::SECCOMP_RET_ERRNO | 38;
    assert_eq!(exec(&p, x86_64(435, [0; 6])), enosys); // clone3
    assert_eq!(exec(&p, x86_64(272, [0x4000_0000, 0, 0, 0, 0, 0])), EPERM); // unshare(CLONE_NEWNET)
    assert_eq!(exec(&p, x86_64(41, [40, 1, 0, 0, 0, 0])), EPERM); // AF_VSOCK
    assert_eq!(exec(&p, x86_64(41, [38, 5, 0, 0, 0, 0])), EPERM); // AF_ALG
    assert_eq!(exec(&p, x86_64(41, [2, 1, 0, 0, 0, 0])), ALLOW);
    // AF_VSOCK / AF_ALG with garbage in the upper half (the kernel reads an int)
    assert_eq!(exec(&p, x86_64(41, [0x1_0000_0028, 1, 0, 0, 0, 0])), EPERM);
    assert_eq!(exec(&p, x86_64(41, [0xffff_ffff_0000_0026, 5, 0, 0, 0, 0])), EPERM);
    assert_eq!(exec(&p, x86_64(41, [0x1_0000_0002, 1, 0, 0, 0, 0])), ALLOW);
    assert_eq!(exec(&p, x86_64(250, [0; 6])), EPERM); // keyctl
    assert_eq!(exec(&p, x86_64(39, [0; 6])), ALLOW); // getpid
    assert_eq!(exec(&p, x86_64(0x4000_0027, [0; 6])), ALLOW); // x32 getpid
    assert_eq!(exec(&p, Data { nr: 20, arch: tables::AUDIT_ARCH_I386, ..Default::default() }), ALLOW);
    assert_eq!(
        exec(
            &p,
            Data { nr: 120, arch: tables::AUDIT_ARCH_I386, args: [0x2000_0000, 0, 0, 0, 0, 0], ..Default::default() }
        ),
        EPERM
    ); // i386 clone(CLONE_NEWUTS…)

    let mut admin = docker_caps.clone();
    admin.insert("CAP_SYS_ADMIN".into());
    let p = compile_for(&crate::default_profile().resolve_for(&admin, (6, 18), "amd64"), Arch::ScmpArchX86_64).unwrap();
    assert_eq!(exec(&p, x86_64(435, [0; 6])), ALLOW);
    assert_eq!(exec(&p, x86_64(272, [0x4000_0000, 0, 0, 0, 0, 0])), ALLOW);
    assert_eq!(exec(&p, x86_64(56, [0x4000_0000, 0, 0, 0, 0, 0])), ALLOW);

    let arm = compile_for(&crate::default_profile().resolve_for(&docker_caps, (6, 18), "arm64"), Arch::ScmpArchAarch64)
        .unwrap();
    check(arm.instructions()).unwrap();
    println!("default profile on aarch64: {} instructions", arm.len());
    assert_eq!(exec(&arm, Data { nr: 0x0f_0005, arch: tables::AUDIT_ARCH_ARM, ..Default::default() }), ALLOW);
    // set_tls
}

#[test]
fn thirty_two_bit_architectures_compare_the_low_half() {
    let n = |op, v, v2| Cond::new(&seccomp_arg(0, v, v2, op)).narrowed().constant();
    assert_eq!(n(Op::ScmpCmpGt, 0xffff_ffff, None), Some(false));
    assert_eq!(n(Op::ScmpCmpLe, 0x7_ffff_ffff, None), Some(true));
    assert_eq!(n(Op::ScmpCmpMaskedEq, 0xffff_ffff_0000_0000, None), Some(true));
    assert_eq!(n(Op::ScmpCmpGe, 0x1_0000_0000, None), Some(true));
    assert_eq!(n(Op::ScmpCmpGt, 0x1_0000_0000, None), None);

    let s = spec(
        A::ScmpActErrno,
        &[Arch::ScmpArchX86],
        vec![rule(&["socket"], A::ScmpActAllow, None, vec![seccomp_arg(0, 40, None, Op::ScmpCmpGt)])],
    );
    let p = compile_for(&s, Arch::ScmpArchX86_64).unwrap();
    let vsock_high = [0x1_0000_0028, 1, 0, 0, 0, 0];
    // x86_64: a 64-bit comparison (what libseccomp does there too)
    assert_eq!(exec(&p, x86_64(41, vsock_high)), ALLOW);
    // i386: the kernel only uses the low half, and so does the filter
    let i386 = |args| Data { nr: 359, arch: tables::AUDIT_ARCH_I386, ip: 0, args };
    assert_eq!(exec(&p, i386(vsock_high)), EPERM);
    assert_eq!(exec(&p, i386([41, 1, 0, 0, 0, 0])), ALLOW);
    assert_eq!(exec(&p, i386([0xffff_ffff_0000_0029, 1, 0, 0, 0, 0])), ALLOW);
}
