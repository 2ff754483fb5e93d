//! `berth run`: capabilities, seccomp, no-new-privileges, --privileged, --read-only, users and
//! groups.

mod common;

use common::*;

/// `cat /proc/self/status` in a container started with `opts`.
fn status(t: &Ctx, opts: &[&str]) -> Out {
    let out = t.run().opts(opts).cmd(["cat", "/proc/self/status"]).output();
    out.success();
    out
}

#[test]
fn default_capabilities_are_dockers_14() {
    let t = Ctx::new("caps-default");
    let out = status(&t, &[]);
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(out.status_field(k), DEFAULT_CAPS, "{k}\n{out}");
    }
    assert_eq!(out.status_field("CapAmb"), "0000000000000000", "{out}");
}

#[test]
fn default_seccomp_filter_is_on() {
    let t = Ctx::new("seccomp-default");
    let out = status(&t, &[]);
    assert_eq!(out.status_field("Seccomp"), "2", "{out}");
}

#[test]
fn no_new_privileges_is_off_by_default() {
    let t = Ctx::new("nnp-default");
    let out = status(&t, &[]);
    assert_eq!(out.status_field("NoNewPrivs"), "0", "{out}");
}

#[test]
fn no_new_privileges_option_sets_it() {
    let t = Ctx::new("nnp");
    let out = status(&t, &["--security-opt", "no-new-privileges"]);
    assert_eq!(out.status_field("NoNewPrivs"), "1", "{out}");
    // Docker's other spelling.
    let out = status(&t, &["--security-opt", "no-new-privileges:true"]);
    assert_eq!(out.status_field("NoNewPrivs"), "1", "{out}");
}

#[test]
fn cap_drop_all_leaves_no_capabilities() {
    let t = Ctx::new("cap-drop-all");
    let out = status(&t, &["--cap-drop", "ALL"]);
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(out.status_field(k), "0000000000000000", "{k}\n{out}");
    }
}

#[test]
fn cap_drop_all_then_add_net_admin() {
    let t = Ctx::new("cap-drop-all-add");
    let out = status(&t, &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"]);
    assert_eq!(out.status_field("CapEff"), "0000000000001000", "{out}");
}

#[test]
fn cap_add_net_admin_extends_the_default() {
    let t = Ctx::new("cap-add");
    let out = status(&t, &["--cap-add", "NET_ADMIN"]);
    assert_eq!(out.status_field("CapEff"), "00000000a80435fb", "{out}");
    // Docker also takes the CAP_ prefix and any case.
    let out = status(&t, &["--cap-add", "cap_net_admin"]);
    assert_eq!(out.status_field("CapEff"), "00000000a80435fb", "{out}");
}

#[test]
fn cap_drop_removes_one_capability() {
    let t = Ctx::new("cap-drop-one");
    // CHOWN is bit 0.
    let out = status(&t, &["--cap-drop", "CHOWN"]);
    assert_eq!(out.status_field("CapEff"), "00000000a80425fa", "{out}");
}

#[test]
fn privileged_has_every_host_capability_and_no_seccomp() {
    let t = Ctx::new("privileged");
    let out = status(&t, &["--privileged"]);
    let host_bnd = host_status_field("CapBnd");
    assert_eq!(out.status_field("CapEff"), host_bnd, "{out}");
    assert_eq!(out.status_field("CapBnd"), host_bnd, "{out}");
    assert_eq!(out.status_field("Seccomp"), "0", "{out}");
}

#[test]
fn custom_seccomp_profile_denies_mkdir_only() {
    let t = Ctx::new("seccomp-profile");
    let profile = t.path("profile.json");
    std::fs::write(
        &profile,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }
  ]
}
"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = t.sh(
        &["--security-opt", &opt],
        "mkdir /tmp/x; echo rc=$?; echo alive; ls -d /tmp; grep Seccomp: /proc/self/status",
    );
    out.success();
    assert!(out.stderr.contains("Operation not permitted"), "mkdir did not fail with EPERM\n{out}");
    assert_eq!(out.lines(), ["rc=1", "alive", "/tmp", "Seccomp:\t2"], "{out}");
    assert!(!t.rootfs.join("tmp/x").exists(), "mkdir succeeded");
}

#[test]
fn seccomp_unconfined_disables_the_filter() {
    let t = Ctx::new("seccomp-unconfined");
    let out = status(&t, &["--security-opt", "seccomp=unconfined"]);
    assert_eq!(out.status_field("Seccomp"), "0", "{out}");
}

#[test]
fn read_only_refuses_writes_to_the_rootfs() {
    let t = Ctx::new("read-only");
    let out = t.sh(&["--read-only"], "touch /x; echo rc=$?");
    out.success();
    assert!(out.stdout.contains("rc=") && !out.stdout.contains("rc=0"), "touch /x succeeded\n{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    assert!(!t.rootfs.join("x").exists());
}

#[test]
fn read_only_with_tmpfs_allows_writes_to_tmp() {
    let t = Ctx::new("read-only-tmpfs");
    let out = t.sh(&["--read-only", "--tmpfs", "/tmp"], "touch /tmp/x && echo ok; grep ' /tmp ' /proc/self/mountinfo");
    out.success();
    let lines = out.lines();
    assert_eq!(lines.first(), Some(&"ok"), "{out}");
    assert!(lines.get(1).is_some_and(|l| l.contains(" - tmpfs ")), "/tmp is not a tmpfs\n{out}");
    assert!(!t.rootfs.join("tmp/x").exists(), "the write went to the rootfs, not the tmpfs");
}

#[test]
fn user_uid_gid_runs_unprivileged() {
    let t = Ctx::new("user-uid");
    let out = t.sh(&["-u", "1000:1000"], "id -u; id -g; grep -E '^Cap(Eff|Prm):' /proc/self/status");
    out.success();
    assert_eq!(out.lines(), ["1000", "1000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000"], "{out}");
}

#[test]
fn user_name_resolves_from_etc_passwd_and_group() {
    let t = Ctx::new("user-name");
    let out = status(&t, &["--user", "app"]);
    assert!(out.status_field("Uid").split_whitespace().all(|u| u == "1000"), "{out}");
    assert!(out.status_field("Gid").split_whitespace().all(|g| g == "1000"), "{out}");
    let groups = out.status_field("Groups");
    assert!(groups.split_whitespace().any(|g| g == "2000"), "app's group extra (2000) missing: {groups:?}\n{out}");
    assert_eq!(out.status_field("CapEff"), "0000000000000000", "{out}");
}

#[test]
fn group_add_adds_a_supplementary_group() {
    let t = Ctx::new("group-add");
    let out = status(&t, &["-u", "1000:1000", "--group-add", "3000"]);
    let groups = out.status_field("Groups");
    assert!(groups.split_whitespace().any(|g| g == "3000"), "3000 missing from {groups:?}\n{out}");
}

#[test]
fn group_add_accepts_a_group_name() {
    let t = Ctx::new("group-add-name");
    let out = status(&t, &["-u", "1000:1000", "--group-add", "extra"]);
    let groups = out.status_field("Groups");
    assert!(groups.split_whitespace().any(|g| g == "2000"), "extra (2000) missing from {groups:?}\n{out}");
}

#[test]
fn privileged_lifts_masked_and_read_only_paths() {
    let t = Ctx::new("privileged-paths");
    // kernel.domainname belongs to the container's own UTS namespace: writing it is harmless.
    let out = t.sh(
        &["--privileged"],
        "echo timer_list=$(head -c 64 /proc/timer_list | wc -c); \
         echo priv.example > /proc/sys/kernel/domainname && echo domainname=$(cat /proc/sys/kernel/domainname); \
         grep ' /sys ' /proc/self/mountinfo",
    );
    out.success();
    let lines = out.lines();
    assert!(lines.contains(&"timer_list=64"), "/proc/timer_list is still masked\n{out}");
    assert!(lines.contains(&"domainname=priv.example"), "/proc/sys is still read-only\n{out}");
    let sys = mounts(&out.stdout).into_iter().rev().find(|m| m.0 == "/sys").unwrap_or_else(|| panic!("no /sys\n{out}"));
    assert!(sys.1.split(',').any(|o| o == "rw"), "/sys is {} under --privileged\n{out}", sys.1);
}

#[test]
fn read_only_keeps_dev_shm_writable() {
    let t = Ctx::new("read-only-dev");
    let out = t.sh(&["--read-only"], "echo x > /dev/shm/f && echo shm-ok; echo x > /dev/null && echo null-ok");
    out.success();
    assert_eq!(out.lines(), ["shm-ok", "null-ok"], "{out}");
}

#[test]
fn user_uid_only_takes_gid_and_groups_from_passwd() {
    let t = Ctx::new("user-uid-only");
    let out = status(&t, &["-u", "1000"]);
    assert!(out.status_field("Uid").split_whitespace().all(|u| u == "1000"), "{out}");
    assert!(out.status_field("Gid").split_whitespace().all(|g| g == "1000"), "{out}");
    assert!(out.status_field("Groups").split_whitespace().any(|g| g == "2000"), "{out}");
}

#[test]
fn user_uid_without_passwd_entry_runs_with_gid_0() {
    let t = Ctx::new("user-unknown-uid");
    let out = status(&t, &["-u", "4242"]);
    assert!(out.status_field("Uid").split_whitespace().all(|u| u == "4242"), "{out}");
    assert!(out.status_field("Gid").split_whitespace().all(|g| g == "0"), "{out}");
}

#[test]
fn user_and_group_names_resolve() {
    let t = Ctx::new("user-group-names");
    let out = status(&t, &["-u", "app:extra"]);
    assert!(out.status_field("Uid").split_whitespace().all(|u| u == "1000"), "{out}");
    assert!(out.status_field("Gid").split_whitespace().all(|g| g == "2000"), "{out}");
}

#[test]
fn cap_add_all_gives_every_host_capability() {
    let t = Ctx::new("cap-add-all");
    let out = status(&t, &["--cap-add", "ALL"]);
    assert_eq!(out.status_field("CapEff"), host_status_field("CapBnd"), "{out}");
}

#[test]
fn non_root_user_keeps_the_default_bounding_set() {
    let t = Ctx::new("user-capbnd");
    let out = status(&t, &["-u", "1000:1000"]);
    assert_eq!(out.status_field("CapBnd"), DEFAULT_CAPS, "{out}");
    assert_eq!(out.status_field("CapEff"), "0000000000000000", "{out}");
}

#[test]
fn privileged_sees_the_hosts_devices() {
    let t = Ctx::new("privileged-dev");
    let out = t.sh(&["--privileged"], "ls /dev");
    out.success();
    // Docker's --privileged gives every host device; /dev/kmsg exists on any Linux host.
    assert!(std::path::Path::new("/dev/kmsg").exists());
    assert!(out.lines().contains(&"kmsg"), "host devices missing under --privileged\n{out}");
}
