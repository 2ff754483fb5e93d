//! Unit tests of profile parsing and resolution.

use std::collections::HashSet;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag, LinuxSeccompOperator as Op,
};

use super::*;

fn caps(list: &[&str]) -> HashSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const DOCKER_CAPS: &[&str] = &[
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
];

/// Names of the resolved rules with the given action.
fn names_with(s: &LinuxSeccomp, action: A) -> HashSet<String> {
    s.syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|r| r.action() == action)
        .flat_map(|r| r.names().clone())
        .collect()
}

fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a oci_spec::runtime::LinuxSyscall> {
    s.syscalls().as_deref().unwrap_or_default().iter().filter(|r| r.names().iter().any(|n| n == name)).collect()
}

fn err(json: &str) -> String {
    Profile::parse(json).expect_err("should be refused").to_string()
}

#[test]
fn parses_every_field() {
    let p = Profile::parse(
        r#"{
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "listenerPath": "/run/agent.sock", "listenerMetadata": "meta",
        "unknownField": {"ignored": true},
        "syscalls": [
          {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "io"},
          {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
          {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 5, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_GE"}],
           "includes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["amd64"], "minKernel": "4.8"},
           "excludes": {"caps": null, "arches": ["s390x"]}},
          {"names": ["x"], "action": "SCMP_ACT_NOTIFY", "args": null, "includes": {}, "excludes": null}
        ]}"#,
    )
    .unwrap();
    assert_eq!(p.default_action, A::ScmpActErrno);
    assert_eq!(p.default_errno_ret, Some(38));
    assert_eq!(p.arch_map[0].sub_architectures, vec![Arch::ScmpArchX86, Arch::ScmpArchX32]);
    assert!(p.arch_map[1].sub_architectures.is_empty());
    assert_eq!(
        p.flags,
        vec![LinuxSeccompFilterFlag::SeccompFilterFlagLog, LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow]
    );
    assert_eq!(p.listener_path.as_deref(), Some(std::path::Path::new("/run/agent.sock")));
    assert_eq!(p.listener_metadata.as_deref(), Some("meta"));
    assert_eq!(p.syscalls.len(), 4);
    assert_eq!(p.syscalls[1].names, vec!["mkdir"]);
    assert_eq!(p.syscalls[1].errno_ret, Some(13));
    let clone = &p.syscalls[2];
    assert_eq!(clone.args[0].op(), Op::ScmpCmpMaskedEq);
    assert_eq!(clone.args[0].value(), 0x7E02_0000);
    assert_eq!(clone.args[1].index(), 5);
    assert_eq!(clone.args[1].value_two(), Some(2));
    assert_eq!(clone.includes.min_kernel, Some(KernelVersion { major: 4, minor: 8 }));
    assert_eq!(clone.includes.caps, vec!["CAP_SYS_ADMIN"]);
    assert_eq!(clone.excludes.arches, vec!["s390x"]);
    assert_eq!(p.syscalls[3].action, A::ScmpActNotify);
    // round trip through our own serialisation
    let again = Profile::parse(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(again, p);
}

#[test]
fn every_action_and_operator_spelling() {
    for (s, a) in [
        ("SCMP_ACT_KILL", A::ScmpActKill),
        ("SCMP_ACT_KILL_THREAD", A::ScmpActKillThread),
        ("SCMP_ACT_KILL_PROCESS", A::ScmpActKillProcess),
        ("SCMP_ACT_TRAP", A::ScmpActTrap),
        ("SCMP_ACT_ERRNO", A::ScmpActErrno),
        ("SCMP_ACT_TRACE", A::ScmpActTrace),
        ("SCMP_ACT_LOG", A::ScmpActLog),
        ("SCMP_ACT_ALLOW", A::ScmpActAllow),
        ("SCMP_ACT_NOTIFY", A::ScmpActNotify),
    ] {
        let p = Profile::parse(&format!(
            r#"{{"defaultAction": "{s}", "syscalls": [{{"names": ["read"], "action": "{s}"}}]}}"#
        ))
        .unwrap();
        assert_eq!((p.default_action, p.syscalls[0].action), (a, a), "{s}");
    }
    for (s, op) in [
        ("SCMP_CMP_NE", Op::ScmpCmpNe),
        ("SCMP_CMP_LT", Op::ScmpCmpLt),
        ("SCMP_CMP_LE", Op::ScmpCmpLe),
        ("SCMP_CMP_EQ", Op::ScmpCmpEq),
        ("SCMP_CMP_GE", Op::ScmpCmpGe),
        ("SCMP_CMP_GT", Op::ScmpCmpGt),
        ("SCMP_CMP_MASKED_EQ", Op::ScmpCmpMaskedEq),
    ] {
        let p = Profile::parse(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{{"index": 1, "value": 3, "op": "{s}"}}]}}]}}"#
        ))
        .unwrap();
        assert_eq!(p.syscalls[0].args[0].op(), op, "{s}");
    }
}

#[test]
fn clear_errors() {
    let e =
        err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_DENY"}]}"#);
    assert!(e.contains("\"mkdir\"") && e.contains("SCMP_ACT_DENY"), "{e}");
    let e = err(r#"{"defaultAction": "ALLOW"}"#);
    assert!(e.contains("defaultAction") && e.contains("\"ALLOW\""), "{e}");
    let e = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["socket", "bind"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]}"#,
    );
    assert!(e.contains("\"socket\" (and 1 more)") && e.contains("SCMP_CMP_LIKE"), "{e}");
    let e = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "ioctl", "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
    );
    assert!(e.contains("\"ioctl\"") && e.contains("index 6"), "{e}");
    let e = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "name": "write", "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert!(e.contains("\"name\" or \"names\""), "{e}");
    let e = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}"#);
    assert!(e.contains("\"read\"") && e.contains("action"), "{e}");
    assert!(err(r#"{"syscalls": []}"#).contains("defaultAction"));
    assert!(err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}"#).contains("SCMP_ARCH_Z80"));
    assert!(err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["x86"]}]}"#).contains("\"x86\""));
    assert!(err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#).contains("archMap"));
    assert!(err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}"#)
        .contains("SECCOMP_FILTER_FLAG_FAST"));
    for bad in ["4", "4.8.1", "a.b", "0.0", "4.", ".8", "-4.8"] {
        let e = err(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {{"minKernel": "{bad}"}}}}]}}"#
        ));
        assert!(e.contains("\"ptrace\"") && e.contains(bad), "{bad}: {e}");
    }
    assert!(matches!(Profile::parse("{"), Err(Error::Json(_))));
    assert!(matches!(
        Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": -1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#
        ),
        Err(Error::Json(_))
    ));
}

fn sample() -> Profile {
    Profile::parse(
        r#"{
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
          {"names": ["plain"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["admin_and_boot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_BOOT"]}},
          {"names": ["not_admin_nor_ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}},
          {"names": ["amd64_or_arm64"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "arm64"]}},
          {"names": ["not_arm64"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}},
          {"names": ["since_4_8"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
          {"names": ["before_5_10"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
          {"names": ["mixed"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
           "args": [{"index": 2, "value": 7, "op": "SCMP_CMP_NE"}],
           "includes": {"minKernel": "3.0"}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
        ]}"#,
    )
    .unwrap()
}

#[test]
fn resolve_filters_rules() {
    let p = sample();
    let kept = |c: &[&str], k: (u32, u32), arch: &str| {
        let mut v: Vec<String> = names_with(&p.resolve_for(&caps(c), k, arch), A::ScmpActAllow).into_iter().collect();
        v.extend(names_with(&p.resolve_for(&caps(c), k, arch), A::ScmpActErrno));
        v.sort();
        v
    };
    assert_eq!(
        kept(&[], (5, 4), "amd64"),
        ["amd64_or_arm64", "before_5_10", "mixed", "not_admin_nor_ptrace", "not_arm64", "plain", "since_4_8"]
    );
    // includes.caps needs all of them; excludes.caps any of them
    assert!(!kept(&["CAP_SYS_ADMIN"], (5, 4), "amd64").contains(&"admin_and_boot".to_string()));
    assert!(kept(&["CAP_SYS_ADMIN", "CAP_SYS_BOOT"], (5, 4), "amd64").contains(&"admin_and_boot".to_string()));
    assert!(kept(&["sys_admin", "Sys_Boot"], (5, 4), "amd64").contains(&"admin_and_boot".to_string()));
    assert!(!kept(&["CAP_SYS_PTRACE"], (5, 4), "amd64").contains(&"not_admin_nor_ptrace".to_string()));
    assert!(!kept(&["CAP_SYS_ADMIN"], (5, 4), "amd64").contains(&"mixed".to_string()));
    // arches
    let arm = kept(&[], (5, 4), "arm64");
    assert!(arm.contains(&"amd64_or_arm64".to_string()) && !arm.contains(&"not_arm64".to_string()));
    let s390 = kept(&[], (5, 4), "s390x");
    assert!(!s390.contains(&"amd64_or_arm64".to_string()) && s390.contains(&"not_arm64".to_string()));
    // minKernel: includes needs >=, excludes drops at >=
    assert!(!kept(&[], (4, 7), "amd64").contains(&"since_4_8".to_string()));
    assert!(kept(&[], (4, 8), "amd64").contains(&"since_4_8".to_string()));
    assert!(kept(&[], (5, 9), "amd64").contains(&"before_5_10".to_string()));
    assert!(!kept(&[], (5, 10), "amd64").contains(&"before_5_10".to_string()));
    assert!(!kept(&[], (6, 0), "amd64").contains(&"before_5_10".to_string()));
    assert!(!kept(&[], (2, 6), "amd64").contains(&"mixed".to_string()));
}

#[test]
fn resolve_copies_header_and_rule_fields() {
    let r = sample().resolve_for(&caps(&[]), (6, 1), "amd64");
    assert_eq!(r.default_action(), A::ScmpActErrno);
    assert_eq!(r.default_errno_ret(), Some(1));
    assert_eq!(r.architectures().as_deref(), Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..]));
    let mixed = rules_for(&r, "mixed");
    assert_eq!(mixed.len(), 1);
    assert_eq!(mixed[0].errno_ret(), Some(38));
    let args = mixed[0].args().as_ref().unwrap();
    assert_eq!((args[0].index(), args[0].value(), args[0].op()), (2, 7, Op::ScmpCmpNe));
    assert!(rules_for(&r, "plain")[0].args().is_none());
    let r = sample().resolve_for(&caps(&[]), (6, 1), "arm64");
    assert_eq!(r.architectures().as_deref(), Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..]));
    let r = sample().resolve_for(&caps(&[]), (6, 1), "ppc64le");
    assert_eq!(r.architectures(), &None);
    // the old-style explicit list passes through
    let p = Profile::parse(r#"{"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], "flags": ["SECCOMP_FILTER_FLAG_TSYNC"], "listenerPath": "/a"}"#).unwrap();
    let r = p.resolve_for(&caps(&[]), (6, 1), "amd64");
    assert_eq!(r.architectures().as_deref(), Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX32][..]));
    assert_eq!(r.flags().as_deref(), Some(&[LinuxSeccompFilterFlag::SeccompFilterFlagTsync][..]));
    assert_eq!(r.listener_path().as_deref(), Some(std::path::Path::new("/a")));
    assert_eq!(crate::filter_flags(&r), libc::SECCOMP_FILTER_FLAG_TSYNC as u32);
}

#[test]
fn resolve_with_running_kernel() {
    let (major, minor) = running_kernel().unwrap();
    assert!(major >= 3, "{major}.{minor}");
    assert_eq!(parse_release("6.18.0-1-amd64"), Some((6, 18)));
    assert_eq!(parse_release("5.4"), Some((5, 4)));
    assert_eq!(parse_release("banana"), None);
    let r = sample().resolve(&caps(&[]), None).unwrap();
    assert!(names_with(&r, A::ScmpActAllow).contains("since_4_8"));
}

#[test]
fn default_profile_matches_docker_semantics() {
    let p = crate::default_profile();
    assert_eq!(p.default_action, A::ScmpActErrno);
    assert_eq!(p.default_errno_ret, Some(1));
    let r = p.resolve_for(&caps(DOCKER_CAPS), (6, 18), "amd64");
    let allowed = names_with(&r, A::ScmpActAllow);
    for name in [
        "read",
        "write",
        "openat",
        "execve",
        "futex",
        "getpid",
        "chroot",
        "ptrace",
        "arch_prctl",
        "modify_ldt",
        "socket",
        "clone",
        "personality",
    ] {
        assert!(allowed.contains(name), "{name} should be allowed");
    }
    for name in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "pivot_root",
        "keyctl",
        "add_key",
        "request_key",
        "io_uring_setup",
        "io_uring_enter",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "bpf",
        "perf_event_open",
        "open_by_handle_at",
        "reboot",
        "swapon",
        "swapoff",
        "init_module",
        "finit_module",
        "delete_module",
        "clone3",
        "acct",
        "syslog",
        "settimeofday",
        "iopl",
        "vhangup",
        "set_mempolicy",
        "sync_file_range2",
        "set_tls",
        "s390_runtime_instr",
    ] {
        assert!(!allowed.contains(name), "{name} must not be allowed with Docker's default capabilities");
    }
    let clone = rules_for(&r, "clone");
    assert_eq!(clone.len(), 1);
    let arg = clone[0].args().as_ref().unwrap()[0];
    assert_eq!((arg.index(), arg.value(), arg.op()), (0, 0x7E02_0000, Op::ScmpCmpMaskedEq));
    let clone3 = rules_for(&r, "clone3");
    assert_eq!((clone3.len(), clone3[0].action(), clone3[0].errno_ret()), (1, A::ScmpActErrno, Some(38)));
    let socket: Vec<_> = rules_for(&r, "socket")
        .iter()
        .map(|s| {
            let a = s.args().as_ref().unwrap()[0];
            (s.action(), a.value(), a.value_two(), a.op())
        })
        .collect();
    let (allow, deny) = (A::ScmpActAllow, A::ScmpActErrno);
    assert_eq!(
        socket,
        vec![
            (allow, 38, None, Op::ScmpCmpLt),
            (allow, 39, None, Op::ScmpCmpEq),
            (allow, 40, None, Op::ScmpCmpGt),
            // berth's addition: the family's upper half cannot sneak AF_ALG/AF_VSOCK past
            (deny, 0xffff_ffff, Some(38), Op::ScmpCmpMaskedEq),
            (deny, 0xffff_ffff, Some(40), Op::ScmpCmpMaskedEq),
        ]
    );
    let personas: Vec<u64> =
        rules_for(&r, "personality").iter().map(|s| s.args().as_ref().unwrap()[0].value()).collect();
    assert_eq!(personas, vec![0, 8, 0x20000, 0x20008, 0xffff_ffff]);

    // capabilities open their syscalls
    for (cap, names) in [
        ("CAP_SYS_ADMIN", &["mount", "umount2", "unshare", "setns", "clone3", "bpf", "sethostname"][..]),
        ("CAP_SYS_BOOT", &["reboot"]),
        ("CAP_SYS_MODULE", &["init_module", "finit_module", "delete_module"]),
        ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
        ("CAP_SYS_TIME", &["settimeofday", "clock_settime"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
        ("CAP_SYS_NICE", &["set_mempolicy", "mbind"]),
    ] {
        let mut c = caps(DOCKER_CAPS);
        c.insert(cap.into());
        let r = p.resolve_for(&c, (6, 18), "amd64");
        let allowed = names_with(&r, A::ScmpActAllow);
        for n in names {
            assert!(allowed.contains(*n), "{n} should be allowed with {cap}");
        }
        if cap == "CAP_SYS_ADMIN" {
            assert!(
                rules_for(&r, "clone").iter().all(|s| s.args().is_none()),
                "clone is unrestricted with CAP_SYS_ADMIN"
            );
            assert!(!names_with(&r, A::ScmpActErrno).contains("clone3"), "no clone3 ENOSYS with CAP_SYS_ADMIN");
        }
    }
    // pivot_root, keyctl, io_uring, userfaultfd, kexec, swapon are never allowed
    let all: HashSet<String> = p.syscalls.iter().flat_map(|s| s.includes.caps.clone()).collect();
    let r = p.resolve_for(&all, (6, 18), "amd64");
    let allowed = names_with(&r, A::ScmpActAllow);
    for n in ["pivot_root", "keyctl", "add_key", "io_uring_setup", "userfaultfd", "kexec_load", "swapon"] {
        assert!(!allowed.contains(n), "{n}");
    }
    // ptrace before 4.8 only with CAP_SYS_PTRACE
    assert!(!names_with(&p.resolve_for(&caps(DOCKER_CAPS), (4, 7), "amd64"), A::ScmpActAllow).contains("ptrace"));
    // arch-specific rules
    let s390 = p.resolve_for(&caps(DOCKER_CAPS), (6, 18), "s390x");
    assert_eq!(rules_for(&s390, "clone")[0].args().as_ref().unwrap()[0].index(), 1);
    assert_eq!(s390.architectures().as_deref(), Some(&[Arch::ScmpArchS390x, Arch::ScmpArchS390][..]));
    let arm = p.resolve_for(&caps(DOCKER_CAPS), (6, 18), "arm64");
    assert!(names_with(&arm, A::ScmpActAllow).contains("set_tls"));
    assert!(!names_with(&arm, A::ScmpActAllow).contains("arch_prctl"));
}
