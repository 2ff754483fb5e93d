//! A classic-BPF assembler that builds the program backwards, from its last instruction to its
//! first.
//!
//! Classic BPF only jumps forward, so when code is emitted back to front every jump target
//! already exists and its distance is known the moment the jump is written. A conditional jump
//! has 8-bit offsets; when a target is more than 255 instructions away, a trampoline is put
//! right behind the jump first: a copy of the target if it is a `ret` (same size, one hop
//! less), else a `ja` with a 32-bit offset. That needs no fix-up pass and can never move an
//! already placed jump out of range.
//!
//! Labels are positions counted from the end of the program, which never change as more code
//! is put in front.

use std::collections::HashMap;

use libc::sock_filter;

pub(crate) const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
pub(crate) const ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
pub(crate) const JMP_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
pub(crate) const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
pub(crate) const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
pub(crate) const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
pub(crate) const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Where a jump goes: an already emitted instruction, or "return this value" (resolved to a
/// nearby `ret` instruction, emitted on demand).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Label(usize),
    Ret(u32),
}

pub(crate) fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

#[derive(Default)]
pub(crate) struct Emitter {
    /// The program, last instruction first.
    rev: Vec<sock_filter>,
    /// For each return value, the label of the `ret` emitted for it closest to the front.
    rets: HashMap<u32, usize>,
}

impl Emitter {
    /// Number of instructions emitted so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rev.len()
    }

    /// Label of the first instruction of the program so far.
    pub(crate) fn front(&self) -> usize {
        self.rev.len() - 1
    }

    fn push(&mut self, i: sock_filter) -> usize {
        self.rev.push(i);
        if i.code == RET_K {
            self.rets.insert(i.k, self.front());
        }
        self.front()
    }

    /// Distance a jump placed in front of everything emitted so far needs to reach `label`.
    fn distance(&self, label: usize) -> usize {
        self.rev.len() - 1 - label
    }

    /// `ld [offset]` (a 32-bit word of `seccomp_data`).
    pub(crate) fn load(&mut self, offset: u32) -> usize {
        self.push(insn(LD_W_ABS, 0, 0, offset))
    }

    /// `and #mask`.
    pub(crate) fn and(&mut self, mask: u32) -> usize {
        self.push(insn(ALU_AND_K, 0, 0, mask))
    }

    /// Makes `target` the instruction right after the one emitted next: a label that is not
    /// already the front gets a `ja` (or a copy of its `ret`) in front.
    pub(crate) fn goto(&mut self, target: Target) -> usize {
        match target {
            Target::Label(l) if l == self.front() => l,
            Target::Label(l) => self.trampoline(l),
            Target::Ret(k) => self.push(insn(RET_K, 0, 0, k)),
        }
    }

    fn resolve(&mut self, t: Target) -> usize {
        match t {
            Target::Label(l) => l,
            Target::Ret(k) => match self.rets.get(&k) {
                // +1: leave room for one trampoline pushed for the other target.
                Some(&l) if self.distance(l) < 255 => l,
                _ => self.push(insn(RET_K, 0, 0, k)),
            },
        }
    }

    /// An instruction in front that continues at `label`.
    fn trampoline(&mut self, label: usize) -> usize {
        let target = self.rev[label];
        if target.code == RET_K {
            self.push(target)
        } else {
            let k = self.distance(label) as u32;
            self.push(insn(JMP_JA, 0, 0, k))
        }
    }

    /// A conditional jump `code #k` going to `jt` when true and `jf` when false.
    pub(crate) fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) -> usize {
        let mut jt = self.resolve(jt);
        let mut jf = self.resolve(jf);
        loop {
            let (dt, df) = (self.distance(jt), self.distance(jf));
            if dt <= 255 && df <= 255 {
                return self.push(insn(code, dt as u8, df as u8, k));
            }
            let far = if dt > 255 { jt } else { jf };
            let near = self.trampoline(far);
            if jt == far {
                jt = near;
            }
            if jf == far {
                jf = near;
            }
        }
    }

    /// The finished program, first instruction first.
    pub(crate) fn finish(mut self) -> Vec<sock_filter> {
        self.rev.reverse();
        self.rev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_jumps_get_trampolines() {
        let mut e = Emitter::default();
        let far_ret = e.goto(Target::Ret(7));
        let far_code = e.load(0);
        for i in 0..600 {
            e.load(i * 4 % 64);
        }
        let j = e.jump(JEQ_K, 1, Target::Label(far_ret), Target::Label(far_code));
        assert_eq!(j, e.front());
        let prog = e.finish();
        // first: the jump; jt → copy of `ret 7` right behind it, jf → `ja` to the far load.
        assert_eq!(prog[0].code, JEQ_K);
        let t = &prog[1 + prog[0].jt as usize];
        assert_eq!((t.code, t.k), (RET_K, 7));
        let f_idx = 1 + prog[0].jf as usize;
        assert_eq!(prog[f_idx].code, JMP_JA);
        let dest = f_idx + 1 + prog[f_idx].k as usize;
        assert_eq!(dest, prog.len() - 1 - far_code);
        assert_eq!(prog[dest].code, LD_W_ABS);
    }

    #[test]
    fn ret_targets_are_shared_when_near() {
        let mut e = Emitter::default();
        e.goto(Target::Ret(1));
        e.jump(JEQ_K, 5, Target::Ret(1), Target::Ret(2));
        e.jump(JEQ_K, 6, Target::Ret(1), Target::Ret(2));
        // ret 1, ret 2, two jumps: the second reuses both rets.
        assert_eq!(e.len(), 4);
    }
}
