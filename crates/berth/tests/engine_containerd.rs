//! berth as containerd's OCI runtime: a containerd of the test's own (own root, state and
//! sockets) driven with `ctr run --runc-binary berth-runc`: run in the foreground, and a
//! detached task killed with SIGKILL. Needs Debian's `containerd` (pulled in by docker.io).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Containerd {
    dir: tempfile::TempDir,
    child: Child,
    ns: String,
    new_parents: Vec<PathBuf>,
    /// /run/containerd dirs the shim and ctr create even with our own roots (shim sockets),
    /// removed at the end if the test made them and they are empty.
    new_run_dirs: Vec<PathBuf>,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ns = format!("berthctr{}", std::process::id());
        // ctr's default cgroupsPath is /<namespace>/<id>: that parent is ours to remove.
        let new_parents = common::missing_cgroup_parents(&ns);
        let new_run_dirs = common::missing_dirs(&["/run/containerd/s", "/run/containerd/fifo", "/run/containerd"]);
        let cfg = format!(
            "version = 2\nroot = \"{r}\"\nstate = \"{s}\"\n[grpc]\n  address = \"{a}\"\n[ttrpc]\n  address = \"{a}.ttrpc\"\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            r = d.join("root").display(),
            s = d.join("state").display(),
            a = d.join("containerd.sock").display()
        );
        std::fs::write(d.join("config.toml"), cfg).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("containerd.log")).unwrap())
            .spawn()
            .expect("containerd (install docker.io or containerd)");
        let c = Containerd { dir, child, ns, new_parents, new_run_dirs };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let sock = self.dir.path().join("containerd.sock");
        Command::new("ctr")
            .arg("-a")
            .arg(&sock)
            .args(["-n", &self.ns])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `ctr run` flags that keep runtime state and stdio FIFOs under the test's dir.
    fn run_flags(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "--runc-root".into(),
            d.join("runc-root").display().to_string(),
            "--fifo-dir".into(),
            d.join("fifo").display().to_string(),
        ]
    }

    fn runtime(&self) -> PathBuf {
        let link = self.dir.path().join("berth-runc");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).unwrap();
        }
        link
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in ["ct1", "ct2"] {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "rm", "-f", id]);
            let _ = self.ctr(&["container", "rm", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        common::unmount_under(self.dir.path());
        common::remove_cgroup_parents(&self.new_parents);
        common::remove_empty_dirs(&self.new_run_dirs);
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn ctr_runs_and_kills_on_berth() {
    let c = Containerd::start();
    let rootfs = c.dir.path().join("rootfs");
    common::build_rootfs(&rootfs);
    let rt = c.runtime();
    let (rt, rootfs) = (rt.to_str().unwrap(), rootfs.to_str().unwrap());

    let flags = c.run_flags();
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into()];
        v.extend(flags.iter().cloned());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let a = with(&["--rm", "--runc-binary", rt, "--rootfs", rootfs, "ct1", "sh", "-c", "echo ok-from-ctr; exit 3"]);
    let out = c.ctr(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok-from-ctr"), "{}", text(&out));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let a = with(&["-d", "--runc-binary", rt, "--rootfs", rootfs, "ct2", "sleep", "60"]);
    let out = c.ctr(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out));
    let running = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ls = String::from_utf8_lossy(&c.ctr(&["task", "ls"]).stdout).into_owned();
            if ls.lines().any(|l| l.starts_with("ct2 ") && l.contains(want)) {
                return;
            }
            assert!(Instant::now() < deadline, "ct2 never {want}: {ls}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    running("RUNNING");
    assert!(c.ctr(&["task", "kill", "-s", "SIGKILL", "ct2"]).status.success());
    running("STOPPED");
    assert!(c.ctr(&["task", "rm", "ct2"]).status.success());
    assert!(c.ctr(&["container", "rm", "ct2"]).status.success());
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/{}/ct2", c.ns)).exists());
    assert!(!Path::new("/run/containerd/runc").join(&c.ns).exists(), "runtime state outside the test's dir");
}
