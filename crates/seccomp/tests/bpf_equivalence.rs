//! Randomized check of the compiler: for random OCI seccomp objects and random `seccomp_data`,
//! running the compiled program in a BPF interpreter gives exactly what a naive evaluation of
//! the rules gives. Covers every action, every comparison operator, 64-bit values, sub-
//! architectures (i386, x32, arm), unknown names and long programs.

#[path = "support/interp.rs"]
mod interp;
#[path = "support/reference.rs"]
mod reference;

use berth_seccomp::bpf::{compile_for, syscall_number, tables};
use berth_seccomp::profile::seccomp_arg;
use interp::{check, run, Data};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as Op, LinuxSyscall};
use proptest::prelude::*;

/// Names with different numbers on different architectures, some missing on some, some unknown.
const NAMES: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "mkdir",
    "mkdirat",
    "socket",
    "clone",
    "clone3",
    "personality",
    "getpid",
    "ioctl",
    "rt_sigaction",
    "readv",
    "execve",
    "mmap2",
    "set_tls",
    "cacheflush",
    "arch_prctl",
    "socketcall",
    "_llseek",
    "no_such_call",
    "fstatat64",
    "newfstatat",
    "io_setup",
    "uselib",
    "pwritev2",
];

const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    38,
    39,
    40,
    0x7E02_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

fn action() -> impl Strategy<Value = A> {
    prop_oneof![
        Just(A::ScmpActAllow),
        Just(A::ScmpActErrno),
        Just(A::ScmpActKill),
        Just(A::ScmpActKillThread),
        Just(A::ScmpActKillProcess),
        Just(A::ScmpActTrap),
        Just(A::ScmpActTrace),
        Just(A::ScmpActLog),
        Just(A::ScmpActNotify),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::ScmpCmpNe),
        Just(Op::ScmpCmpLt),
        Just(Op::ScmpCmpLe),
        Just(Op::ScmpCmpEq),
        Just(Op::ScmpCmpGe),
        Just(Op::ScmpCmpGt),
        Just(Op::ScmpCmpMaskedEq),
    ]
}

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => proptest::sample::select(INTERESTING),
        2 => 0u64..64,
        1 => any::<u32>().prop_map(|h| (h as u64) << 32),
        1 => any::<u32>().prop_map(u64::from),
        2 => any::<u64>(),
    ]
}

fn rule(names: &'static [&'static str]) -> impl Strategy<Value = LinuxSyscall> {
    let arg = (prop_oneof![3 => 0usize..2, 1 => 0usize..6], value(), proptest::option::of(value()), op())
        .prop_map(|(i, v, v2, op)| seccomp_arg(i, v, v2, op));
    (
        proptest::collection::vec(proptest::sample::select(names), 1..4),
        action(),
        proptest::option::of(0u32..200),
        proptest::collection::vec(arg, 0..4),
    )
        .prop_map(|(names, action, errno, args)| {
            let mut s = LinuxSyscall::default();
            s.set_names(names.iter().map(|n| n.to_string()).collect());
            s.set_action(action);
            s.set_errno_ret(errno);
            s.set_args((!args.is_empty()).then_some(args));
            s
        })
}

fn seccomp(
    names: &'static [&'static str],
    rules: std::ops::Range<usize>,
) -> impl Strategy<Value = (Arch, LinuxSeccomp)> {
    let arches = proptest::option::of(proptest::collection::vec(
        proptest::sample::select(
            &[
                Arch::ScmpArchX86_64,
                Arch::ScmpArchX86,
                Arch::ScmpArchX32,
                Arch::ScmpArchAarch64,
                Arch::ScmpArchArm,
                Arch::ScmpArchS390x,
                Arch::ScmpArchNative,
            ][..],
        ),
        0..4,
    ));
    let default = action().prop_filter("NOTIFY cannot be the default", |a| *a != A::ScmpActNotify);
    (
        prop_oneof![Just(Arch::ScmpArchX86_64), Just(Arch::ScmpArchAarch64)],
        default,
        proptest::option::of(0u32..200),
        arches,
        proptest::collection::vec(rule(names), rules),
    )
        .prop_map(|(native, default, errno, arches, rules)| {
            let mut s = LinuxSeccomp::default();
            s.set_default_action(default);
            s.set_default_errno_ret(errno);
            s.set_architectures(arches);
            s.set_syscalls(Some(rules));
            (native, s)
        })
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// Random `seccomp_data` that often hits the profile's syscalls and comparison boundaries.
fn samples(native: Arch, spec: &LinuxSeccomp, seed: u64, count: usize) -> Vec<Data> {
    let mut rng = Rng(seed | 1);
    let audits =
        [tables::AUDIT_ARCH_X86_64, tables::AUDIT_ARCH_I386, tables::AUDIT_ARCH_AARCH64, tables::AUDIT_ARCH_ARM];
    let native_audit = tables::audit_arch(native).unwrap();
    let mut nrs = vec![0u32, 1, u32::MAX, 0x4000_0000, 0x3fff_ffff];
    let mut vals: Vec<u64> = INTERESTING.to_vec();
    for s in spec.syscalls().as_deref().unwrap_or_default() {
        for n in s.names() {
            for a in
                [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32, Arch::ScmpArchAarch64, Arch::ScmpArchArm]
            {
                if let Some(nr) = syscall_number(a, n) {
                    nrs.extend([nr, nr.wrapping_add(1), nr.wrapping_sub(1)]);
                }
            }
        }
        for a in s.args().as_deref().unwrap_or_default() {
            let (v, v2) = (a.value(), a.value_two().unwrap_or(0));
            vals.extend([v, v.wrapping_add(1), v.wrapping_sub(1), v2, v2 | !v, v2 ^ (1 << 40), v ^ (1 << 3)]);
        }
    }
    (0..count)
        .map(|_| {
            let arch = match rng.next() % 8 {
                0..=3 => native_audit,
                7 => rng.next() as u32,
                _ => rng.pick(&audits),
            };
            let nr = match rng.next() % 6 {
                0 => rng.next() as u32,
                1 => rng.pick(&nrs) ^ 0x4000_0000,
                _ => rng.pick(&nrs),
            };
            let mut args = [0u64; 6];
            for a in &mut args {
                *a = match rng.next() % 5 {
                    0 => rng.next(),
                    1 => rng.pick(&vals) ^ (rng.next() & rng.next() & rng.next()),
                    _ => rng.pick(&vals),
                };
            }
            Data { nr, arch, ip: rng.next(), args }
        })
        .collect()
}

fn assert_equivalent(native: Arch, spec: &LinuxSeccomp, seed: u64, count: usize) -> Result<(), TestCaseError> {
    let prog = match compile_for(spec, native) {
        Ok(p) => p,
        Err(berth_seccomp::Error::TooLong(_)) => return Ok(()),
        Err(e) => return Err(TestCaseError::fail(format!("compile failed: {e}"))),
    };
    check(prog.instructions()).map_err(TestCaseError::fail)?;
    let notify = spec.syscalls().as_deref().unwrap_or_default().iter().any(|s| s.action() == A::ScmpActNotify);
    prop_assert_eq!(prog.needs_listener(), notify);
    for d in samples(native, spec, seed, count) {
        let (got, steps) = run(prog.instructions(), &d);
        let want = reference::evaluate(spec, native, &d);
        prop_assert_eq!(got, want, "data {:x?}", d);
        prop_assert!(steps <= prog.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn compiled_program_matches_reference((native, spec) in seccomp(NAMES, 0..12), seed in any::<u64>()) {
        assert_equivalent(native, &spec, seed, 400)?;
    }
}

fn all_x86_64_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| syscalls::x86_64::Sysno::iter().map(|s| s.name()).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Large profiles: many ranges and argument chains, jumps beyond 255 instructions.
    #[test]
    fn large_programs_match_reference((native, spec) in seccomp(all_x86_64_names(), 40..160), seed in any::<u64>()) {
        assert_equivalent(native, &spec, seed, 3000)?;
    }
}
