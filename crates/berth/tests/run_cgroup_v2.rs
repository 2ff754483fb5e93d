//! `berth run` on a pure cgroup v2 layout. On a hybrid or v1 host the test mounts a cgroup2
//! file system of its own and points berth at it (`BERTH_CGROUP_ROOT`), so the v2 start path
//! — `clone3(CLONE_INTO_CGROUP)`, the cgroup namespace entered at clone time, cgroup2 mounted
//! at the container's /sys/fs/cgroup, the cgroup removed afterwards — runs on every host.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A cgroup2 mount in a temp dir, unmounted (lazily) when dropped.
struct V2Mount {
    dir: PathBuf,
    ours: bool,
}

impl V2Mount {
    fn new(t: &Ctx) -> V2Mount {
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            return V2Mount { dir: PathBuf::from("/sys/fs/cgroup"), ours: false };
        }
        let dir = t.path("cg2");
        std::fs::create_dir_all(&dir).unwrap();
        nix::mount::mount(Some("cgroup2"), &dir, Some("cgroup2"), nix::mount::MsFlags::empty(), None::<&str>)
            .expect("mount cgroup2");
        V2Mount { dir, ours: true }
    }
}

impl Drop for V2Mount {
    fn drop(&mut self) {
        if self.ours {
            let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

#[test]
fn runs_on_a_pure_v2_layout_with_clone_into_cgroup() {
    let t = Ctx::new("cgroup-v2");
    let m = V2Mount::new(&t);
    let root = m.dir.to_string_lossy().into_owned();
    let mut r = t
        .run()
        .env("BERTH_CGROUP_ROOT", &root)
        .opts(["-i"])
        .sh("cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; echo ready; read x; echo bye")
        .spawn_with_stdin_pipe(true);
    r.wait_stdout("ready");
    let id = r.id();
    let dir = m.dir.join("berth").join(&id);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("container cgroup exists in the v2 tree");
    assert!(procs.lines().any(|l| !l.trim().is_empty()), "no process in {}", dir.display());
    r.write_stdin(b"go\n");
    let out = r.wait();
    out.success();
    // The cgroup namespace root is the container's own cgroup, entered at clone time.
    assert!(out.stdout.lines().any(|l| l == "0::/"), "{out}");
    assert!(out.stdout.contains(" - cgroup2 "), "/sys/fs/cgroup is not cgroup2 inside\n{out}");
    assert!(!dir.exists(), "{} left behind", dir.display());
    // The `berth` parent itself is shared with every other container in this hierarchy (on a
    // hybrid host the mount is the same tree as /sys/fs/cgroup/unified, which the tests running
    // alongside use), so whether it is gone depends on them; the other tests check it.
}
