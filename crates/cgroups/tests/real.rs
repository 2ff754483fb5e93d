//! Tests against the running kernel (need root; skipped otherwise). Each test works under its
//! own `berth-test-<pid>-<n>` directory and a Drop guard kills its children and removes every
//! directory it may have left, even when an assertion fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_cgroups::{Layout, LinuxResources, Manager};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

const ROOT: &str = "/sys/fs/cgroup";
static N: AtomicUsize = AtomicUsize::new(0);

fn unique_top() -> String {
    format!("berth-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())).trim().to_string()
}

/// The file system type mounted last at `mp`, from mountinfo (independent of statfs).
fn fstype_at(mp: &str) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (left.split(' ').nth(4)? == mp).then(|| right.split(' ').next().unwrap_or("").to_string())
    })
}

fn expected_layout() -> Layout {
    match fstype_at(ROOT).as_deref() {
        Some("cgroup2") => Layout::V2,
        Some("tmpfs") if fstype_at("/sys/fs/cgroup/unified").as_deref() == Some("cgroup2") => Layout::Hybrid,
        _ => Layout::V1,
    }
}

/// Kills the children, removes `<hierarchy>/<top>` trees bottom-up in every hierarchy under
/// `root`, and lazily unmounts `mount`.
struct Guard {
    root: PathBuf,
    top: String,
    children: Vec<i32>,
    mount: Option<PathBuf>,
}

impl Guard {
    fn new(root: &Path, top: &str) -> Guard {
        Guard { root: root.to_path_buf(), top: top.to_string(), children: Vec::new(), mount: None }
    }

    fn hierarchies(&self) -> Vec<PathBuf> {
        let mut v = vec![self.root.clone()];
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            v.extend(rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
        }
        v
    }

    /// Whether any hierarchy still has the test's directory.
    fn leftovers(&self) -> Vec<PathBuf> {
        self.hierarchies().into_iter().map(|h| h.join(&self.top)).filter(|p| p.exists()).collect()
    }

    /// Reaps a child the test already waited for.
    fn forget(&mut self, pid: i32) {
        self.children.retain(|c| *c != pid);
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => return,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for &c in &self.children {
            let _ = kill(Pid::from_raw(c), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(c), None);
        }
        for d in self.leftovers() {
            remove_tree(&d);
        }
        if let Some(m) = &self.mount {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A child that sleeps until killed.
fn fork_sleeper() -> i32 {
    // SAFETY: the child only calls pause(2) (async-signal-safe) and never returns.
    match unsafe { libc::fork() } {
        0 => loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        },
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        pid => pid,
    }
}

/// A child that waits for one byte on a pipe, then runs `then` (which must only make
/// async-signal-safe calls) and exits with its result. Returns (pid, write end).
fn fork_waiting(then: fn() -> i32) -> (i32, std::os::fd::OwnedFd) {
    let (r, w) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only makes async-signal-safe calls (read, the callback's syscalls, _exit).
    match unsafe { libc::fork() } {
        0 => {
            let mut b = [0u8; 1];
            // SAFETY: reading one byte into a live local buffer.
            unsafe { libc::read(std::os::fd::AsRawFd::as_raw_fd(&r), b.as_mut_ptr().cast(), 1) };
            let code = then();
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        pid => (pid, w),
    }
}

fn release(w: std::os::fd::OwnedFd) {
    nix::unistd::write(&w, b"g").unwrap();
}

fn wait(pid: i32) -> WaitStatus {
    waitpid(Pid::from_raw(pid), None).unwrap()
}

const DOCKER_DEVICES: &str = r#"[
    {"allow": false, "access": "rwm"},
    {"allow": true, "type": "c", "access": "m"},
    {"allow": true, "type": "b", "access": "m"},
    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": true, "type": "c", "major": 136, "access": "rwm"}
]"#;

#[test]
fn detect_matches_mountinfo() {
    assert_eq!(Layout::detect(Path::new(ROOT)).unwrap(), expected_layout());
    let t = tempfile::tempdir().unwrap();
    assert_eq!(Layout::detect(t.path()).unwrap(), Layout::V1, "a plain directory is not v2 or hybrid");
    assert!(Layout::detect(Path::new("/nonexistent-berth")).is_err());
}

#[test]
fn v1_or_hybrid_limits_placement_and_destroy() {
    need_root!();
    let layout = Layout::detect(Path::new(ROOT)).unwrap();
    if layout == Layout::V2 {
        eprintln!("skipped: pure v2 host (see v2_mounted_hierarchy)");
        return;
    }
    let root = Path::new(ROOT);
    let top = unique_top();
    let mut g = Guard::new(root, &top);
    let m = Manager::new(root, layout, &format!("{top}/c1"));
    let memsw = root.join("memory/memory.memsw.limit_in_bytes").exists();
    let swap = if memsw { r#", "swap": 134217728"# } else { "" };
    let json = format!(
        r#"{{"memory": {{"limit": 67108864{swap}}},
            "cpu": {{"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}},
            "pids": {{"limit": 64}},
            "blockIO": {{"weight": 500}},
            "devices": {DOCKER_DEVICES}}}"#
    );
    m.create(&res(&json)).unwrap();

    let child = fork_sleeper();
    g.children.push(child);
    m.add_pid(child).unwrap();
    assert_eq!(m.pids().unwrap(), vec![child]);
    let own = std::fs::read_to_string(format!("/proc/{child}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l.ends_with(&format!(":memory:/{top}/c1"))), "{own}");
    if layout == Layout::Hybrid {
        assert!(own.lines().any(|l| l == format!("0::/{top}/c1")), "child in the unified dir too: {own}");
        assert!(m.v2_dir().unwrap().is_none());
    }

    let p = |c: &str| m.path(c).unwrap_or_else(|| panic!("no {c} hierarchy"));
    assert_eq!(read(p("memory").join("memory.limit_in_bytes")), "67108864");
    if memsw {
        assert_eq!(read(p("memory").join("memory.memsw.limit_in_bytes")), "134217728");
    }
    assert_eq!(read(p("cpu").join("cpu.shares")), "512");
    assert_eq!(read(p("cpu").join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(p("cpu").join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(p("cpuset").join("cpuset.cpus")), "0");
    assert_eq!(read(p("cpuset").join("cpuset.mems")), "0");
    let cpuset_root = root.join("cpuset");
    assert_eq!(
        read(cpuset_root.join(&top).join("cpuset.cpus")),
        read(cpuset_root.join("cpuset.cpus")),
        "parent level copied from the root"
    );
    assert_eq!(read(p("pids").join("pids.max")), "64");
    let list = read(p("devices").join("devices.list"));
    for want in ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm"] {
        assert!(list.lines().any(|l| l == want), "{want} missing from {list}");
    }
    assert!(!list.contains("a *:* rwm"), "{list}");
    // Weight files are not shown in the root cgroup: look in the container's.
    let blk = p("blkio");
    if blk.join("blkio.weight").exists() {
        assert_eq!(read(p("blkio").join("blkio.weight")), "500");
    } else if blk.join("blkio.bfq.weight").exists() {
        assert_eq!(read(p("blkio").join("blkio.bfq.weight")), "500");
    } else {
        assert!(
            m.warnings().contains(&"blkio weight not supported by the kernel; ignored".to_string()),
            "{:?}",
            m.warnings()
        );
    }

    // An update through apply.
    m.apply(&res(r#"{"pids": {"limit": 32}, "cpu": {"quota": 20000}}"#)).unwrap();
    assert_eq!(read(p("pids").join("pids.max")), "32");
    assert_eq!(read(p("cpu").join("cpu.cfs_quota_us")), "20000");

    // A cgroup made inside the container's (as a container's own systemd would), holding a
    // process that is in no other berth cgroup: destroy kills it and removes the nested dir.
    let inner = p("pids").join("inner");
    std::fs::create_dir(&inner).unwrap();
    let nested = fork_sleeper();
    g.children.push(nested);
    std::fs::write(inner.join("cgroup.procs"), nested.to_string()).unwrap();
    assert_eq!(m.pids().unwrap(), {
        let mut v = vec![child, nested];
        v.sort();
        v
    });

    m.destroy().unwrap();
    assert_eq!(g.leftovers(), Vec::<PathBuf>::new());
    for pid in [child, nested] {
        assert_eq!(wait(pid), WaitStatus::Signaled(Pid::from_raw(pid), Signal::SIGKILL, false));
        g.forget(pid);
    }
    m.destroy().unwrap();
}

fn eat_64m() -> i32 {
    const SIZE: usize = 64 << 20;
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return 3;
    }
    let base = p.cast::<u8>();
    for off in (0..SIZE).step_by(4096) {
        // SAFETY: `off` < SIZE, inside the mapping just made.
        unsafe { std::ptr::write_volatile(base.add(off), 1) };
    }
    0
}

#[test]
fn v1_oom_kill_is_counted() {
    need_root!();
    let root = Path::new(ROOT);
    let layout = Layout::detect(root).unwrap();
    if layout == Layout::V2 || !root.join("memory/cgroup.procs").exists() {
        eprintln!("skipped: no v1 memory hierarchy");
        return;
    }
    let top = unique_top();
    let mut g = Guard::new(root, &top);
    let m = Manager::new(root, layout, &format!("{top}/oom"));
    let swap = if root.join("memory/memory.memsw.limit_in_bytes").exists() { r#", "swap": 16777216"# } else { "" };
    m.create(&res(&format!(r#"{{"memory": {{"limit": 16777216, "swappiness": 0{swap}}}}}"#))).unwrap();
    assert_eq!(m.oom_kill_count(), 0);
    let (child, go) = fork_waiting(eat_64m);
    g.children.push(child);
    m.add_pid(child).unwrap();
    release(go);
    assert_eq!(wait(child), WaitStatus::Signaled(Pid::from_raw(child), Signal::SIGKILL, false));
    g.forget(child);
    assert!(m.oom_kill_count() >= 1, "oom_kill = {}", m.oom_kill_count());
    m.destroy().unwrap();
    assert_eq!(g.leftovers(), Vec::<PathBuf>::new());
}

/// clone3(CLONE_INTO_CGROUP) into `cgroup_fd`; the child runs `then` and exits with its result.
fn clone3_into(cgroup_fd: i32, then: fn() -> i32) -> std::io::Result<i32> {
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_fd as u64,
        ..Default::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; with no stack given the child
    // continues on a copy of this stack like fork(2) and only makes async-signal-safe calls.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match rc {
        0 => {
            let code = then();
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        -1 => Err(std::io::Error::last_os_error()),
        pid => Ok(pid as i32),
    }
}

/// 0 when /dev/null is refused with EPERM and /dev/zero opens.
fn probe_devices() -> i32 {
    // SAFETY: open/close with NUL-terminated literals; errno read right after the failure.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        let null_eperm = null < 0 && *libc::__errno_location() == libc::EPERM;
        let zero = libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY);
        (if null_eperm { 0 } else { 10 }) + (if zero >= 0 { 0 } else { 20 })
    }
}

/// 0 when /dev/null opens.
fn open_null() -> i32 {
    // SAFETY: open with a NUL-terminated literal.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
    i32::from(fd < 0)
}

#[test]
fn v2_mounted_hierarchy() {
    need_root!();
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("cg2");
    std::fs::create_dir(&mnt).unwrap();
    nix::mount::mount(Some("none"), &mnt, Some("cgroup2"), nix::mount::MsFlags::empty(), None::<&str>)
        .expect("mount cgroup2");
    let top = unique_top();
    let mut g = Guard::new(&mnt, &top);
    g.mount = Some(mnt.clone());

    assert_eq!(Layout::detect(&mnt).unwrap(), Layout::V2);
    let has_hugetlb = read(mnt.join("cgroup.controllers")).split_whitespace().any(|c| c == "hugetlb");
    let huge = if has_hugetlb { r#""hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],"# } else { "" };
    let rel = format!("{top}/c1");
    let m = Manager::new(&mnt, Layout::V2, &rel);
    let deny_null =
        r#"[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]"#;
    m.create(&res(&format!(r#"{{{huge} "devices": {deny_null}}}"#))).unwrap();
    let dir = mnt.join(&rel);
    assert_eq!(m.path("").unwrap(), dir);
    if has_hugetlb {
        assert_eq!(read(dir.join("hugetlb.2MB.max")), "4194304");
        assert!(read(mnt.join(&top).join("cgroup.subtree_control")).contains("hugetlb"));
    }

    // clone3 straight into the cgroup through v2_dir(); the device program applies there.
    let fd = m.v2_dir().unwrap().expect("v2 dir on v2");
    let c1 = clone3_into(std::os::fd::AsRawFd::as_raw_fd(&fd), probe_devices).expect("clone3(CLONE_INTO_CGROUP)");
    g.children.push(c1);
    assert_eq!(
        wait(c1),
        WaitStatus::Exited(Pid::from_raw(c1), 0),
        "device eBPF program: /dev/null denied, /dev/zero allowed"
    );
    g.forget(c1);
    drop(fd);

    let sleeper = fork_sleeper();
    g.children.push(sleeper);
    m.add_pid(sleeper).unwrap();
    assert_eq!(m.pids().unwrap(), vec![sleeper]);
    let own = std::fs::read_to_string(format!("/proc/{sleeper}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l == format!("0::/{rel}")), "{own}");
    assert_eq!(m.oom_kill_count(), 0);

    // An update replaces the device program rather than stacking another one.
    m.apply(&res(r#"{"devices": [{"allow": true, "access": "rwm"}]}"#)).unwrap();
    let (c3, go) = fork_waiting(open_null);
    g.children.push(c3);
    m.add_pid(c3).unwrap();
    release(go);
    assert_eq!(wait(c3), WaitStatus::Exited(Pid::from_raw(c3), 0), "/dev/null allowed after the update");
    g.forget(c3);

    m.destroy().unwrap();
    assert_eq!(wait(sleeper), WaitStatus::Signaled(Pid::from_raw(sleeper), Signal::SIGKILL, false));
    g.forget(sleeper);
    assert_eq!(g.leftovers(), Vec::<PathBuf>::new());
}

#[test]
fn concurrent_create_and_destroy_share_the_parent() {
    need_root!();
    let root = Path::new(ROOT);
    let layout = Layout::detect(root).unwrap();
    let top = unique_top();
    let g = Guard::new(root, &top);
    std::thread::scope(|s| {
        for t in 0..4 {
            let top = &top;
            s.spawn(move || {
                for i in 0..40 {
                    let m = Manager::new(root, layout, &format!("{top}/c{t}-{i}"));
                    m.create(&LinuxResources::default()).unwrap();
                    m.destroy().unwrap();
                }
            });
        }
    });
    // Every container directory is gone. The shared parent may stay: only the manager that
    // made it removes it, and only if it is empty at that moment.
    for d in g.leftovers() {
        let subdirs: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        assert!(subdirs.is_empty(), "{subdirs:?}");
    }
}

/// A child that touches 4 MiB of fresh memory and burns a little CPU, then sleeps until killed.
/// (mmap, not malloc: the test process has threads, so the forked child must not allocate.)
fn spin_then_sleep() -> i32 {
    const LEN: usize = 4 << 20;
    // SAFETY: an anonymous private mapping; on success we write only inside its LEN bytes.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p != libc::MAP_FAILED {
            for off in (0..LEN).step_by(4096) {
                *(p as *mut u8).add(off) = 1;
            }
        }
    }
    let mut x: u64 = 0;
    for i in 0..20_000_000u64 {
        x = x.wrapping_add(i).rotate_left(3);
    }
    std::hint::black_box(x);
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

#[test]
fn stats_report_usage_and_limits() {
    need_root!();
    let root = Path::new(ROOT);
    let layout = Layout::detect(root).unwrap();
    let top = unique_top();
    let mut g = Guard::new(root, &top);
    let m = Manager::new(root, layout, &format!("{top}/c1"));
    m.create(&res(r#"{"memory": {"limit": 67108864}, "pids": {"limit": 20}}"#)).unwrap();
    let (pid, w) = fork_waiting(spin_then_sleep);
    g.children.push(pid);
    m.add_pid(pid).unwrap();
    release(w);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let s = loop {
        let s = m.stats();
        if s.cpu_total_ns > 1_000_000 || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(s.cpu_total_ns > 1_000_000, "cpu time not counted: {s:?}");
    assert!(s.memory_usage >= 4 << 20, "the child's 4 MiB not counted: {s:?}");
    assert_eq!(s.memory_limit, Some(67108864));
    assert_eq!((s.pids_current, s.pids_limit), (1, Some(20)));
    m.destroy().unwrap();
    g.forget(pid);
    let _ = waitpid(Pid::from_raw(pid), None);
    assert!(g.leftovers().is_empty());
}
