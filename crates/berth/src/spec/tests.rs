//! The flag → spec translation, checked field by field against Docker's behaviour.

use super::*;

fn args(cmd: &[&str]) -> RunArgs {
    RunArgs { command: cmd.iter().map(|s| s.to_string()).collect(), network: "none".into(), ..Default::default() }
}

fn rootfs() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("etc")).unwrap();
    std::fs::write(d.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
        .unwrap();
    std::fs::write(d.path().join("etc/group"), "root:x:0:\napp:x:1000:\nextra:x:2000:app\n").unwrap();
    d
}

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn build_ok(a: &RunArgs) -> Spec {
    let r = rootfs();
    let run = tempfile::tempdir().unwrap();
    build(a, ID, r.path(), run.path()).unwrap()
}

#[test]
fn defaults_match_docker() {
    let s = build_ok(&args(&["true"]));
    assert_eq!(s.hostname().as_deref(), Some("0123456789ab"));
    let p = s.process().as_ref().unwrap();
    let env = p.env().as_ref().unwrap();
    assert_eq!(env[0], format!("PATH={}", berth_runtime::DEFAULT_PATH));
    assert!(env.contains(&"HOSTNAME=0123456789ab".to_string()));
    assert!(env.contains(&"HOME=/root".to_string()));
    assert_eq!(p.cwd(), Path::new("/"));
    let caps = berth_runtime::caps::CapSets::from_spec(p.capabilities().as_ref().unwrap()).unwrap();
    assert_eq!((caps.effective, caps.bounding, caps.inheritable, caps.ambient), (0xa80425fb, 0xa80425fb, 0, 0));
    let l = s.linux().as_ref().unwrap();
    assert_eq!(l.masked_paths().as_ref().unwrap().len(), defaults::MASKED_PATHS.len());
    assert!(l.readonly_paths().as_ref().unwrap().contains(&"/proc/sys".to_string()));
    let ns: Vec<_> = l.namespaces().as_ref().unwrap().iter().map(|n| n.typ()).collect();
    assert!(ns.contains(&LinuxNamespaceType::Network) && ns.contains(&LinuxNamespaceType::Cgroup));
    assert!(l.seccomp().is_some());
    let dests: Vec<_> = s.mounts().as_ref().unwrap().iter().map(|m| m.destination().display().to_string()).collect();
    for d in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
    ] {
        assert!(dests.contains(&d.to_string()), "{d} missing");
    }
    let nofile = p.rlimits().as_ref().unwrap().iter().find(|r| r.typ() == PosixRlimitType::RlimitNofile).unwrap();
    assert_eq!(nofile.hard(), defaults::NOFILE);
}

#[test]
fn limits() {
    let mut a = args(&["true"]);
    a.memory = Some("32m".into());
    a.cpus = Some("0.5".into());
    a.pids_limit = Some(10);
    a.cpu_shares = Some(512);
    let s = build_ok(&a);
    let r = s.linux().as_ref().unwrap().resources().clone().unwrap();
    let m = r.memory().unwrap();
    assert_eq!((m.limit(), m.swap()), (Some(32 << 20), Some(64 << 20)));
    let c = r.cpu().clone().unwrap();
    assert_eq!((c.quota(), c.period(), c.shares()), (Some(50_000), Some(100_000), Some(512)));
    assert_eq!(r.pids().unwrap().limit(), 10);
    assert_eq!(r.devices().as_ref().unwrap().len(), defaults::device_rules().len());

    a.memory_swap = Some("16m".into());
    let r = rootfs();
    let run = tempfile::tempdir().unwrap();
    assert!(build(&a, ID, r.path(), run.path()).is_err(), "swap below memory must be refused");
    a.memory_swap = None;
    a.memory = Some("12qb".into());
    let e = build(&a, ID, r.path(), run.path()).unwrap_err().to_string();
    assert!(e.contains("12qb"), "{e}");
}

#[test]
fn user_env_and_security() {
    let mut a = args(&["id"]);
    a.user = Some("app".into());
    a.env = vec!["A=1".into(), "HOSTNAME=mine".into()];
    a.tty = true;
    a.security_opt = vec!["no-new-privileges".into(), "seccomp=unconfined".into()];
    a.read_only = true;
    a.privileged = false;
    let s = build_ok(&a);
    let p = s.process().as_ref().unwrap();
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    assert_eq!(p.user().additional_gids().as_deref(), Some(&[2000u32][..]));
    let env = p.env().as_ref().unwrap();
    assert!(env.contains(&"HOSTNAME=mine".to_string()) && env.contains(&"TERM=xterm".to_string()));
    assert!(env.contains(&"HOME=/home/app".to_string()));
    assert_eq!(p.no_new_privileges(), Some(true));
    assert!(s.linux().as_ref().unwrap().seccomp().is_none());
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));

    let mut a = args(&["true"]);
    a.privileged = true;
    let s = build_ok(&a);
    assert!(s.linux().as_ref().unwrap().seccomp().is_none());
    assert!(s.linux().as_ref().unwrap().masked_paths().is_none());

    let mut a = args(&["true"]);
    a.user = Some("nobody".into());
    let r = rootfs();
    let run = tempfile::tempdir().unwrap();
    assert!(build(&a, ID, r.path(), run.path()).unwrap_err().to_string().contains("unable to find user nobody"));
}

#[test]
fn sysctl_rules() {
    assert!(sysctls(&["net.ipv4.ip_forward=1".into()], false).is_ok());
    assert!(sysctls(&["net.ipv4.ip_forward=1".into()], true).is_err());
    assert!(sysctls(&["kernel.shmmax=1".into(), "fs.mqueue.msg_max=5".into()], false).is_ok());
    assert!(sysctls(&["kernel.hostname=x".into()], false).is_err());
    assert!(sysctls(&["vm.swappiness".into()], false).is_err());
}
