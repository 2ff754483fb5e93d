//! The OCI runtime front end's container lifecycle, as containerd's shim drives it:
//! create (init blocked until start, pid file written), start, state, kill, delete, list,
//! runc's error cases, `--log` JSON error lines, and the `berth-runc` program name.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A bundle (busybox rootfs + config.json from `berth runtime spec`) and a state root; every
/// container it made is force-deleted on drop, and its cgroup must then be gone.
struct Bundle {
    dir: tempfile::TempDir,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Bundle {
    fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        common::build_rootfs(&dir.path().join("rootfs"));
        let b = Bundle { dir, ids: Default::default() };
        assert!(b.rt(&["spec", "--bundle", b.path().to_str().unwrap()]).status.success());
        let cfg = b.path().join("config.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
        v["process"]["terminal"] = false.into();
        v["process"]["args"] = args.iter().map(|s| serde_json::Value::from(*s)).collect();
        v["root"]["readonly"] = false.into();
        std::fs::write(&cfg, v.to_string()).unwrap();
        b
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state_root(&self) -> PathBuf {
        self.path().join("state")
    }

    fn rt_with(&self, program: &Path, args: &[&str]) -> Output {
        // The container's init (or a detached exec) inherits the runtime's stdio, as with a
        // shim's FIFOs: give those files, so reading the output does not wait for it to exit.
        if args.iter().any(|a| matches!(*a, "create" | "--detach" | "-d")) {
            let n = self.ids.borrow().len();
            let (o, e) = (self.path().join(format!("create-{n}.out")), self.path().join(format!("create-{n}.err")));
            let status = self
                .command(program, args)
                .stdout(std::fs::File::create(&o).unwrap())
                .stderr(std::fs::File::create(&e).unwrap())
                .status()
                .unwrap();
            return Output { status, stdout: std::fs::read(&o).unwrap(), stderr: std::fs::read(&e).unwrap() };
        }
        self.command(program, args).output().unwrap()
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        if program.file_name().is_some_and(|n| n.to_string_lossy().contains("runc")) {
            c.arg("--root").arg(self.state_root());
        } else {
            c.arg("--root").arg(self.state_root()).arg("runtime");
        }
        c.args(args).current_dir(self.path()).stdin(std::process::Stdio::null());
        c
    }

    fn rt(&self, args: &[&str]) -> Output {
        self.rt_with(Path::new(env!("CARGO_BIN_EXE_berth")), args)
    }

    fn create(&self, id: &str) -> Output {
        self.ids.borrow_mut().push(id.to_string());
        let pid_file = self.path().join(format!("{id}.pid"));
        self.rt(&["create", "--bundle", self.path().to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), id])
    }

    fn status(&self, id: &str) -> String {
        let out = self.rt(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.status(id) != want {
            assert!(Instant::now() < deadline, "{id} never became {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.rt(&["delete", "--force", id]);
            let left: Vec<_> = common::cgroup_dirs_of(id).into_iter().filter(|p| p.exists()).collect();
            if !std::thread::panicking() {
                assert!(left.is_empty(), "cgroups left behind: {left:?}");
            }
        }
    }
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn create_blocks_until_start_then_runs() {
    let b = Bundle::new(&["sh", "-c", "echo started > /tmp/out; sleep 30"]);
    let id = format!("lc-{}", std::process::id());
    let out = b.create(&id);
    assert!(out.status.success(), "{}", err(&out));
    let pid: i32 = std::fs::read_to_string(b.path().join(format!("{id}.pid"))).unwrap().trim().parse().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "pid file names a live process");
    assert_eq!(b.status(&id), "created");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!b.path().join("rootfs/tmp/out").exists(), "the command ran before start");
    let state: serde_json::Value = serde_json::from_slice(&b.rt(&["state", &id]).stdout).unwrap();
    assert_eq!(state["pid"], pid);
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], b.path().canonicalize().unwrap().to_str().unwrap());

    let out = b.rt(&["start", &id]);
    assert!(out.status.success(), "{}", err(&out));
    b.wait_status(&id, "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.path().join("rootfs/tmp/out").exists() {
        assert!(Instant::now() < deadline, "command did not run after start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let list = String::from_utf8_lossy(&b.rt(&["list", "-q"]).stdout).into_owned();
    assert_eq!(list.trim(), id);

    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    b.wait_status(&id, "stopped");
    let out = b.rt(&["delete", &id]);
    assert!(out.status.success(), "{}", err(&out));
    assert!(common::cgroup_dirs_of(&id).iter().all(|p| !p.exists()));
    let out = b.rt(&["state", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("does not exist"), "{}", err(&out));
}

#[test]
fn runc_error_cases() {
    let b = Bundle::new(&["sleep", "30"]);
    let id = format!("err-{}", std::process::id());
    assert!(b.create(&id).status.success());
    let dup = b.create(&id);
    assert_eq!(dup.status.code(), Some(1));
    assert!(err(&dup).contains("container with id exists"), "{}", err(&dup));
    assert!(b.rt(&["start", &id]).status.success());
    let again = b.rt(&["start", &id]);
    assert_eq!(again.status.code(), Some(1), "start twice must fail");
    let del = b.rt(&["delete", &id]);
    assert_eq!(del.status.code(), Some(1));
    assert!(err(&del).contains("not stopped"), "{}", err(&del));
    assert!(b.rt(&["kill", &id]).status.success(), "SIGTERM to a running init");
    // sleep as PID 1 ignores SIGTERM: it is still running; --force kills it.
    let del = b.rt(&["delete", "--force", &id]);
    assert!(del.status.success(), "{}", err(&del));
    let k = b.rt(&["kill", &id, "KILL"]);
    assert_eq!(k.status.code(), Some(1));
    assert!(err(&k).contains("does not exist"), "{}", err(&k));
    assert!(b.rt(&["delete", "--force", "never-was"]).status.success());
    let d = b.rt(&["delete", "never-was"]);
    assert!(err(&d).contains("does not exist"));
    let bad = b.rt(&["state", "../etc"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn kill_a_stopped_container_says_not_running() {
    let b = Bundle::new(&["true"]);
    let id = format!("stopped-{}", std::process::id());
    assert!(b.create(&id).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    b.wait_status(&id, "stopped");
    let k = b.rt(&["kill", &id, "TERM"]);
    assert_eq!(k.status.code(), Some(1));
    assert!(err(&k).contains("container not running"), "{}", err(&k));
    assert!(b.rt(&["delete", &id]).status.success());
}

#[test]
fn missing_command_fails_at_create_and_leaves_nothing() {
    let b = Bundle::new(&["nosuchcmd"]);
    let id = format!("nocmd-{}", std::process::id());
    let out = b.create(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("executable file not found"), "{}", err(&out));
    assert!(!b.state_root().join(&id).exists(), "state left after a failed create");
}

#[test]
fn log_json_gets_the_error_and_berth_runc_name_works() {
    let b = Bundle::new(&["sleep", "30"]);
    let link = b.path().join("berth-runc");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).unwrap();
    let log = b.path().join("log.json");
    let out = b.rt_with(&link, &["--log", log.to_str().unwrap(), "--log-format", "json", "state", "absent"]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("does not exist"));
    assert!(last["time"].is_string());
    let id = format!("runc-{}", std::process::id());
    b.ids.borrow_mut().push(id.clone());
    let out = b.rt_with(&link, &["--systemd-cgroup", "create", "--bundle", b.path().to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(b.status(&id), "created");
}

#[test]
fn pause_and_resume_freeze_the_container() {
    let b = Bundle::new(&["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"]);
    let id = format!("pause-{}", std::process::id());
    assert!(b.create(&id).status.success());
    let r = b.rt(&["resume", &id]);
    assert_eq!(r.status.code(), Some(1), "resume of a created container");
    assert!(b.rt(&["start", &id]).status.success());
    let n = b.path().join("rootfs/tmp/n");
    let read = || std::fs::read_to_string(&n).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while read().is_empty() {
        assert!(Instant::now() < deadline, "container never wrote");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = b.rt(&["pause", &id]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(b.status(&id), "paused");
    let frozen = read();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read(), frozen, "a paused container kept running");
    assert_eq!(b.rt(&["pause", &id]).status.code(), Some(1), "pause twice");
    assert!(b.rt(&["resume", &id]).status.success());
    assert_eq!(b.status(&id), "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while read() == frozen {
        assert!(Instant::now() < deadline, "a resumed container did not go on");
        std::thread::sleep(Duration::from_millis(20));
    }
    // delete --force of a paused container works too.
    assert!(b.rt(&["pause", &id]).status.success());
    assert!(b.rt(&["delete", "--force", &id]).status.success());
}

#[test]
fn run_in_the_foreground_returns_the_exit_code_and_cleans_up() {
    let b = Bundle::new(&["sh", "-c", "echo from-run; exit 3"]);
    let id = format!("run-{}", std::process::id());
    b.ids.borrow_mut().push(id.clone());
    let out = b.rt(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(3), "{}", err(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("from-run"));
    assert!(!b.state_root().join(&id).exists(), "state left after run");
    assert!(common::cgroup_dirs_of(&id).iter().all(|p| !p.exists()));
}

/// The container cgroup's memory limit file (v1 or v2) for `id` under berth's default parent.
fn memory_limit_file(id: &str) -> PathBuf {
    let v1 = PathBuf::from(format!("/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes"));
    if Path::new("/sys/fs/cgroup/memory").is_dir() {
        v1
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/berth/{id}/memory.max"))
    }
}

#[test]
fn update_changes_limits_and_ps_lists_the_processes() {
    let b = Bundle::new(&["sh", "-c", "sleep 30 & sleep 30"]);
    let id = format!("upd-{}", std::process::id());
    assert!(b.create(&id).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    b.wait_status(&id, "running");
    // JSON on stdin, as dockerd and containerd send it.
    let mut child = b
        .command(Path::new(env!("CARGO_BIN_EXE_berth")), &["update", "--resources", "-", &id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), br#"{"memory":{"limit":67108864},"pids":{"limit":50}}"#)
        .unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(memory_limit_file(&id)).unwrap().trim(), "67108864");
    // runc's flag form.
    let out = b.rt(&["update", "--memory", "32m", &id]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(std::fs::read_to_string(memory_limit_file(&id)).unwrap().trim(), "33554432");
    let bad = b.rt(&["update", "--memory", "12qb", &id]);
    assert_eq!(bad.status.code(), Some(1));

    let deadline = Instant::now() + Duration::from_secs(10);
    let pids = loop {
        let out = b.rt(&["ps", "--format", "json", &id]);
        assert!(out.status.success(), "{}", err(&out));
        let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
        if pids.len() >= 2 || Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(pids.len() >= 2, "init and its background sleep: {pids:?}");
    let table = String::from_utf8_lossy(&b.rt(&["ps", &id]).stdout).into_owned();
    assert!(table.lines().count() >= 3 && table.contains("sleep 30"), "{table}");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
}

#[test]
fn exec_joins_the_running_container() {
    let b = Bundle::new(&["sleep", "30"]);
    let id = format!("exec-{}", std::process::id());
    assert!(b.create(&id).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    b.wait_status(&id, "running");
    let script =
        "echo pid=$$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep CapEff /proc/self/status; exit 4";
    let out = b.rt(&["exec", &id, "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(4), "{}", err(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("pid=") && lines[0] != "pid=1", "not in the container's pid namespace: {text}");
    assert_eq!(lines[1], "berth", "hostname of the container (uts namespace)");
    assert_eq!(lines[2].trim(), "sleep 30", "the container's init is pid 1 there");
    // runc's default spec: AUDIT_WRITE, KILL, NET_BIND_SERVICE — the exec'd process gets the same.
    assert_eq!(lines[3], "CapEff:\t0000000020000420");

    let out = b.rt(&["exec", "--user", "1000:1000", "--cap", "CAP_NET_ADMIN", &id, "sh", "-c", "id -u; id -g"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1000\n1000\n");

    let out = b.rt(&["exec", &id, "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("executable file not found"), "{}", err(&out));

    let pid_file = b.path().join("exec.pid");
    let out = b.rt(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "20"]);
    assert!(out.status.success(), "{}", err(&out));
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let ps: Vec<i32> = serde_json::from_slice(&b.rt(&["ps", "--format", "json", &id]).stdout).unwrap();
    assert!(ps.contains(&pid), "the exec'd process is in the container's cgroup: {ps:?} / {pid}");

    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    b.wait_status(&id, "stopped");
    let out = b.rt(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(1), "exec into a stopped container");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
}

/// Adds `hooks` (kind → list of hook JSON) to the bundle's config.json.
fn set_hooks(b: &Bundle, hooks: serde_json::Value) {
    let cfg = b.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["hooks"] = hooks;
    std::fs::write(&cfg, v.to_string()).unwrap();
}

fn hook(script: &str) -> serde_json::Value {
    serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 10})
}

#[test]
fn lifecycle_hooks_run_in_order_with_the_state_on_stdin() {
    let b = Bundle::new(&["sleep", "30"]);
    let log = b.path().join("hooks.log");
    let rec = |kind: &str| hook(&format!("read -r s; echo \"{kind} $s\" >> {}", log.display()));
    set_hooks(
        &b,
        serde_json::json!({
            "prestart": [rec("prestart")],
            "createRuntime": [rec("createRuntime")],
            "createContainer": [rec("createContainer")],
            // Runs inside the container (after pivot_root): writes into the container's /tmp.
            "startContainer": [hook("echo ran > /tmp/start-hook")],
            "poststart": [rec("poststart")],
            "poststop": [rec("poststop")],
        }),
    );
    let id = format!("hooks-{}", std::process::id());
    let out = b.create(&id);
    assert!(out.status.success(), "{}", err(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let kinds: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(kinds, ["prestart", "createRuntime", "createContainer"], "{text}");
    let state: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap().split_once(' ').unwrap().1).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["status"], "creating");
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert!(!b.path().join("rootfs/tmp/start-hook").exists(), "startContainer ran before start");

    assert!(b.rt(&["start", &id]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.path().join("rootfs/tmp/start-hook").exists() {
        assert!(Instant::now() < deadline, "startContainer hook did not run inside the container");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(std::fs::read_to_string(&log).unwrap().lines().any(|l| l.starts_with("poststart ")));
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    let last = std::fs::read_to_string(&log).unwrap().lines().last().unwrap().to_string();
    assert!(last.starts_with("poststop ") && last.contains("\"stopped\""), "{last}");
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let b = Bundle::new(&["sleep", "30"]);
    set_hooks(&b, serde_json::json!({"createRuntime": [hook("exit 3")]}));
    let id = format!("badhook-{}", std::process::id());
    let out = b.create(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("createRuntime hook"), "{}", err(&out));
    assert!(!b.state_root().join(&id).exists());
}

#[test]
fn ambient_capabilities_without_inheritable_do_not_fail_like_runc() {
    // runc's own default spec lists ambient capabilities but no inheritable set.
    let b = Bundle::new(&["sh", "-c", "grep CapEff /proc/self/status > /tmp/caps"]);
    let cfg = b.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["process"]["capabilities"].as_object_mut().unwrap().remove("inheritable");
    std::fs::write(&cfg, v.to_string()).unwrap();
    let id = format!("ambient-{}", std::process::id());
    let out = b.create(&id);
    assert!(out.status.success(), "{}", err(&out));
    assert!(b.rt(&["start", &id]).status.success());
    b.wait_status(&id, "stopped");
    let caps = std::fs::read_to_string(b.path().join("rootfs/tmp/caps")).unwrap();
    assert_eq!(caps.trim(), "CapEff:\t0000000020000420");
    assert!(b.rt(&["delete", &id]).status.success());
}

#[test]
fn lsm_labels_are_refused_clearly_where_the_lsm_is_not_active() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y");
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    for (key, value, active, name) in [
        ("apparmorProfile", "unconfined", apparmor, "AppArmor"),
        ("selinuxLabel", "system_u:system_r:container_t:s0", selinux, "SELinux"),
    ] {
        let b = Bundle::new(&["true"]);
        let cfg = b.path().join("config.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
        v["process"][key] = value.into();
        std::fs::write(&cfg, v.to_string()).unwrap();
        let id = format!("lsm-{key}-{}", std::process::id());
        let out = b.create(&id);
        if active {
            assert!(out.status.success(), "{}", err(&out));
        } else {
            assert_eq!(out.status.code(), Some(1));
            assert!(err(&out).contains(&format!("{name} is not enabled")), "{}", err(&out));
            assert!(!b.state_root().join(&id).exists());
        }
    }
}

#[test]
fn events_stats_reports_usage_from_the_cgroup() {
    let b = Bundle::new(&["sh", "-c", "sleep 30 & sleep 30"]);
    let cfg = b.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
    v["linux"]["resources"]["pids"] = serde_json::json!({"limit": 30});
    std::fs::write(&cfg, v.to_string()).unwrap();
    let id = format!("events-{}", std::process::id());
    assert!(b.create(&id).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    b.wait_status(&id, "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    let ev = loop {
        let out = b.rt(&["events", "--stats", &id]);
        assert!(out.status.success(), "{}", err(&out));
        let ev: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if ev["data"]["pids"]["current"].as_u64() >= Some(2) || Instant::now() > deadline {
            break ev;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 67108864u64);
    assert_eq!(ev["data"]["pids"]["limit"], 30);
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 2, "{ev}");
    assert!(ev["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{ev}");
    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    b.wait_status(&id, "stopped");
    assert_eq!(b.rt(&["events", "--stats", &id]).status.code(), Some(1), "events of a stopped container");
    assert!(b.rt(&["delete", &id]).status.success());
}

#[test]
fn preserve_fds_passes_descriptors_3_and_up() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let b = Bundle::new(&["sh", "-c", "echo via-fd3 >&3; ls /proc/self/fd"]);
    let id = format!("fds-{}", std::process::id());
    b.ids.borrow_mut().push(id.clone());
    let file = std::fs::File::create(b.path().join("fd3.txt")).unwrap();
    let raw = file.as_raw_fd();
    let mut cmd = b.command(
        Path::new(env!("CARGO_BIN_EXE_berth")),
        &["run", "--preserve-fds", "1", "--bundle", b.path().to_str().unwrap(), &id],
    );
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would keep close-on-exec: clear it explicitly.
            if libc::dup2(raw, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(std::fs::read_to_string(b.path().join("fd3.txt")).unwrap(), "via-fd3\n");
    // Nothing else leaks: only 0, 1, 2, 3 (and the directory fd of ls itself).
    let fds: Vec<u32> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|s| s.parse().ok()).collect();
    assert!(fds.iter().all(|&f| f <= 4), "leaked descriptors: {fds:?}");
}
