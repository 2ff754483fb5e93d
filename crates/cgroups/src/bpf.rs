//! The cgroup v2 device controller: device rules compiled to a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program, attached to the container directory with `BPF_CGROUP_DEVICE` through bpf(2).
//!
//! Semantics are those of the v1 device cgroup, emulated as runc does: a rule of type `a` sets
//! the default (allow or deny) and clears the exceptions; a rule of the other polarity adds an
//! exception (merging access bits with an identical type/major/minor); a rule of the same
//! polarity as the default removes those access bits from an identical exception. With a
//! default of deny, access is allowed when the requested bits are a subset of one matching
//! exception's; with a default of allow, it is denied when they overlap a matching exception.
//! With no `a` rule the default is allow (a v1 child of an allow-all parent).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::fs::open_dir;
use crate::resources::device_access;
use crate::{Error, Result};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `bpf_cgroup_dev_ctx.access_type` low half: device type.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `bpf_cgroup_dev_ctx.access_type` high half: access bits.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

/// One exception of the emulated v1 list (`None` major/minor: wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exception {
    typ: i32,
    major: Option<i32>,
    minor: Option<i32>,
    access: i32,
}

/// Runs the rules through the v1 semantics: (default allow?, exceptions).
fn emulate(rules: &[LinuxDeviceCgroup]) -> Result<(bool, Vec<Exception>)> {
    let mut default_allow = true;
    let mut list: Vec<Exception> = Vec::new();
    for r in rules {
        let typ = match r.typ().unwrap_or_default() {
            LinuxDeviceType::A => {
                default_allow = r.allow();
                list.clear();
                continue;
            }
            LinuxDeviceType::B => DEV_BLOCK,
            LinuxDeviceType::C | LinuxDeviceType::U => DEV_CHAR,
            LinuxDeviceType::P => {
                return Err(Error::Invalid(
                    "device rule type \"p\" (FIFO) is not supported by the device cgroup".into(),
                ))
            }
        };
        let num = |v: Option<i64>| -> Result<Option<i32>> {
            match v {
                None => Ok(None),
                Some(v) if v < 0 => Ok(None),
                Some(v) => {
                    i32::try_from(v).map(Some).map_err(|_| Error::Invalid(format!("device number {v} out of range")))
                }
            }
        };
        let access = device_access(r)?.chars().fold(0, |a, c| {
            a | match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => ACC_MKNOD,
            }
        });
        let ex = Exception { typ, major: num(r.major())?, minor: num(r.minor())?, access };
        let same = |e: &Exception| e.typ == ex.typ && e.major == ex.major && e.minor == ex.minor;
        if r.allow() != default_allow {
            match list.iter_mut().find(|e| same(e)) {
                Some(e) => e.access |= ex.access,
                None => list.push(ex),
            }
        } else {
            for e in list.iter_mut().filter(|e| same(e)) {
                e.access &= !ex.access;
            }
            list.retain(|e| e.access != 0);
        }
    }
    Ok((default_allow, list))
}

/// Compiles the rules to a program returning 1 (allow) or 0 (deny).
pub(crate) fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    let (default_allow, list) = emulate(rules)?;
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0), // r3 = ctx->access_type >> 16
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0), // r4 = ctx->major
        insn(LDX_MEM_W, 5, 1, 8, 0), // r5 = ctx->minor
    ];
    for e in &list {
        // Each check jumps past the rest of this exception's block when it does not match.
        let mut block: Vec<Insn> = vec![insn(JNE_K, 2, 0, 0, e.typ)];
        if let Some(m) = e.major {
            block.push(insn(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = e.minor {
            block.push(insn(JNE_K, 5, 0, 0, m));
        }
        if default_allow {
            // A denied exception matches when the requested access overlaps it.
            block.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, e.access));
            block.push(insn(JEQ_K, 1, 0, 0, 0));
        } else if e.access != ACC_ALL {
            // An allowed exception matches when it covers all the requested access.
            block.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, !e.access & ACC_ALL));
            block.push(insn(JNE_K, 1, 0, 0, 0));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(!default_allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if matches!(ins.code, JNE_K | JEQ_K) {
                ins.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(default_allow)));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    Ok(prog)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(2) with one of the attribute structs above.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i32> {
    // SAFETY: `attr` is a live, initialised `#[repr(C)]` struct laid out as the prefix of
    // `union bpf_attr` for `cmd`; the kernel reads (and for queries writes) at most
    // `size_of::<T>()` bytes of it, treating the rest of the union as zero.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>() as libc::c_uint) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc as i32)
    }
}

fn take_fd(rc: i32) -> OwnedFd {
    // SAFETY: `rc` is a new file descriptor just returned by bpf(2) that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(rc) }
}

fn load(prog: &[Insn], dir: &Path) -> Result<OwnedFd> {
    let license = b"Apache\0";
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"berth_device");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(take_fd(fd)),
        Err(e) => {
            // Load again with the verifier log to say why.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut attr) {
                return Ok(take_fd(fd));
            }
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            if text.is_empty() {
                Err(Error::Io { op: "load the device eBPF program for", path: dir.to_path_buf(), source: e })
            } else {
                Err(Error::Invalid(format!("device eBPF program for {} rejected: {e}: {text}", dir.display())))
            }
        }
    }
}

/// Ids of the device programs attached to the cgroup itself (not inherited ones).
fn attached(cg: &OwnedFd) -> Vec<u32> {
    let mut ids = vec![0u32; 64];
    let mut q = QueryAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    match bpf(BPF_PROG_QUERY, &mut q) {
        Ok(_) => {
            ids.truncate((q.prog_cnt as usize).min(64));
            ids
        }
        Err(_) => Vec::new(),
    }
}

/// Loads the program for `rules` and attaches it to the cgroup directory `dir`, replacing any
/// device program attached there before (so an `update` is not ANDed with the old rules).
pub(crate) fn apply_device_rules(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = compile(rules)?;
    let cg = open_dir(dir)?;
    let old = attached(&cg);
    let pfd = load(&prog, dir)?;
    let mut at = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: pfd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut at).map_err(|e| Error::Io {
        op: "attach the device eBPF program to",
        path: dir.to_path_buf(),
        source: e,
    })?;
    for id in old {
        let mut g = GetFdByIdAttr { prog_id: id, ..Default::default() };
        let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut g) else { continue };
        let ofd = take_fd(fd);
        let mut d = AttachAttr {
            target_fd: cg.as_raw_fd() as u32,
            attach_bpf_fd: ofd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        bpf(BPF_PROG_DETACH, &mut d).map_err(|e| Error::Io {
            op: "detach the old device eBPF program from",
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(
        allow: bool,
        typ: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).typ(typ).access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    /// Interprets a compiled program (only the instructions `compile` emits).
    fn run(prog: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> u64 {
        let ctx = [((access as u32) << 16) | typ as u32, major as u32, minor as u32];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU32_AND_K => r[dst] = u64::from(r[dst] as u32 & i.imm as u32),
                ALU32_RSH_K => r[dst] = u64::from((r[dst] as u32) >> i.imm),
                ALU32_MOV_X => r[dst] = u64::from(r[src] as u32),
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K | JEQ_K => {}
                EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn program_semantics() {
        use LinuxDeviceType::{A, B, C};
        let rules = [
            rule(false, A, None, None, "rwm"),
            rule(true, C, None, None, "m"),
            rule(true, B, None, None, "m"),
            rule(true, C, Some(1), Some(3), "rwm"),
            rule(true, C, Some(136), None, "rwm"),
            rule(false, C, Some(1), Some(3), "w"),
        ];
        let p = compile(&rules).unwrap();
        let rw = ACC_READ | ACC_WRITE;
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 1, "read /dev/null allowed");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 3), 0, "write /dev/null denied by the last rule");
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 3), 0, "the deny-w rule took w out of the c 1:3 exception");
        assert_eq!(run(&p, DEV_CHAR, rw, 136, 7), 1, "ptys");
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 5), 0, "/dev/zero not listed");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1, "mknod any block device");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0);
        let all = compile(&[rule(true, A, None, None, "rwm")]).unwrap();
        assert_eq!(run(&all, DEV_BLOCK, rw, 8, 0), 1);
        let none = compile(&[]).unwrap();
        assert_eq!(run(&none, DEV_CHAR, rw, 1, 1), 1, "no rules: allow");
        let deny = compile(&[rule(true, C, Some(1), Some(3), "rwm"), rule(false, A, None, None, "")]).unwrap();
        assert_eq!(run(&deny, DEV_CHAR, ACC_READ, 1, 3), 0, "a later deny-all resets earlier allows");
        // Default allow: deny rules are exceptions, an overlap denies.
        let blk = compile(&[
            rule(true, A, None, None, "rwm"),
            rule(false, C, Some(1), Some(3), "w"),
            rule(false, B, Some(8), None, "rwm"),
        ])
        .unwrap();
        assert_eq!(run(&blk, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(run(&blk, DEV_CHAR, rw, 1, 3), 0);
        assert_eq!(run(&blk, DEV_BLOCK, ACC_MKNOD, 8, 1), 0);
        assert_eq!(run(&blk, DEV_BLOCK, ACC_READ, 9, 1), 1);
        // An allow rule in allow mode removes a deny exception again.
        let back = compile(&[rule(false, C, Some(1), Some(3), "rwm"), rule(true, C, Some(1), Some(3), "rwm")]).unwrap();
        assert_eq!(run(&back, DEV_CHAR, rw, 1, 3), 1);
    }
}
