//! A classic-BPF interpreter and checker for seccomp programs, used by the tests to run a
//! compiled [`berth_seccomp::Program`] on synthetic `seccomp_data` without a kernel.
//!
//! The checker enforces what the kernel's `bpf_check_classic` + `seccomp_check_filter` do:
//! length 1..=4096, only the opcodes seccomp allows, aligned in-bounds `seccomp_data` loads,
//! jumps that stay inside the program, no division by a constant zero, and a `ret` last.

#![allow(dead_code)]

use libc::sock_filter;

/// `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl Data {
    /// The 32-bit word at byte `off`, as `ld [off]` sees it on a little-endian machine.
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr,
            4 => self.arch,
            8 => self.ip as u32,
            12 => (self.ip >> 32) as u32,
            16..=63 => {
                let a = self.args[((off - 16) / 8) as usize];
                if off & 4 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => panic!("load outside seccomp_data at {off}"),
        }
    }
}

const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;

fn class(code: u16) -> u16 {
    code & 0x07
}

/// Checks `prog` like the kernel does before accepting it as a seccomp filter.
pub fn check(prog: &[sock_filter]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > 4096 {
        return Err(format!("bad length {}", prog.len()));
    }
    for (pc, i) in prog.iter().enumerate() {
        let rest = prog.len() - pc - 1;
        let ok = match i.code {
            // ld [k] (seccomp_data), ld #len, ld #k, ldx #k, ldx #len, ld/ldx M[k], st/stx M[k]
            0x20 => i.k % 4 == 0 && i.k < 64,
            0x80 | 0x81 | 0x00 | 0x01 => true,
            0x60 | 0x61 | 0x02 | 0x03 => i.k < 16,
            // alu: add sub mul div or and lsh rsh xor (k and x), neg
            c if class(c) == ALU => {
                let op = c & 0xf0;
                let ok_op = matches!(op, 0x00 | 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0x80 | 0xa0);
                ok_op && !(op == 0x30 && c & 0x08 == 0 && i.k == 0)
            }
            0x05 => (i.k as usize) < rest, // ja
            0x15 | 0x25 | 0x35 | 0x45 | 0x1d | 0x2d | 0x3d | 0x4d => (i.jt as usize) < rest && (i.jf as usize) < rest,
            0x06 | 0x16 => true, // ret k, ret a
            0x07 | 0x87 => true, // tax, txa
            _ => false,
        };
        if !ok {
            return Err(format!("instruction {pc} ({:#06x} jt={} jf={} k={:#x}) rejected", i.code, i.jt, i.jf, i.k));
        }
    }
    let last = prog[prog.len() - 1];
    if class(last.code) != RET {
        return Err("the last instruction is not a ret".into());
    }
    Ok(())
}

/// Runs a checked program; returns the seccomp return value and the number of instructions executed.
pub fn run(prog: &[sock_filter], d: &Data) -> (u32, usize) {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        let i = prog[pc];
        steps += 1;
        pc += 1;
        match class(i.code) {
            LD => {
                a = match i.code & 0xe0 {
                    0x20 => d.word(i.k),
                    0x80 => 64,
                    0x00 => i.k,
                    0x60 => mem[i.k as usize],
                    m => panic!("ld mode {m:#x}"),
                }
            }
            LDX => {
                x = match i.code & 0xe0 {
                    0x80 => 64,
                    0x00 => i.k,
                    0x60 => mem[i.k as usize],
                    m => panic!("ldx mode {m:#x}"),
                }
            }
            ST => mem[i.k as usize] = a,
            STX => mem[i.k as usize] = x,
            ALU => {
                let src = if i.code & 0x08 != 0 { x } else { i.k };
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => {
                        if src == 0 {
                            return (0, steps); // the kernel's classic BPF returns 0 on x/0
                        }
                        a / src
                    }
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0xa0 => a ^ src,
                    op => panic!("alu op {op:#x}"),
                }
            }
            JMP => {
                let src = if i.code & 0x08 != 0 { x } else { i.k };
                let taken = match i.code & 0xf0 {
                    0x00 => {
                        pc += i.k as usize;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    op => panic!("jmp op {op:#x}"),
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            RET => return (if i.code & 0x18 == 0x10 { a } else { i.k }, steps),
            MISC => {
                if i.code & 0xf8 == 0x80 {
                    a = x
                } else {
                    x = a
                }
            }
            _ => unreachable!(),
        }
    }
}
