//! Self-tests of the test support: the leftover check must really see a process in the rootfs,
//! a host mount under the test's dir and a container cgroup, or every other test's "clean"
//! verdict means nothing. Each test makes the leftover itself and removes it (killing only the
//! pid it started).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::*;

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn leftover_check_sees_a_process_rooted_in_the_rootfs() {
    let t = Ctx::new("harness-proc");
    let mut child = Command::new("chroot").arg(&t.rootfs).args(["/bin/sleep", "30"]).spawn().expect("chroot");
    let pid = child.id();
    wait_until("the chroot'ed sleep to show as a leftover", || {
        t.leftovers().iter().any(|l| l.contains(&format!("process {pid} ")))
    });
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    assert!(t.leftovers().is_empty(), "{:?}", t.leftovers());
}

#[test]
fn leftover_check_sees_a_host_mount_under_the_test_dir() {
    let t = Ctx::new("harness-mount");
    let target = t.rootfs.join("mnt");
    nix::mount::mount(Some(&t.rootfs.join("tmp")), &target, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .expect("bind mount");
    let seen = t.leftovers();
    nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).expect("umount");
    assert!(seen.iter().any(|l| l.starts_with("host mount left") && l.contains("/mnt")), "{seen:?}");
    assert!(t.leftovers().is_empty(), "{:?}", t.leftovers());
}

#[test]
fn leftover_check_sees_a_container_cgroup() {
    let t = Ctx::new("harness-cgroup");
    let id = "0000000000000000000000000000000000000000000000000000000000itest";
    let cid = t.path("fake.cid");
    std::fs::write(&cid, id).unwrap();
    t.track_cidfile(&cid);
    let hier = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/pids"
    };
    let dir = std::path::PathBuf::from(format!("{hier}/berth/{id}"));
    let made_parent = !dir.parent().unwrap().exists();
    std::fs::create_dir_all(&dir).unwrap();
    let seen = t.leftovers();
    std::fs::remove_dir(&dir).unwrap();
    if made_parent {
        let _ = std::fs::remove_dir(dir.parent().unwrap());
    }
    assert!(seen.iter().any(|l| l.starts_with("cgroup directory") && l.contains(id)), "{seen:?}");
    assert!(t.leftovers().is_empty(), "{:?}", t.leftovers());
}
