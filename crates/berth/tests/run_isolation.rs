//! `berth run`: namespaces, the container's file system view, /proc, /sys, /dev and /etc.

mod common;

use common::*;

#[test]
fn command_runs_as_pid_1() {
    let t = Ctx::new("pid1");
    let out = t.sh(&[], "echo $$");
    out.success();
    assert_eq!(out.lines(), ["1"], "{out}");
}

#[test]
fn proc_shows_only_the_containers_processes() {
    let t = Ctx::new("proc-pids");
    // PID 1 (sh) and the ls it runs: nothing of the host.
    let out = t.sh(&[], "ls /proc");
    out.success();
    let pids: Vec<u32> = out.lines().iter().filter_map(|l| l.parse().ok()).collect();
    assert!(pids.contains(&1), "no pid 1 in /proc\n{out}");
    assert!(pids.len() <= 3, "the container's /proc shows {} processes: {pids:?}\n{out}", pids.len());
}

#[test]
fn namespaces_are_new_except_user() {
    let t = Ctx::new("namespaces");
    let out = t.sh(&[], "for n in pid mnt uts ipc net cgroup user; do echo \"$n $(readlink /proc/$$/ns/$n)\"; done");
    out.success();
    for line in out.lines() {
        let (ns, inside) = line.split_once(' ').unwrap_or_else(|| panic!("bad line {line:?}\n{out}"));
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let host = host.to_string_lossy();
        assert!(inside.starts_with(&format!("{ns}:[")), "readlink of the {ns} namespace failed inside\n{out}");
        if ns == "user" {
            assert_eq!(inside, host, "berth has no user namespace by default (like Docker)\n{out}");
        } else {
            assert_ne!(inside, host, "the container shares the host's {ns} namespace\n{out}");
        }
    }
    assert_eq!(out.lines().len(), 7, "{out}");
}

#[test]
fn default_hostname_is_the_short_container_id() {
    let t = Ctx::new("hostname-default");
    let out = t.run().cmd(["hostname"]).output();
    out.success();
    let id = out.id();
    assert_eq!(id.len(), 64, "container id {id:?} is not 64 hex digits");
    assert!(
        id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "container id {id:?} is not lowercase hex"
    );
    assert_eq!(out.lines(), [&id[..12]], "{out}");
}

#[test]
fn hostname_flag_sets_the_hostname() {
    let t = Ctx::new("hostname-flag");
    let out = t.sh(&["--hostname", "foo"], "hostname; cat /etc/hostname; echo \"HOSTNAME=$HOSTNAME\"");
    out.success();
    assert_eq!(out.lines(), ["foo", "foo", "HOSTNAME=foo"], "{out}");
    let out = t.sh(&["-h", "bar"], "hostname");
    out.success();
    assert_eq!(out.lines(), ["bar"], "{out}");
}

#[test]
fn network_has_only_loopback_and_it_is_up() {
    let t = Ctx::new("net-lo");
    let out = t.sh(&[], "cat /proc/net/dev; echo ---; ip link show");
    out.success();
    let (dev, link) = out.stdout.split_once("---\n").unwrap_or_else(|| panic!("{out}"));
    let ifaces: Vec<&str> = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(ifaces, ["lo"], "/proc/net/dev\n{out}");
    let lo = link.lines().find(|l| l.contains(": lo:")).unwrap_or_else(|| panic!("no lo in ip link\n{out}"));
    let flags = lo.split('<').nth(1).and_then(|r| r.split('>').next()).unwrap_or("");
    assert!(flags.split(',').any(|f| f == "UP"), "lo is not UP: {lo}\n{out}");
    assert_eq!(
        link.lines().filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).count(),
        1,
        "more than one link\n{out}"
    );
}

#[test]
fn cgroup_namespace_shows_the_container_cgroup_as_root() {
    let t = Ctx::new("cgroupns");
    let out = t.run().cmd(["cat", "/proc/self/cgroup"]).output();
    out.success();
    assert!(!out.lines().is_empty(), "{out}");
    for l in out.lines() {
        assert!(l.ends_with(":/"), "cgroup path is not the namespace root: {l:?}\n{out}");
    }
}

#[test]
fn etc_hosts_hostname_and_resolv_conf_are_bind_mounted() {
    let t = Ctx::new("etc-files");
    let out = t.sh(&[], "cat /etc/hosts; echo ---; cat /etc/hostname; echo ---; test -f /etc/resolv.conf && echo resolv-ok; echo ---; cat /proc/self/mountinfo");
    out.success();
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{out}");
    assert!(parts[0].lines().any(|l| l == "127.0.0.1\tlocalhost"), "/etc/hosts lacks '127.0.0.1\\tlocalhost'\n{out}");
    assert_eq!(parts[1].trim(), &out.id()[..12], "/etc/hostname\n{out}");
    assert_eq!(parts[2].trim(), "resolv-ok", "{out}");
    let mps: Vec<String> = mounts(parts[3]).into_iter().map(|m| m.0).collect();
    for f in ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"] {
        assert!(mps.iter().any(|m| m == f), "{f} is not a mount point in the container\n{out}");
    }
    // Bind-mounted, not written into the image.
    for f in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
        assert_eq!(std::fs::read_to_string(t.rootfs.join(f)).unwrap(), "", "berth wrote into the rootfs's {f}");
    }
}

#[test]
fn mounting_proc_is_refused() {
    let t = Ctx::new("no-mount");
    let out = t.sh(&[], "mount -t proc proc /mnt; echo rc=$?");
    out.success();
    assert!(!out.stdout.contains("rc=0"), "mount succeeded inside a default container\n{out}");
    assert!(out.stdout.contains("rc="), "{out}");
}

#[test]
fn unshare_is_refused() {
    let t = Ctx::new("no-unshare");
    let out = t.sh(&[], "unshare -n true; echo rc=$?");
    out.success();
    assert!(!out.stdout.contains("rc=0"), "unshare -n succeeded inside a default container\n{out}");
    assert!(out.stdout.contains("rc="), "{out}");
}

#[test]
fn masked_paths_show_nothing() {
    let t = Ctx::new("masked");
    let out = t.sh(
        &[],
        "echo kcore=$(cat /proc/kcore 2>/dev/null | head -c 64 | wc -c); \
         echo timer_list=$(cat /proc/timer_list 2>/dev/null | wc -c); \
         echo keys=$(cat /proc/keys 2>/dev/null | wc -c); \
         echo firmware=$(ls -A /sys/firmware 2>/dev/null | wc -l)",
    );
    out.success();
    for k in ["kcore", "timer_list", "keys", "firmware"] {
        assert!(out.lines().contains(&format!("{k}=0").as_str()), "{k} is not masked\n{out}");
    }
}

#[test]
fn proc_read_only_paths_are_mounted_read_only() {
    let t = Ctx::new("ro-paths");
    let out = t.sh(
        &[],
        "echo bad > /proc/sys/kernel/domainname; echo rc=$?; cat /proc/sys/kernel/domainname; cat /proc/self/mountinfo",
    );
    out.success();
    assert!(out.stdout.contains("rc=") && !out.stdout.contains("rc=0"), "writing /proc/sys succeeded\n{out}");
    assert!(out.stderr.contains("Read-only file system"), "writing /proc/sys must fail with EROFS\n{out}");
    assert!(!out.lines().contains(&"bad"), "the domainname was changed\n{out}");
    let ms = mounts(&out.stdout);
    for p in ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"] {
        if !std::path::Path::new(p).exists() {
            continue;
        }
        let m = ms
            .iter()
            .rev()
            .find(|m| m.0 == p)
            .unwrap_or_else(|| panic!("{p} is not a mount point in the container\n{out}"));
        assert!(m.1.split(',').any(|o| o == "ro"), "{p} is mounted {}, not ro\n{out}", m.1);
    }
}

#[test]
fn sys_is_read_only() {
    let t = Ctx::new("sys-ro");
    let out = t.sh(&[], "echo 1500 > /sys/class/net/lo/mtu; echo rc=$?; cat /proc/self/mountinfo");
    out.success();
    assert!(out.stderr.contains("Read-only file system"), "writing /sys must fail with EROFS\n{out}");
    let ms = mounts(&out.stdout);
    let sys = ms.iter().rev().find(|m| m.0 == "/sys").unwrap_or_else(|| panic!("/sys is not mounted\n{out}"));
    assert!(sys.1.split(',').any(|o| o == "ro"), "/sys is mounted {}\n{out}", sys.1);
    assert_eq!(sys.2, "sysfs", "{out}");
}

#[test]
fn dev_has_dockers_devices_and_mounts() {
    let t = Ctx::new("dev");
    let out = t.sh(
        &[],
        "for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo \"chr $d\"; done; \
         [ -e /dev/ptmx ] && echo ptmx; \
         echo x > /dev/null && echo null-writable; \
         echo zero=$(head -c 5 /dev/zero | wc -c); \
         echo ---; ls -A /dev; echo ---; cat /proc/self/mountinfo",
    );
    out.success();
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        assert!(parts[0].lines().any(|l| l == format!("chr {d}")), "/dev/{d} is not a character device\n{out}");
    }
    for l in ["ptmx", "null-writable", "zero=5"] {
        assert!(parts[0].lines().any(|x| x == l), "missing {l}\n{out}");
    }
    // Docker's /dev and nothing of the host's.
    let allowed = [
        "console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
        "tty", "urandom", "zero",
    ];
    for e in parts[1].lines().map(str::trim).filter(|e| !e.is_empty()) {
        assert!(allowed.contains(&e), "/dev/{e} is not one of Docker's default devices\n{out}");
    }
    let ms = mounts(parts[2]);
    let fstype = |p: &str| ms.iter().rev().find(|m| m.0 == p).map(|m| m.2.clone());
    assert_eq!(fstype("/dev").as_deref(), Some("tmpfs"), "{out}");
    assert_eq!(fstype("/dev/pts").as_deref(), Some("devpts"), "{out}");
    assert_eq!(fstype("/dev/shm").as_deref(), Some("tmpfs"), "{out}");
    assert_eq!(fstype("/dev/mqueue").as_deref(), Some("mqueue"), "{out}");
    assert_eq!(fstype("/proc").as_deref(), Some("proc"), "{out}");
}

#[test]
fn default_environment_is_dockers() {
    let t = Ctx::new("env-default");
    let out = t.run().cmd(["env"]).output();
    out.success();
    let env: Vec<&str> = out.lines();
    assert!(env.contains(&"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "{out}");
    assert!(env.contains(&format!("HOSTNAME={}", &out.id()[..12]).as_str()), "{out}");
    assert!(!out.stdout.contains(HOST_ONLY_VAR), "berth's own environment leaked into the container\n{out}");
}

#[test]
fn sysctl_sets_a_namespaced_value() {
    let t = Ctx::new("sysctl");
    let host_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let out =
        t.run().opts(["--sysctl", "net.ipv4.ip_forward=1"]).cmd(["cat", "/proc/sys/net/ipv4/ip_forward"]).output();
    out.success();
    assert_eq!(out.lines(), ["1"], "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_before,
        "the host's ip_forward changed"
    );
}

#[test]
fn tmpfs_takes_mount_options() {
    let t = Ctx::new("tmpfs-opts");
    let out =
        t.sh(&["--tmpfs", "/scratch:size=1m"], "touch /scratch/f && echo ok; grep ' /scratch ' /proc/self/mountinfo");
    out.success();
    let lines = out.lines();
    assert_eq!(lines.first(), Some(&"ok"), "{out}");
    let m = mounts(&out.stdout)
        .into_iter()
        .find(|m| m.0 == "/scratch")
        .unwrap_or_else(|| panic!("/scratch is not a mount\n{out}"));
    assert_eq!(m.2, "tmpfs", "{out}");
    assert!(out.stdout.contains("size=1024k"), "size=1m not applied\n{out}");
    assert!(!t.rootfs.join("scratch/f").exists());
}
