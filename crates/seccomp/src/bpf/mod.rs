//! A pure-Rust compiler from the OCI `linux.seccomp` object to a classic-BPF seccomp filter.
//!
//! # Why our own compiler
//! runc and crun link libseccomp, which is C: berth is a single static Rust binary and does not
//! want a C toolchain or library in its build. The Rust alternatives don't fit either:
//! `seccompiler` (Firecracker's) gives each filter a single match action and a single mismatch
//! action, while Docker profiles need many actions in one filter (ALLOW, ERRNO with different
//! errnos, NOTIFY, …), argument rules with all seven comparison operators on 64-bit values,
//! and several architectures (x86_64 with its i386 and x32 ABIs) in one program.
//!
//! # Semantics (those of libseccomp as used by runc)
//! * The architecture is checked first. The filter covers the native architecture plus the
//!   compat ones listed in `architectures` that this machine can run (x86_64: `SCMP_ARCH_X86`,
//!   `SCMP_ARCH_X32`; aarch64: `SCMP_ARCH_ARM`). Listed architectures a process here can never
//!   have (e.g. `SCMP_ARCH_S390X` on x86_64) are ignored. Anything else is killed with
//!   `SECCOMP_RET_KILL_PROCESS`, as libseccomp's "bad arch" action does.
//! * x32 processes report `AUDIT_ARCH_X86_64` with bit 30 (`__X32_SYSCALL_BIT`) set in the
//!   syscall number; like libseccomp, every number from 0x40000000 up is taken as x32's
//!   (including -1). When `SCMP_ARCH_X32` is not listed, such numbers are treated like an
//!   unlisted architecture, i.e. `KILL_PROCESS` (libseccomp does the same), rather than falling
//!   to the default action: otherwise a profile that only thought about x86_64 would be
//!   consulted with numbers that mean something else.
//! * Syscall names an architecture does not have are skipped for that architecture (as runc does).
//! * A rule matches when all its argument comparisons hold. Comparisons are on the full 64-bit
//!   `seccomp_data.args[i]`, done on its two little-endian 32-bit halves; `SCMP_CMP_MASKED_EQ`
//!   is `(arg & value) == valueTwo`. On the 32-bit architectures (i386, arm) only the low 32
//!   bits of arguments and values are compared, as libseccomp does (see `Cond::narrowed`).
//! * When several rules of one syscall match, the highest-precedence action wins, in the
//!   kernel's order: KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG >
//!   ALLOW. Between two matching rules with the same action (e.g. ERRNO with two different
//!   errnos) the one listed first wins. No matching rule → the default action.
//! * `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` without `errnoRet` use EPERM (as runc); the default
//!   action uses `defaultErrnoRet`, EPERM when absent.
//! * On i386, `socket`, `bind`, … rules apply to the direct syscalls only, not to their
//!   `socketcall(2)` multiplexer (whose arguments live in memory and cannot be filtered).
//!
//! # Shape of the program
//! `ld arch; jeq …` per architecture, then per architecture `ld nr` and a binary search over
//! the syscall number: numbers are sorted, runs of consecutive numbers with the same outcome
//! (including "not listed" → default) are merged into ranges, and the ranges are searched with
//! `jge`. A range whose outcome depends on arguments ends in a chain of 32-bit comparisons, one
//! rule after the other in precedence order. Code is assembled back to front
//! (module `emit`), which makes long jumps (past 255 instructions) a local matter of one trampoline.

mod emit;
pub mod tables;

use libc::sock_filter;
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use self::emit::{Emitter, Target, JEQ_K, JGE_K, JGT_K};
use self::tables::{audit_arch, X32_SYSCALL_BIT};
use crate::error::{describe, Error};

pub use self::tables::syscall_number;

/// Offset of `seccomp_data.nr`.
const OFF_NR: u32 = 0;
/// Offset of `seccomp_data.arch`.
const OFF_ARCH: u32 = 4;
/// Offset of `seccomp_data.args[0]`.
const OFF_ARGS: u32 = 16;

/// A compiled filter, ready for [`crate::install()`].
#[derive(Clone, Debug)]
pub struct Program {
    insns: Vec<sock_filter>,
    needs_listener: bool,
}

impl Program {
    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Never true for a compiled program; here for API completeness.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The instructions, first to last.
    pub fn instructions(&self) -> &[sock_filter] {
        &self.insns
    }

    /// True when some rule is `SCMP_ACT_NOTIFY`: the filter must be installed with
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` and the listener handed to a seccomp agent.
    pub fn needs_listener(&self) -> bool {
        self.needs_listener
    }
}

/// The seccomp return value for an action; `errno` is the data of ERRNO and TRACE (EPERM when
/// absent). `None` when the errno does not fit the 16-bit data field.
pub fn action_value(action: LinuxSeccompAction, errno: Option<u32>) -> Option<u32> {
    let data = || match errno {
        None => Some(libc::EPERM as u32),
        Some(e) if e <= libc::SECCOMP_RET_DATA => Some(e),
        Some(_) => None,
    };
    Some(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data()?,
        LinuxSeccompAction::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        LinuxSeccompAction::ScmpActTrace => libc::SECCOMP_RET_TRACE | data()?,
        LinuxSeccompAction::ScmpActLog => libc::SECCOMP_RET_LOG,
        LinuxSeccompAction::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

/// Precedence of a return value: lower is stronger (the kernel compares the action part as a
/// signed number, which puts KILL_PROCESS, 0x80000000, first).
pub fn precedence(ret: u32) -> i32 {
    (ret & libc::SECCOMP_RET_ACTION_FULL) as i32
}

/// The architecture this crate was built for, if the compiler supports it.
pub fn native_arch() -> Option<Arch> {
    if cfg!(target_arch = "x86_64") {
        Some(Arch::ScmpArchX86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::ScmpArchAarch64)
    } else {
        None
    }
}

/// Compiles `seccomp` for this machine's architecture (x86_64 or aarch64).
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Program, Error> {
    let native = native_arch().ok_or_else(|| Error::UnsupportedArch(std::env::consts::ARCH.to_owned()))?;
    compile_for(seccomp, native)
}

/// One 64-bit argument test; `negate` turns EQ into NE, GE into LT and GT into LE.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cond {
    arg: u32,
    test: Test,
    negate: bool,
    /// False on 32-bit architectures: only the low 32 bits are compared (see [`Cond::narrowed`]).
    wide: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Test {
    Eq(u64),
    Gt(u64),
    Ge(u64),
    Masked { mask: u64, datum: u64 },
}

impl Cond {
    fn new(a: &LinuxSeccompArg) -> Cond {
        let (test, negate) = match a.op() {
            LinuxSeccompOperator::ScmpCmpEq => (Test::Eq(a.value()), false),
            LinuxSeccompOperator::ScmpCmpNe => (Test::Eq(a.value()), true),
            LinuxSeccompOperator::ScmpCmpGt => (Test::Gt(a.value()), false),
            LinuxSeccompOperator::ScmpCmpLe => (Test::Gt(a.value()), true),
            LinuxSeccompOperator::ScmpCmpGe => (Test::Ge(a.value()), false),
            LinuxSeccompOperator::ScmpCmpLt => (Test::Ge(a.value()), true),
            LinuxSeccompOperator::ScmpCmpMaskedEq => {
                (Test::Masked { mask: a.value(), datum: a.value_two().unwrap_or(0) }, false)
            }
        };
        Cond { arg: a.index() as u32, test, negate, wide: true }
    }

    /// The comparison as libseccomp makes it on a 32-bit architecture (i386, arm): on the low
    /// 32 bits of the argument and of the values. The kernel passes a compat task's registers
    /// unmasked, so a 64-bit process using `int $0x80` could otherwise put bits in the upper
    /// half that the syscall ignores but a 64-bit comparison would not.
    fn narrowed(&self) -> Cond {
        let low = |v: u64| v & u64::from(u32::MAX);
        let test = match self.test {
            Test::Eq(v) => Test::Eq(low(v)),
            Test::Gt(v) => Test::Gt(low(v)),
            Test::Ge(v) => Test::Ge(low(v)),
            Test::Masked { mask, datum } => Test::Masked { mask: low(mask), datum: low(datum) },
        };
        Cond { test, wide: false, ..self.clone() }
    }

    /// The outcome when it does not depend on the argument.
    fn constant(&self) -> Option<bool> {
        let max = if self.wide { u64::MAX } else { u64::from(u32::MAX) };
        let c = match self.test {
            Test::Eq(_) => None,
            Test::Gt(v) => (v == max).then_some(false),
            Test::Ge(v) => (v == 0).then_some(true),
            Test::Masked { mask, datum } if datum & !mask != 0 => Some(false),
            Test::Masked { mask, .. } => (mask == 0).then_some(true),
        };
        c.map(|c| c != self.negate)
    }
}

/// One rule as it applies to one syscall number.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    ret: u32,
    conds: Vec<Cond>,
}

/// What a syscall number (or range of numbers) leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Handler {
    Ret(u32),
    /// Try `rules` in order; the first that matches gives its `ret`; none → `fallback`.
    Rules {
        rules: Vec<Rule>,
        fallback: u32,
    },
}

/// A validated OCI rule: its return value and its argument comparisons.
struct Checked<'a> {
    names: &'a [String],
    ret: u32,
    conds: Vec<Cond>,
}

/// `conds` as they apply on one architecture (narrowed to 32 bits or not), with the constant
/// ones folded away; `None` when one of them can never hold.
fn fold(conds: &[Cond], narrow: bool) -> Option<Vec<Cond>> {
    let mut out = Vec::new();
    for c in conds {
        let c = if narrow { c.narrowed() } else { c.clone() };
        match c.constant() {
            Some(true) => {}
            Some(false) => return None,
            None => out.push(c),
        }
    }
    Some(out)
}

/// Compiles `seccomp` for a machine whose native architecture is `native`
/// (`SCMP_ARCH_X86_64` or `SCMP_ARCH_AARCH64`).
pub fn compile_for(seccomp: &LinuxSeccomp, native: Arch) -> Result<Program, Error> {
    let compat: &[Arch] = match native {
        Arch::ScmpArchX86_64 => &[Arch::ScmpArchX86, Arch::ScmpArchX32],
        Arch::ScmpArchAarch64 => &[Arch::ScmpArchArm],
        other => return Err(Error::UnsupportedArch(format!("{other:?}"))),
    };
    let listed = |a: Arch| seccomp.architectures().as_deref().unwrap_or_default().contains(&a);

    if seccomp.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(Error::NotifyDefault);
    }
    let default = action_value(seccomp.default_action(), seccomp.default_errno_ret()).ok_or(Error::ErrnoRange {
        context: "defaultErrnoRet".into(),
        errno: seccomp.default_errno_ret().unwrap_or_default(),
    })?;

    let mut checked = Vec::new();
    let mut needs_listener = false;
    for s in seccomp.syscalls().as_deref().unwrap_or_default() {
        if s.names().is_empty() {
            continue;
        }
        let who = || describe(s.names());
        let ret = action_value(s.action(), s.errno_ret()).ok_or_else(|| Error::ErrnoRange {
            context: format!("syscall {}", who()),
            errno: s.errno_ret().unwrap_or(0),
        })?;
        needs_listener |= s.action() == LinuxSeccompAction::ScmpActNotify;
        let mut conds = Vec::new();
        for a in s.args().as_deref().unwrap_or_default() {
            if a.index() > 5 {
                return Err(Error::ArgIndex { syscall: who(), index: a.index() as u64 });
            }
            conds.push(Cond::new(a));
        }
        checked.push(Checked { names: s.names(), ret, conds });
    }

    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    // (audit arch, [(first nr, end nr exclusive, table or None = kill)])
    type Part = (u64, u64, Option<Arch>);
    let mut sections: Vec<(u32, Vec<Part>)> = Vec::new();
    match native {
        Arch::ScmpArchX86_64 => {
            let x32 = listed(Arch::ScmpArchX32).then_some(Arch::ScmpArchX32);
            let bit = X32_SYSCALL_BIT as u64;
            sections.push((tables::AUDIT_ARCH_X86_64, vec![(0, bit, Some(native)), (bit, 1 << 32, x32)]));
        }
        _ => sections.push((audit_arch(native).expect("supported"), vec![(0, 1 << 32, Some(native))])),
    }
    for &a in compat {
        if a != Arch::ScmpArchX32 && listed(a) {
            sections.push((audit_arch(a).expect("supported"), vec![(0, 1 << 32, Some(a))]));
        }
    }

    let mut e = Emitter::default();
    let mut entries = Vec::new();
    for (audit, parts) in sections.iter().rev() {
        let mut intervals: Vec<(u32, Handler)> = Vec::new();
        let mut add = |start: u64, h: Handler| {
            if intervals.last().map(|(_, last)| last) != Some(&h) {
                intervals.push((start as u32, h));
            }
        };
        for &(lo, hi, arch) in parts {
            let Some(arch) = arch else {
                add(lo, Handler::Ret(kill));
                continue;
            };
            let mut cur = lo;
            for (nr, h) in handlers(&checked, arch, default) {
                let nr = nr as u64;
                if nr < lo || nr >= hi {
                    continue;
                }
                if nr > cur {
                    add(cur, Handler::Ret(default));
                }
                add(nr, h);
                cur = nr + 1;
            }
            if cur < hi {
                add(cur, Handler::Ret(default));
            }
        }
        let root = tree(&mut e, &intervals);
        let entry = match root {
            Target::Ret(_) => root,
            Target::Label(_) => {
                e.goto(root);
                Target::Label(e.load(OFF_NR))
            }
        };
        entries.push((*audit, entry));
    }
    // `entries` is in reverse section order; build the jeq chain from its end.
    let mut next = Target::Ret(kill);
    for (audit, entry) in entries {
        next = Target::Label(e.jump(JEQ_K, audit, entry, next));
    }
    e.goto(next);
    e.load(OFF_ARCH);

    let insns = e.finish();
    if insns.len() > libc::BPF_MAXINSNS as usize {
        return Err(Error::TooLong(insns.len()));
    }
    Ok(Program { insns, needs_listener })
}

/// Every syscall number of `arch` some rule names, with what it leads to, sorted by number.
fn handlers(checked: &[Checked<'_>], arch: Arch, default: u32) -> Vec<(u32, Handler)> {
    let narrow = matches!(arch, Arch::ScmpArchX86 | Arch::ScmpArchArm);
    let mut by_nr: std::collections::BTreeMap<u32, Vec<(usize, &Checked<'_>)>> = Default::default();
    for (order, c) in checked.iter().enumerate() {
        for name in c.names {
            if let Some(nr) = syscall_number(arch, name) {
                let rules = by_nr.entry(nr).or_default();
                // The same rule naming a syscall twice adds nothing.
                if rules.last().map(|(o, _)| *o) != Some(order) {
                    rules.push((order, c));
                }
            }
        }
    }
    by_nr
        .into_iter()
        .map(|(nr, mut rules)| {
            // Strongest action first; listing order among equals (sort_by_key is stable).
            rules.sort_by_key(|(_, c)| precedence(c.ret));
            let mut out: Vec<Rule> = Vec::new();
            let mut fallback = default;
            for (_, c) in rules {
                match fold(&c.conds, narrow) {
                    None => {}
                    Some(conds) if conds.is_empty() => {
                        fallback = c.ret;
                        break;
                    }
                    Some(conds) => out.push(Rule { ret: c.ret, conds }),
                }
            }
            // A rule whose outcome equals what happens when it does not match is moot.
            while out.last().is_some_and(|r| r.ret == fallback) {
                out.pop();
            }
            let h = if out.is_empty() { Handler::Ret(fallback) } else { Handler::Rules { rules: out, fallback } };
            (nr, h)
        })
        .collect()
}

/// Binary search over `intervals` (sorted, contiguous, first starting at 0) with the syscall
/// number in A. Returns the entry point.
fn tree(e: &mut Emitter, intervals: &[(u32, Handler)]) -> Target {
    if let [(_, h)] = intervals {
        return match h {
            Handler::Ret(k) => Target::Ret(*k),
            Handler::Rules { rules, fallback } => rule_chain(e, rules, *fallback),
        };
    }
    let mid = intervals.len() / 2;
    let right = tree(e, &intervals[mid..]);
    let left = tree(e, &intervals[..mid]);
    Target::Label(e.jump(JGE_K, intervals[mid].0, right, left))
}

/// The rules of one syscall, tried in order.
fn rule_chain(e: &mut Emitter, rules: &[Rule], fallback: u32) -> Target {
    let mut next = Target::Ret(fallback);
    for rule in rules.iter().rev() {
        let mut ok = Target::Ret(rule.ret);
        for c in rule.conds.iter().rev() {
            ok = condition(e, c, ok, next);
        }
        next = ok;
    }
    next
}

/// Loads one half of an argument (masking it if `mask` is not all ones) and jumps on `code #k`.
fn half(e: &mut Emitter, off: u32, mask: u32, code: u16, k: u32, t: Target, f: Target) -> Target {
    e.jump(code, k, t, f);
    if mask != u32::MAX {
        e.and(mask);
    }
    Target::Label(e.load(off))
}

/// Code for one comparison: continue at `t` when it holds, `f` when not.
fn condition(e: &mut Emitter, c: &Cond, mut t: Target, mut f: Target) -> Target {
    if c.negate {
        std::mem::swap(&mut t, &mut f);
    }
    let lo = OFF_ARGS + 8 * c.arg;
    let hi = lo + 4;
    if !c.wide {
        let (code, k, mask) = match c.test {
            Test::Eq(v) => (JEQ_K, v as u32, u32::MAX),
            Test::Gt(v) => (JGT_K, v as u32, u32::MAX),
            Test::Ge(v) => (JGE_K, v as u32, u32::MAX),
            Test::Masked { mask, datum } => (JEQ_K, datum as u32, mask as u32),
        };
        return half(e, lo, mask, code, k, t, f);
    }
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    match c.test {
        Test::Eq(v) => {
            let (vh, vl) = split(v);
            let low = half(e, lo, u32::MAX, JEQ_K, vl, t, f);
            half(e, hi, u32::MAX, JEQ_K, vh, low, f)
        }
        Test::Gt(v) | Test::Ge(v) => {
            let (vh, vl) = split(v);
            let ge = matches!(c.test, Test::Ge(_));
            if ge && vl == 0 {
                // (hi, 0) >= (vh, 0) ⇔ hi >= vh
                return half(e, hi, u32::MAX, JGE_K, vh, t, f);
            }
            let low = half(e, lo, u32::MAX, if ge { JGE_K } else { JGT_K }, vl, t, f);
            match vh {
                // hi > 0 → true; hi == 0 → compare the low half
                0 => half(e, hi, u32::MAX, JEQ_K, 0, low, t),
                // hi can't exceed it: equal → low half, else false
                u32::MAX => half(e, hi, u32::MAX, JEQ_K, vh, low, f),
                _ => {
                    let eq = e.jump(JEQ_K, vh, low, f);
                    e.jump(JGT_K, vh, t, Target::Label(eq));
                    Target::Label(e.load(hi))
                }
            }
        }
        Test::Masked { mask, datum } => {
            let ((mh, ml), (dh, dl)) = (split(mask), split(datum));
            let low = if ml == 0 { t } else { half(e, lo, ml, JEQ_K, dl, t, f) };
            if mh == 0 {
                low
            } else {
                half(e, hi, mh, JEQ_K, dh, low, f)
            }
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
