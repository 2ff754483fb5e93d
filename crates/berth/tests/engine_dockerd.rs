//! berth as dockerd's OCI runtime: a dockerd of the test's own (own data root, exec root,
//! socket, containerd namespace, no networking changes) with a `berth` runtime in its
//! daemon.json, driven with the docker CLI. Needs Debian's `docker.io` (installed by .ci/run).
//! Everything is torn down at the end: containers, dockerd (stopped by its pid), its mounts.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Dockerd {
    dir: tempfile::TempDir,
    child: Child,
    /// dockerd's cgroup parents (`<hierarchy>/docker`) that did not exist before: removed at the end.
    new_parents: Vec<PathBuf>,
    /// Host run dirs dockerd and the shims create whatever their roots (plugins, shim sockets).
    new_run_dirs: Vec<PathBuf>,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let link = d.join("berth-runc");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).unwrap();
        let cfg = serde_json::json!({
            "runtimes": {"berth": {"path": link}},
            "iptables": false, "ip-forward": false, "ip-masq": false, "bridge": "none",
        });
        std::fs::write(d.join("daemon.json"), cfg.to_string()).unwrap();
        let ns = format!("berthtest{}", std::process::id());
        let new_parents = common::missing_cgroup_parents("docker");
        let new_run_dirs =
            common::missing_dirs(&["/run/containerd/s", "/run/containerd", "/run/docker/plugins", "/run/docker"]);
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--containerd-namespace", &ns, "--containerd-plugins-namespace", &format!("{ns}p")])
            .stdout(std::fs::File::create(d.join("dockerd.log")).unwrap())
            .stderr(Stdio::from(std::fs::File::create(d.join("dockerd.err")).unwrap()))
            .spawn()
            .expect("dockerd (install docker.io)");
        let k = Dockerd { dir, child, new_parents, new_run_dirs };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !k.docker(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "dockerd did not come up: {}", k.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        k
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.err")).unwrap_or_default()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock().display()))
            .env("DOCKER_CONFIG", self.dir.path())
            .args(args);
        c
    }

    fn docker(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?}: {}\n{}", String::from_utf8_lossy(&out.stderr), self.log());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.docker(&["rm", "-f", "t1"]);
        // SIGTERM by pid: dockerd stops its containerd and unmounts its data root.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        common::unmount_under(self.dir.path());
        common::remove_cgroup_parents(&self.new_parents);
        common::remove_empty_dirs(&self.new_run_dirs);
    }
}

fn cgroup_v1_memory(id: &str) -> Option<PathBuf> {
    let p = PathBuf::from(format!("/sys/fs/cgroup/memory/docker/{id}/memory.limit_in_bytes"));
    p.exists().then_some(p)
}

#[test]
fn dockerd_runs_containers_on_berth() {
    let k = Dockerd::start();
    let rootfs = k.dir.path().join("rootfs");
    common::build_rootfs(&rootfs);
    let mut tar = Command::new("tar").arg("-C").arg(&rootfs).args(["-c", "."]).stdout(Stdio::piped()).spawn().unwrap();
    let import = k.cmd(&["import", "-", "berthbox:test"]).stdin(tar.stdout.take().unwrap()).output().unwrap();
    assert!(tar.wait().unwrap().success());
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));

    // docker run --rm --runtime berth IMAGE echo ok
    assert_eq!(
        k.ok(&["run", "--rm", "--runtime", "berth", "--network", "none", "berthbox:test", "echo", "ok"]),
        "ok\n"
    );
    let code =
        k.docker(&["run", "--rm", "--runtime", "berth", "--network", "none", "berthbox:test", "sh", "-c", "exit 42"]);
    assert_eq!(code.status.code(), Some(42));

    // A detached container: exec, pause/unpause, update, stats, stop (SIGTERM reaches it).
    k.ok(&[
        "run",
        "-d",
        "--name",
        "t1",
        "--runtime",
        "berth",
        "--network",
        "none",
        "berthbox:test",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.1; done",
    ]);
    let id = k.ok(&["inspect", "-f", "{{.Id}}", "t1"]).trim().to_string();
    let out = k.ok(&["exec", "t1", "sh", "-c", "echo exec $$; hostname"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("exec ") && lines[0] != "exec 1", "{out}");
    assert_eq!(lines[1], &id[..12]);
    k.ok(&["pause", "t1"]);
    assert_eq!(k.ok(&["inspect", "-f", "{{.State.Status}}", "t1"]).trim(), "paused");
    k.ok(&["unpause", "t1"]);
    assert_eq!(k.ok(&["inspect", "-f", "{{.State.Status}}", "t1"]).trim(), "running");
    k.ok(&["update", "--memory", "64m", "--memory-swap", "128m", "t1"]);
    if let Some(p) = cgroup_v1_memory(&id) {
        assert_eq!(std::fs::read_to_string(p).unwrap().trim(), "67108864");
    }
    let stats = k.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}", "t1"]);
    assert!(stats.contains("64MiB"), "{stats}");
    assert!(!stats.trim().ends_with(" 0"), "no pids counted: {stats}");
    let t = Instant::now();
    k.ok(&["stop", "t1"]);
    assert!(t.elapsed() < Duration::from_secs(8), "SIGTERM did not reach the container (stop waited for the kill)");
    assert_eq!(k.ok(&["inspect", "-f", "{{.State.ExitCode}}", "t1"]).trim(), "0");
    k.ok(&["rm", "t1"]);
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/docker/{id}")).exists());

    // -it: a real pty (script(1) gives the docker CLI a terminal).
    let script = format!(
        "DOCKER_HOST=unix://{} docker run --rm -it --runtime berth --network none berthbox:test sh -c 'tty; test -t 0 && echo isatty'",
        k.sock().display()
    );
    let out = Command::new("script").args(["-qec", &script, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/") && text.contains("isatty"), "{text}");
}
