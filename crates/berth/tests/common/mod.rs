//! Support for the integration tests: they drive the real `berth` binary as root.
//!
//! * [`Ctx`]: one per test. A temp dir holding the test's own busybox root file system, data
//!   root, cidfiles and scratch files. Dropping it runs the leftover check (also while a test
//!   panics): no cgroup `/sys/fs/cgroup/*/berth/<id>` of the test's containers, no host mount
//!   mentioning the test's dir, no process whose root is the test's rootfs.
//! * [`Run`]: builds one `berth --root DATA run --cidfile F --rootfs ROOTFS OPTS CMD` and runs
//!   it to completion ([`Run::output`]) or in the background ([`Run::spawn`]), always with a
//!   timeout after which the berth process (only that pid) is killed and the test fails.
//!
//! Every test gets its own rootfs tree (a copy of /bin/busybox plus the applet symlinks, whose
//! list is read once per test binary; a few milliseconds) so that the leftover checks can tell
//! tests running in parallel apart: with a shared rootfs, one test's running container would
//! look like another's leaked process.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long one berth run may take before the test kills it and fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// After berth exits, how long its stdout/stderr may stay open (held by a surviving process).
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// How long the leftover check waits for asynchronous teardown before it reports.
const LEFTOVER_GRACE: Duration = Duration::from_secs(3);

/// Docker's default capability set (14 capabilities).
pub const DEFAULT_CAPS: &str = "00000000a80425fb";

/// A variable set in berth's own environment: it must not leak into containers.
pub const HOST_ONLY_VAR: &str = "BERTH_ITEST_HOST_ONLY";

pub fn berth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

// ---------------------------------------------------------------------------------------------
// The busybox root file system

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
pub const GROUP: &str = "root:x:0:\napp:x:1000:\nextra:x:2000:app\n";

/// The applets of the host's static busybox, read once per test binary.
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("running /bin/busybox --list (install busybox-static)");
        assert!(out.status.success(), "/bin/busybox --list failed: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(String::from)
            .collect()
    })
}

/// Makes a busybox root file system at `dest` (the same tree as scripts/mkrootfs-busybox.sh).
pub fn build_rootfs(dest: &Path) {
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "mnt", "run", "var", "home/app"] {
        std::fs::create_dir_all(dest.join(d)).unwrap();
    }
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dest.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(dest.join("root"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(dest.join("home/app"), Some(1000), Some(1000)).unwrap();
    let bb = dest.join("bin/busybox");
    std::fs::copy("/bin/busybox", &bb).expect("copying /bin/busybox (install busybox-static)");
    std::fs::set_permissions(&bb, std::fs::Permissions::from_mode(0o755)).unwrap();
    for a in applets() {
        std::os::unix::fs::symlink("busybox", dest.join("bin").join(a)).unwrap();
    }
    std::fs::write(dest.join("etc/passwd"), PASSWD).unwrap();
    std::fs::write(dest.join("etc/group"), GROUP).unwrap();
    for f in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
        std::fs::write(dest.join(f), "").unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Per-test context and the leftover check

/// One test's world: its own rootfs, data root and scratch dir; checks for leftovers on drop.
pub struct Ctx {
    name: String,
    dir: Option<tempfile::TempDir>,
    /// Canonical path of the test's dir (rootfs, data root and scratch files are inside).
    pub base: PathBuf,
    /// The test's busybox root file system (writable: it is the test's own copy).
    pub rootfs: PathBuf,
    /// The data root passed as `--root`.
    pub data_root: PathBuf,
    cidfiles: Mutex<Vec<PathBuf>>,
    counter: Mutex<u32>,
}

impl Ctx {
    /// A context with a fresh busybox rootfs.
    pub fn new(name: &str) -> Ctx {
        let c = Ctx::bare(name);
        build_rootfs(&c.rootfs);
        c
    }

    /// A context whose `rootfs` path is not created (the test makes it itself).
    pub fn bare(name: &str) -> Ctx {
        assert!(nix::unistd::geteuid().is_root(), "the berth integration tests run as root (sudo scripts/test.sh)");
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-itest-{name}-"))
            .tempdir()
            .expect("creating the test's temp dir");
        let base = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data_root = base.join("data");
        std::fs::create_dir(&data_root).unwrap();
        Ctx {
            name: name.to_string(),
            rootfs: base.join("rootfs"),
            data_root,
            base,
            dir: Some(dir),
            cidfiles: Mutex::new(Vec::new()),
            counter: Mutex::new(0),
        }
    }

    /// A path in the test's scratch area (outside the rootfs).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    /// A fresh path for a cidfile (never existing: berth refuses an existing one).
    pub fn new_cidfile(&self) -> PathBuf {
        let mut n = self.counter.lock().unwrap();
        *n += 1;
        let p = self.base.join(format!("cid-{}", *n));
        self.cidfiles.lock().unwrap().push(p.clone());
        p
    }

    /// Registers a cidfile the test chose itself, so the leftover check covers its container.
    pub fn track_cidfile(&self, p: &Path) {
        self.cidfiles.lock().unwrap().push(p.to_path_buf());
    }

    /// The ids of every container the test started (from their cidfiles).
    pub fn ids(&self) -> Vec<String> {
        self.cidfiles.lock().unwrap().iter().filter_map(|p| read_id(p)).collect()
    }

    /// A `berth run` in this context: the test's data root, a fresh cidfile and its rootfs.
    pub fn run(&self) -> Run<'_> {
        Run {
            ctx: self,
            global: Vec::new(),
            opts: Vec::new(),
            cmd: Vec::new(),
            rootfs: Some(self.rootfs.clone().into_os_string()),
            cidfile: None,
            stdin: None,
            envs: Vec::new(),
            timeout: TIMEOUT,
            root_via_env: false,
            current_dir: None,
        }
    }

    /// Shorthand: `berth run [opts] sh -c SCRIPT` to completion.
    pub fn sh(&self, opts: &[&str], script: &str) -> Out {
        self.run().opts(opts).sh(script).output()
    }

    /// Whatever the test's containers left behind; empty when clean.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        for id in self.ids() {
            for dir in cgroup_dirs_of(&id) {
                found.push(format!("cgroup directory {} still exists", dir.display()));
            }
        }
        let base = self.base.to_string_lossy().into_owned();
        let (in_dir, is_dir) = (format!("{base}/"), format!("{base} "));
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            for line in mi.lines().filter(|l| l.contains(&in_dir) || l.contains(&is_dir)) {
                found.push(format!("host mount left: {line}"));
            }
        }
        if let Ok(md) = std::fs::metadata(&self.rootfs) {
            for (pid, what) in processes_rooted_in(&self.rootfs, (md.dev(), md.ino())) {
                found.push(format!("process {pid} still runs in the test's rootfs: {what}"));
            }
        }
        found
    }
}

fn read_id(p: &Path) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Every `/sys/fs/cgroup/<hierarchy>/berth/<id>` (and `/sys/fs/cgroup/berth/<id>` on a pure v2
/// host) that exists.
pub fn cgroup_dirs_of(id: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut cands = vec![root.join("berth").join(id)];
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            cands.push(e.path().join("berth").join(id));
        }
    }
    for c in cands {
        if c.is_dir() && !dirs.contains(&c) {
            dirs.push(c);
        }
    }
    dirs
}

/// Processes whose root directory is `rootfs` (same device and inode, as a bind mount of it in
/// another mount namespace is) or a path inside it.
fn processes_rooted_in(rootfs: &Path, id: (u64, u64)) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return found };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let root = e.path().join("root");
        let by_inode = std::fs::metadata(&root).map(|m| (m.dev(), m.ino()) == id).unwrap_or(false);
        let by_path = std::fs::read_link(&root).map(|p| p.starts_with(rootfs)).unwrap_or(false);
        if by_inode || by_path {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline: String = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, cmdline.trim().to_string()));
        }
    }
    found
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let deadline = Instant::now() + LEFTOVER_GRACE;
        let mut left = self.leftovers();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = self.leftovers();
        }
        let mounts_left = left.iter().any(|l| l.starts_with("host mount"));
        if mounts_left {
            // Never delete through a leaked mount (it could be a host directory).
            if let Some(d) = self.dir.take() {
                let _ = d.keep();
            }
        }
        if left.is_empty() {
            return;
        }
        let msg = format!(
            "leftover check failed for test {} (dir {}{}):\n  {}",
            self.name,
            self.base.display(),
            if mounts_left { ", kept because of leaked mounts" } else { "" },
            left.join("\n  ")
        );
        if std::thread::panicking() {
            eprintln!("{msg}");
        } else {
            panic!("{msg}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running berth

/// One `berth run` invocation being built.
pub struct Run<'a> {
    ctx: &'a Ctx,
    global: Vec<OsString>,
    opts: Vec<OsString>,
    cmd: Vec<OsString>,
    rootfs: Option<OsString>,
    cidfile: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    envs: Vec<(OsString, OsString)>,
    timeout: Duration,
    root_via_env: bool,
    current_dir: Option<PathBuf>,
}

impl<'a> Run<'a> {
    /// A global option (before `run`).
    pub fn global(mut self, a: impl AsRef<OsStr>) -> Self {
        self.global.push(a.as_ref().to_owned());
        self
    }
    /// One `run` option (after `run`, before the command).
    pub fn opt(mut self, a: impl AsRef<OsStr>) -> Self {
        self.opts.push(a.as_ref().to_owned());
        self
    }
    pub fn opts<S: AsRef<OsStr>>(mut self, a: impl IntoIterator<Item = S>) -> Self {
        self.opts.extend(a.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }
    /// The container command and its arguments.
    pub fn cmd<S: AsRef<OsStr>>(mut self, a: impl IntoIterator<Item = S>) -> Self {
        self.cmd.extend(a.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }
    /// `sh -c SCRIPT` as the container command.
    pub fn sh(self, script: &str) -> Self {
        self.cmd(["sh", "-c", script])
    }
    /// A different `--rootfs` argument.
    pub fn rootfs(mut self, p: impl AsRef<OsStr>) -> Self {
        self.rootfs = Some(p.as_ref().to_owned());
        self
    }
    /// Use this cidfile path instead of a fresh one.
    pub fn cidfile(mut self, p: &Path) -> Self {
        self.ctx.track_cidfile(p);
        self.cidfile = Some(p.to_path_buf());
        self
    }
    /// Bytes for berth's stdin (a pipe closed after them); without this stdin is /dev/null.
    pub fn stdin(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(b.into());
        self
    }
    /// An environment variable for the berth process.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Select the data root with `BERTH_ROOT` instead of `--root`.
    pub fn root_via_env(mut self) -> Self {
        self.root_via_env = true;
        self
    }
    /// berth's working directory.
    pub fn current_dir(mut self, d: &Path) -> Self {
        self.current_dir = Some(d.to_path_buf());
        self
    }

    /// The command line, the cidfile and the timeout, for callers that wire stdio themselves.
    pub fn into_command(self) -> (Command, PathBuf, Duration) {
        let cidfile = self.cidfile.clone().unwrap_or_else(|| self.ctx.new_cidfile());
        let mut c = Command::new(berth_bin());
        if !self.root_via_env {
            c.arg("--root").arg(&self.ctx.data_root);
        }
        c.args(&self.global);
        c.arg("run").arg("--cidfile").arg(&cidfile);
        if let Some(r) = &self.rootfs {
            c.arg("--rootfs").arg(r);
        }
        c.args(&self.opts).args(&self.cmd);
        for v in ["BERTH_ROOT", "BERTH_RUN_ROOT", "BERTH_CGROUP_ROOT"] {
            c.env_remove(v);
        }
        c.env(HOST_ONLY_VAR, "1");
        if self.root_via_env {
            c.env("BERTH_ROOT", &self.ctx.data_root);
        }
        if let Some(d) = &self.current_dir {
            c.current_dir(d);
        }
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        (c, cidfile, self.timeout)
    }

    /// Starts berth with piped stdout/stderr (and stdin when `stdin` was given, or `piped` is
    /// set) and returns at once.
    pub fn spawn_with_stdin_pipe(self, piped: bool) -> Running {
        let data = self.stdin.clone();
        let (mut c, cidfile, timeout) = self.into_command();
        let args = describe_args(&c);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if piped || data.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawning {}: {e}", berth_bin()));
        let stdout = Pipe::start(child.stdout.take().unwrap());
        let stderr = Pipe::start(child.stderr.take().unwrap());
        let mut stdin = child.stdin.take();
        if let Some(d) = data {
            let mut w = stdin.take().unwrap();
            // A thread, so a container that does not read cannot block the test.
            std::thread::spawn(move || {
                let _ = w.write_all(&d);
            });
        }
        Running { child: Some(child), stdout, stderr, stdin, cidfile, args, deadline: Instant::now() + timeout }
    }

    pub fn spawn(self) -> Running {
        self.spawn_with_stdin_pipe(false)
    }

    /// Runs berth to completion (or the timeout).
    pub fn output(self) -> Out {
        self.spawn().wait()
    }
}

fn describe_args(c: &Command) -> String {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A reader thread collecting one of berth's output pipes.
pub struct Pipe {
    state: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl Pipe {
    fn start(mut r: impl Read + Send + 'static) -> Arc<Pipe> {
        let p = Arc::new(Pipe { state: Mutex::new((Vec::new(), false)), cv: Condvar::new() });
        let q = p.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        q.state.lock().unwrap().0.extend_from_slice(&buf[..n]);
                        q.cv.notify_all();
                    }
                }
            }
            q.state.lock().unwrap().1 = true;
            q.cv.notify_all();
        });
        p
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.state.lock().unwrap().0).into_owned()
    }

    /// Waits until the text contains `needle` (true), EOF (false) or the deadline (false).
    fn wait_for(&self, needle: &str, deadline: Instant) -> bool {
        let mut st = self.state.lock().unwrap();
        loop {
            if String::from_utf8_lossy(&st.0).contains(needle) {
                return true;
            }
            let now = Instant::now();
            if st.1 || now >= deadline {
                return false;
            }
            st = self.cv.wait_timeout(st, deadline - now).unwrap().0;
        }
    }

    /// Waits for EOF until the deadline; true if reached.
    fn wait_eof(&self, deadline: Instant) -> bool {
        let mut st = self.state.lock().unwrap();
        while !st.1 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.cv.wait_timeout(st, deadline - now).unwrap().0;
        }
        true
    }
}

/// A berth process running in the background. Dropping it kills berth (by its pid) if it still
/// runs.
pub struct Running {
    child: Option<Child>,
    pub stdout: Arc<Pipe>,
    pub stderr: Arc<Pipe>,
    stdin: Option<ChildStdin>,
    cidfile: PathBuf,
    args: String,
    deadline: Instant,
}

impl Running {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.as_ref().unwrap().id() as i32)
    }

    /// Waits for `needle` on stdout; fails the test if berth ends or the timeout passes first.
    pub fn wait_stdout(&mut self, needle: &str) {
        if !self.stdout.wait_for(needle, self.deadline) {
            let status = self.child.as_mut().unwrap().try_wait().ok().flatten();
            panic!(
                "waiting for {needle:?} on stdout of `{}`: {}\nstatus: {status:?}\nstdout:\n{}\nstderr:\n{}",
                self.args,
                if Instant::now() >= self.deadline { "timed out" } else { "stdout closed" },
                self.stdout.text(),
                self.stderr.text()
            );
        }
    }

    /// The container id from the cidfile (written before the container starts).
    pub fn id(&self) -> String {
        read_id(&self.cidfile).unwrap_or_else(|| panic!("no container id in {}", self.cidfile.display()))
    }

    pub fn signal(&self, s: Signal) {
        kill(self.pid(), s).expect("signalling berth");
    }

    pub fn write_stdin(&mut self, b: &[u8]) {
        self.stdin.as_mut().expect("berth's stdin is not a pipe").write_all(b).expect("writing berth's stdin");
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes berth's stdin, waits for berth to exit (killing it at the deadline and failing),
    /// then collects its output.
    pub fn wait(mut self) -> Out {
        self.stdin = None;
        self.wait_keeping_stdin()
    }

    /// Like [`Running::wait`] but berth's stdin pipe stays open until it has exited.
    pub fn wait_keeping_stdin(mut self) -> Out {
        let mut child = self.child.take().unwrap();
        let status = loop {
            if let Some(st) = child.try_wait().expect("waiting for berth") {
                break st;
            }
            if Instant::now() >= self.deadline {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                panic!(
                    "`{}` timed out and was killed\nstdout:\n{}\nstderr:\n{}",
                    self.args,
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let grace = Instant::now() + PIPE_GRACE;
        let closed = self.stdout.wait_eof(grace) && self.stderr.wait_eof(grace);
        let out = Out::new(status, self.stdout.text(), self.stderr.text(), read_id(&self.cidfile), self.args.clone());
        assert!(
            closed,
            "berth exited but its stdout/stderr stayed open for {PIPE_GRACE:?}: a container process survived it\n{out}"
        );
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            }
            let _ = c.wait();
        }
    }
}

/// How a berth run ended.
pub struct Out {
    pub status: ExitStatus,
    /// berth's exit code (None if it was killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub id: Option<String>,
    pub args: String,
}

impl Out {
    pub fn new(status: ExitStatus, stdout: String, stderr: String, id: Option<String>, args: String) -> Out {
        Out { code: status.code(), status, stdout, stderr, id, args }
    }

    /// Asserts exit code 0 and returns self.
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code_is(0)
    }

    #[track_caller]
    pub fn code_is(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit of berth\n{self}");
        self
    }

    /// The container id (asserts the cidfile was written).
    #[track_caller]
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_else(|| panic!("berth wrote no cidfile\n{self}"))
    }

    /// stdout lines, trimmed of trailing whitespace.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().map(str::trim_end).collect()
    }

    /// The value of `key` in stdout holding `/proc/PID/status` (`CapEff:\t...`).
    #[track_caller]
    pub fn status_field(&self, key: &str) -> String {
        status_field(&self.stdout, key).unwrap_or_else(|| panic!("no {key}: line in the container's output\n{self}"))
    }

    /// Asserts berth's own error shape: stderr's first line starts with `berth: `, and stderr
    /// is short (one or two lines).
    #[track_caller]
    pub fn assert_berth_error(&self) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty() && lines[0].starts_with("berth: "), "stderr must start with 'berth: '\n{self}");
        assert!(lines.len() <= 2, "berth's error must be one (at most two) lines\n{self}");
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| {
            if s.len() <= 4000 {
                return s.to_string();
            }
            let mut end = 4000;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}\n…[{} more bytes]", &s[..end], s.len() - end)
        };
        write!(
            f,
            "command: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.status,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// `key:\tvalue` from `/proc/PID/status` text.
pub fn status_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
}

/// A field of this (the test's, host) process's status.
pub fn host_status_field(key: &str) -> String {
    status_field(&std::fs::read_to_string("/proc/self/status").unwrap(), key).unwrap()
}

/// The host's hard RLIMIT_NOFILE.
pub fn host_nofile_hard() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap().1
}

/// Entries of a container's `/proc/self/mountinfo` text: (mount point, mount options, fs type).
pub fn mounts(mountinfo: &str) -> Vec<(String, String, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((f.get(4)?.to_string(), f.get(5)?.to_string(), f.get(sep + 1)?.to_string()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Cleanup shared by the tests that start a real engine (dockerd, containerd, podman)

/// Lazily unmounts every mount below `dir` (deepest first): what an engine may leave there.
pub fn unmount_under(dir: &Path) {
    let d = dir.to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mps: Vec<&str> = info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&d)).collect();
    mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mps {
        let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `<hierarchy>/<name>` for every cgroup hierarchy where it does not exist yet: an engine's
/// cgroup parent that the test, by starting the engine, is about to create.
pub fn missing_cgroup_parents(name: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| rd.flatten().map(|e| e.path().join(name)).filter(|p| !p.exists()).collect())
        .unwrap_or_default()
}

/// Removes those parents again (and empty cgroups under them, such as podman's `conmon`).
pub fn remove_cgroup_parents(parents: &[PathBuf]) {
    for p in parents {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(p);
    }
}

/// Those of `dirs` that do not exist yet (host directories an engine creates wherever its
/// roots are, e.g. shim sockets under /run/containerd/s), to remove after the test.
pub fn missing_dirs(dirs: &[&str]) -> Vec<PathBuf> {
    dirs.iter().map(PathBuf::from).filter(|p| !p.exists()).collect()
}

/// Removes the directories `missing_dirs` returned, in order, where they are empty.
pub fn remove_empty_dirs(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
}
