//! `berth run`: cgroup limits (seen from inside and from the host), the OOM killer, the pids
//! limit against a fork bomb, rlimits and the OOM score.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The host has only cgroup v2 (no v1 controllers): the files have their v2 names.
fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `cat` of one cgroup file inside the container, with `opts`; returns its trimmed content.
fn cg_value(t: &Ctx, opts: &[&str], v1: &str, v2: &str) -> String {
    let file = if pure_v2() { format!("/sys/fs/cgroup/{v2}") } else { format!("/sys/fs/cgroup/{v1}") };
    let out = t.run().opts(opts).cmd(["cat", file.as_str()]).output();
    out.success();
    out.stdout.trim().to_string()
}

#[test]
fn memory_limit_shows_in_the_containers_cgroup() {
    let t = Ctx::new("memory-limit");
    assert_eq!(cg_value(&t, &["--memory", "32m"], "memory/memory.limit_in_bytes", "memory.max"), "33554432");
    assert_eq!(cg_value(&t, &["-m", "64m"], "memory/memory.limit_in_bytes", "memory.max"), "67108864");
}

#[test]
fn exceeding_the_memory_limit_is_an_oom_kill_137() {
    let t = Ctx::new("oom");
    let out =
        t.run().opts(["--memory", "32m"]).cmd(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]).output();
    out.code_is(137);
    assert!(out.stderr.contains("OOM"), "no OOM message on stderr\n{out}");
}

#[test]
fn exit_137_without_an_oom_kill_has_no_oom_message() {
    let t = Ctx::new("not-oom");
    let out = t.sh(&["--memory", "32m"], "exit 137");
    out.code_is(137);
    assert!(!out.stderr.contains("OOM"), "an OOM kill reported for a plain exit 137\n{out}");
}

#[test]
fn tiny_memory_limit_still_runs_echo() {
    let t = Ctx::new("memory-512k");
    let out = t.run().opts(["--memory", "512k"]).cmd(["echo", "ok"]).output();
    out.success();
    assert_eq!(out.stdout, "ok\n", "{out}");
}

#[test]
fn memory_swap_sets_the_memsw_limit() {
    let t = Ctx::new("memory-swap");
    if pure_v2() {
        // v2 keeps swap apart: memory.swap.max = swap - memory.
        assert_eq!(cg_value(&t, &["--memory", "32m", "--memory-swap", "64m"], "", "memory.swap.max"), "33554432");
    } else if Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            cg_value(&t, &["--memory", "32m", "--memory-swap", "64m"], "memory/memory.memsw.limit_in_bytes", ""),
            "67108864"
        );
    } else {
        // No swap accounting on this host: Docker warns and runs without the swap limit.
        let out = t.run().opts(["--memory", "32m", "--memory-swap", "64m"]).cmd(["true"]).output();
        out.success();
    }
}

#[test]
fn memory_reservation_sets_the_soft_limit() {
    let t = Ctx::new("memory-reservation");
    assert_eq!(
        cg_value(&t, &["--memory-reservation", "16m"], "memory/memory.soft_limit_in_bytes", "memory.low"),
        "16777216"
    );
}

#[test]
fn cpus_sets_the_cfs_quota() {
    let t = Ctx::new("cpus");
    if pure_v2() {
        assert_eq!(cg_value(&t, &["--cpus", "0.5"], "", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(cg_value(&t, &["--cpus", "0.5"], "cpu/cpu.cfs_quota_us", ""), "50000");
        assert_eq!(cg_value(&t, &["--cpus", "0.5"], "cpu/cpu.cfs_period_us", ""), "100000");
    }
}

#[test]
fn cpu_quota_and_period_are_set() {
    let t = Ctx::new("cpu-quota");
    let o = ["--cpu-quota", "20000", "--cpu-period", "50000"];
    if pure_v2() {
        assert_eq!(cg_value(&t, &o, "", "cpu.max"), "20000 50000");
    } else {
        assert_eq!(cg_value(&t, &o, "cpu/cpu.cfs_quota_us", ""), "20000");
        assert_eq!(cg_value(&t, &o, "cpu/cpu.cfs_period_us", ""), "50000");
    }
}

#[test]
fn cpu_shares_are_set() {
    let t = Ctx::new("cpu-shares");
    // v2: runc's conversion 1 + ((512 - 2) * 9999) / 262142 = 20.
    assert_eq!(
        cg_value(&t, &["--cpu-shares", "512"], "cpu/cpu.shares", "cpu.weight"),
        if pure_v2() { "20" } else { "512" }
    );
    assert_eq!(cg_value(&t, &["-c", "256"], "cpu/cpu.shares", "cpu.weight"), if pure_v2() { "10" } else { "256" });
}

#[test]
fn cpuset_cpus_pins_the_container() {
    let t = Ctx::new("cpuset");
    assert_eq!(cg_value(&t, &["--cpuset-cpus", "0"], "cpuset/cpuset.cpus", "cpuset.cpus"), "0");
    let out = t.run().opts(["--cpuset-cpus", "0"]).cmd(["cat", "/proc/self/status"]).output();
    out.success();
    assert_eq!(out.status_field("Cpus_allowed_list"), "0", "{out}");
}

#[test]
fn pids_limit_shows_in_the_containers_cgroup() {
    let t = Ctx::new("pids-max");
    assert_eq!(cg_value(&t, &["--pids-limit", "10"], "pids/pids.max", "pids.max"), "10");
}

#[test]
fn pids_limit_minus_one_is_unlimited() {
    let t = Ctx::new("pids-unlimited");
    assert_eq!(cg_value(&t, &["--pids-limit", "-1"], "pids/pids.max", "pids.max"), "max");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let t = Ctx::new("fork-bomb");
    // Guarded: bomb only as PID 1 of a pid namespace whose cgroup shows pids.max 10. PID 1 forks
    // once, for the bomb's first subshell (while it can: a failed fork would end PID 1's shell),
    // then busy-waits with builtins only, then exits, and the kernel kills the rest of the
    // namespace.
    let pids_max = if pure_v2() { "/sys/fs/cgroup/pids.max" } else { "/sys/fs/cgroup/pids/pids.max" };
    let script = format!(
        "[ $$ = 1 ] || {{ echo not-pid-1; exit 3; }}; \
         read max < {pids_max}; echo \"pids.max=$max\"; [ \"$max\" = 10 ] || exit 4; \
         f() {{ f | f & }}; ( f ) & \
         echo bombing; \
         i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; \
         echo done; exit 0"
    );
    let mut r = t.run().opts(["--pids-limit", "10"]).sh(&script).spawn();
    r.wait_stdout("bombing");
    for _ in 0..3 {
        let st = Command::new("/bin/true").status().expect("the host cannot spawn a process during the fork bomb");
        assert!(st.success());
    }
    let out = r.wait();
    out.success();
    assert_eq!(out.lines(), ["pids.max=10", "bombing", "done"], "{out}");
    assert!(
        out.stderr.contains("can't fork") || out.stderr.contains("Resource temporarily unavailable"),
        "no failing fork reported\n{out}"
    );
}

#[test]
fn blkio_weight_is_applied_or_discarded_like_docker() {
    let t = Ctx::new("blkio-weight");
    let out = t.sh(
        &["--blkio-weight", "300"],
        "for f in /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight /sys/fs/cgroup/io.bfq.weight /sys/fs/cgroup/io.weight; do [ -f $f ] && echo \"$f $(cat $f)\"; done; echo ran",
    );
    out.success();
    assert_eq!(out.lines().last(), Some(&"ran"), "{out}");
    for l in out.lines().iter().filter(|l| l.starts_with('/')) {
        assert_eq!(l.split_whitespace().last(), Some("300"), "weight not applied: {l}\n{out}");
    }
}

/// The host's first whole disk that is not a loop, ram or zram device: (/dev path, "maj:min").
fn host_disk() -> (String, String) {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        if ["loop", "ram", "zram"].iter().any(|p| n.starts_with(p)) || !Path::new(&format!("/dev/{n}")).exists() {
            continue;
        }
        let dev = std::fs::read_to_string(format!("/sys/block/{n}/dev")).unwrap();
        return (format!("/dev/{n}"), dev.trim().to_string());
    }
    panic!("no disk in /sys/block to throttle");
}

#[test]
fn device_read_bps_throttles_the_device() {
    let t = Ctx::new("read-bps");
    let (dev, majmin) = host_disk();
    let v =
        cg_value(&t, &["--device-read-bps", &format!("{dev}:1mb")], "blkio/blkio.throttle.read_bps_device", "io.max");
    let want = if pure_v2() { format!("{majmin} rbps=1048576") } else { format!("{majmin} 1048576") };
    assert!(v.lines().any(|l| l.starts_with(&want)), "want {want:?}, got {v:?}");
}

#[test]
fn device_write_bps_throttles_the_device() {
    let t = Ctx::new("write-bps");
    let (dev, majmin) = host_disk();
    let v =
        cg_value(&t, &["--device-write-bps", &format!("{dev}:2mb")], "blkio/blkio.throttle.write_bps_device", "io.max");
    let want = if pure_v2() { format!("{majmin} rbps=max wbps=2097152") } else { format!("{majmin} 2097152") };
    assert!(v.lines().any(|l| l.starts_with(&want)), "want {want:?}, got {v:?}");
}

#[test]
fn cgroup_is_berth_slash_id_on_every_hierarchy_while_running() {
    let t = Ctx::new("cgroup-path");
    let mut r = t
        .run()
        .opts(["-i", "--memory", "32m", "--pids-limit", "20"])
        .sh("echo ready; read x; echo bye")
        .spawn_with_stdin_pipe(true);
    r.wait_stdout("ready");
    let id = r.id();
    let expect: Vec<String> = if pure_v2() {
        vec!["/sys/fs/cgroup".into()]
    } else {
        ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "unified"]
            .iter()
            .map(|h| format!("/sys/fs/cgroup/{h}"))
            .filter(|h| Path::new(h).is_dir())
            .collect()
    };
    let mut problems = Vec::new();
    for h in &expect {
        let dir = format!("{h}/berth/{id}");
        match std::fs::read_to_string(format!("{dir}/cgroup.procs")) {
            Ok(p) if !p.trim().is_empty() => {}
            Ok(_) => problems.push(format!("{dir}/cgroup.procs is empty")),
            Err(e) => problems.push(format!("{dir}/cgroup.procs: {e}")),
        }
    }
    let (mem, pids) = if pure_v2() {
        (format!("/sys/fs/cgroup/berth/{id}/memory.max"), format!("/sys/fs/cgroup/berth/{id}/pids.max"))
    } else {
        (
            format!("/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes"),
            format!("/sys/fs/cgroup/pids/berth/{id}/pids.max"),
        )
    };
    let mem_v = std::fs::read_to_string(&mem).unwrap_or_else(|e| e.to_string());
    let pids_v = std::fs::read_to_string(&pids).unwrap_or_else(|e| e.to_string());
    r.write_stdin(b"go\n");
    let out = r.wait();
    assert!(problems.is_empty(), "{}\n{out}", problems.join("\n"));
    assert_eq!(mem_v.trim(), "33554432", "{mem}\n{out}");
    assert_eq!(pids_v.trim(), "20", "{pids}\n{out}");
    out.success();
    assert_eq!(out.lines(), ["ready", "bye"], "{out}");
    let left = cgroup_dirs_of(&id);
    assert!(left.is_empty(), "cgroups not removed at exit: {left:?}");
}

#[test]
fn cgroup_fs_is_read_only_inside() {
    let t = Ctx::new("cgroupfs-ro");
    let dir = if pure_v2() { "/sys/fs/cgroup/x" } else { "/sys/fs/cgroup/memory/x" };
    let out = t.sh(&[], &format!("mkdir {dir}; echo rc=$?; cat /proc/self/mountinfo"));
    out.success();
    assert!(out.stdout.contains("rc=") && !out.stdout.contains("rc=0"), "created a cgroup inside the container\n{out}");
    let cg: Vec<_> = mounts(&out.stdout).into_iter().filter(|m| m.0.starts_with("/sys/fs/cgroup")).collect();
    assert!(!cg.is_empty(), "no /sys/fs/cgroup mounts\n{out}");
    for m in &cg {
        if m.2 == "cgroup" || m.2 == "cgroup2" {
            assert!(m.1.split(',').any(|o| o == "ro"), "{} is mounted {}\n{out}", m.0, m.1);
        }
    }
}

#[test]
fn ulimit_nofile_is_set() {
    let t = Ctx::new("ulimit");
    let out = t.sh(&["--ulimit", "nofile=1024:2048"], "ulimit -n; ulimit -Hn");
    out.success();
    assert_eq!(out.lines(), ["1024", "2048"], "{out}");
}

#[test]
fn ulimit_with_one_value_sets_soft_and_hard() {
    let t = Ctx::new("ulimit-one");
    let out = t.sh(&["--ulimit", "nofile=1000"], "ulimit -n; ulimit -Hn");
    out.success();
    assert_eq!(out.lines(), ["1000", "1000"], "{out}");
}

#[test]
fn default_nofile_fits_the_hosts_hard_limit() {
    let t = Ctx::new("ulimit-default");
    let out = t.sh(&[], "ulimit -n; ulimit -Hn");
    out.success();
    let host = host_nofile_hard();
    let v: Vec<u64> =
        out.lines().iter().map(|l| l.parse().unwrap_or_else(|_| panic!("bad ulimit {l:?}\n{out}"))).collect();
    assert_eq!(v.len(), 2, "{out}");
    assert!(v[1] <= host, "hard nofile {} above the host's {host}\n{out}", v[1]);
    assert!(v[0] <= v[1], "{out}");
}

#[test]
fn oom_score_adj_is_set() {
    let t = Ctx::new("oom-score-adj");
    let out = t.run().opts(["--oom-score-adj", "500"]).cmd(["cat", "/proc/self/oom_score_adj"]).output();
    out.success();
    assert_eq!(out.lines(), ["500"], "{out}");
}
