//! Docker's defaults for a container, as data: capabilities, masked and read-only paths, the
//! standard mounts, the device cgroup allow-list and the default rlimits.

use oci_spec::runtime::{
    Capability, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, Mount, MountBuilder,
};

/// The 14 capabilities Docker grants by default (CapEff 00000000a80425fb).
pub const CAPABILITIES: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths hidden from the container (/dev/null or an empty tmpfs over them).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container sees read-only.
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Docker's default `/dev/shm` size: 64 MiB.
pub const SHM_SIZE: u64 = 64 << 20;

/// Docker's RLIMIT_NOFILE for containers (containerd's), clamped by the runtime if not allowed.
pub const NOFILE: u64 = 1_048_576;

fn m(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .expect("static mount is valid")
}

/// The standard mounts of every container. `privileged` makes /sys and the cgroup tree writable.
pub fn mounts(privileged: bool) -> Vec<Mount> {
    let shm = format!("size={SHM_SIZE}");
    let sys_mode = if privileged { "rw" } else { "ro" };
    vec![
        m("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        m("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
        m("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        m("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", sys_mode]),
        m("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", sys_mode]),
        m("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
        m("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &shm]),
    ]
}

/// The device cgroup rules of an unprivileged container: deny everything; the runtime then
/// appends its default allow-list (mknod, the standard devices, ptys, /dev/net/tun), Docker's.
pub fn device_rules() -> Vec<LinuxDeviceCgroup> {
    vec![LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .typ(LinuxDeviceType::A)
        .access("rwm")
        .build()
        .expect("static rule")]
}

/// The `/etc/hosts` Docker writes for a container without a network address.
pub fn hosts_file() -> String {
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
}

/// The container's `/etc/resolv.conf` from the host's: loopback name servers cannot work from
/// another network namespace, so they are dropped; if none remain, Docker's public defaults.
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("nameserver") {
            let addr = addr.trim();
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_drops_loopback() {
        let r = resolv_conf("search x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n");
        assert_eq!(r, "search x\nnameserver 10.0.0.2\n");
        let r = resolv_conf("nameserver 127.0.0.1\n");
        assert!(r.contains("nameserver 8.8.8.8"));
    }

    #[test]
    fn fourteen_caps() {
        assert_eq!(CAPABILITIES.len(), 14);
        assert_eq!(device_rules().len(), 1);
    }
}
