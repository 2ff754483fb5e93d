//! berth as podman's OCI runtime (`podman --runtime PATH`): run, exec, stop, with podman's own
//! root, run root and temp dir under the test's temp dir. Needs Debian's `podman`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Podman {
    dir: tempfile::TempDir,
    /// podman's cgroup parent (`<hierarchy>/libpod_parent`) where the test made it.
    new_parents: Vec<PathBuf>,
    /// podman calls the runtime without `--root`, so berth keeps that state in its default
    /// /run/berth/runtime: removed at the end (empty by then) if the test made it.
    new_run_dirs: Vec<PathBuf>,
}

impl Podman {
    fn new() -> Podman {
        let new_parents = common::missing_cgroup_parents("libpod_parent");
        let new_run_dirs = common::missing_dirs(&["/run/berth/runtime", "/run/berth"]);
        let p = Podman { dir: tempfile::tempdir().unwrap(), new_parents, new_run_dirs };
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), p.dir.path().join("berth-runc")).unwrap();
        common::build_rootfs(&p.dir.path().join("rootfs"));
        p
    }

    fn podman(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"])
            .arg("--runtime")
            .arg(d.join("berth-runc"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("podman (install podman)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.podman(args);
        assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-f", "-t", "0", "p1"]);
        common::unmount_under(self.dir.path());
        // podman leaves its (empty) cgroup parent and the conmon cgroup under it.
        common::remove_cgroup_parents(&self.new_parents);
        common::remove_empty_dirs(&self.new_run_dirs);
    }
}

#[test]
fn podman_runs_execs_and_stops_on_berth() {
    let p = Podman::new();
    let rootfs = p.dir.path().join("rootfs");
    let rootfs = rootfs.to_str().unwrap();
    assert_eq!(p.ok(&["run", "--rm", "--network", "none", "--rootfs", rootfs, "echo", "ok-podman"]), "ok-podman\n");
    let code = p.podman(&["run", "--rm", "--network", "none", "--rootfs", rootfs, "sh", "-c", "exit 7"]);
    assert_eq!(code.status.code(), Some(7));

    p.ok(&[
        "run",
        "-d",
        "--name",
        "p1",
        "--network",
        "none",
        "--rootfs",
        rootfs,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.1; done",
    ]);
    let out = p.ok(&["exec", "p1", "sh", "-c", "echo exec $$"]);
    assert!(out.starts_with("exec ") && out.trim() != "exec 1", "{out}");
    let t = Instant::now();
    p.ok(&["stop", "p1"]);
    assert!(t.elapsed() < Duration::from_secs(8), "SIGTERM did not reach the container");
    assert_eq!(p.ok(&["inspect", "-f", "{{.State.ExitCode}}", "p1"]).trim(), "0");
    p.ok(&["rm", "p1"]);
    assert!(!Path::new(&p.dir.path().join("runroot")).join("p1").exists());
}
