//! `berth run` on bad input: Docker's exit codes (125 berth's own error, 126 cannot invoke, 127
//! not found) and one short `berth: ` line on stderr naming the problem.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn missing_rootfs_is_125_and_names_the_path() {
    let t = Ctx::new("err-rootfs");
    let missing = t.path("no-such-rootfs");
    let out = t.run().rootfs(&missing).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains(&missing.display().to_string()), "stderr does not name {}\n{out}", missing.display());
}

#[test]
fn unknown_option_is_125() {
    let t = Ctx::new("err-option");
    let out = t.run().opt("--bogus").cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains("--bogus"), "{out}");
}

#[test]
fn unparsable_seccomp_profile_is_125_and_names_the_file() {
    let t = Ctx::new("err-profile");
    let profile = t.path("broken.json");
    std::fs::write(&profile, "{ \"defaultAction\": \"SCMP_ACT_ALLOW\", ").unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = t.run().opts(["--security-opt", &opt]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains(&profile.display().to_string()), "stderr does not name the profile\n{out}");
}

#[test]
fn missing_seccomp_profile_is_125_and_names_the_file() {
    let t = Ctx::new("err-profile-missing");
    let profile = t.path("absent.json");
    let opt = format!("seccomp={}", profile.display());
    let out = t.run().opts(["--security-opt", &opt]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains(&profile.display().to_string()), "stderr does not name the profile\n{out}");
}

#[test]
fn bad_memory_limit_is_125_and_names_the_value() {
    let t = Ctx::new("err-memory");
    let out = t.run().opts(["--memory", "12qb"]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains("12qb"), "{out}");
}

#[test]
fn unknown_capability_is_125() {
    let t = Ctx::new("err-cap");
    let out = t.run().opts(["--cap-add", "NO_SUCH_CAP"]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains("NO_SUCH_CAP"), "{out}");
}

#[test]
fn missing_command_is_125() {
    let t = Ctx::new("err-no-cmd");
    let out = t.run().output();
    out.code_is(125).assert_berth_error();
}

#[test]
fn existing_cidfile_is_125_and_left_alone() {
    let t = Ctx::new("err-cidfile");
    let cid = t.path("existing.cid");
    std::fs::write(&cid, "keep me").unwrap();
    let out = t.run().cidfile(&cid).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), "keep me");
}

#[test]
fn command_not_found_is_127() {
    let t = Ctx::new("err-127");
    let out = t.run().cmd(["nosuchcmd", "arg"]).output();
    out.code_is(127).assert_berth_error();
    assert!(out.stderr.contains("nosuchcmd"), "{out}");
}

#[test]
fn command_not_executable_is_126() {
    let t = Ctx::new("err-126");
    let f = t.rootfs.join("notexec");
    std::fs::write(&f, "#!/bin/sh\necho should-not-run\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = t.run().cmd(["/notexec"]).output();
    out.code_is(126).assert_berth_error();
    assert!(out.stderr.contains("notexec"), "{out}");
    assert!(!out.stdout.contains("should-not-run"), "{out}");
}

#[test]
fn memory_swap_below_memory_is_125() {
    let t = Ctx::new("err-swap");
    let out = t.run().opts(["--memory", "64m", "--memory-swap", "32m"]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
}

#[test]
fn cpus_with_cpu_quota_is_125() {
    let t = Ctx::new("err-cpus-quota");
    // Docker: "Conflicting options: Nano CPUs and CPU Quota cannot both be set".
    let out = t.run().opts(["--cpus", "0.5", "--cpu-quota", "20000"]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
}

#[test]
fn unavailable_cpuset_is_125() {
    let t = Ctx::new("err-cpuset");
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let bad = format!("{}", cpus + 7);
    let out = t.run().opts(["--cpuset-cpus", &bad]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
}

#[test]
fn throttling_a_missing_device_is_125() {
    let t = Ctx::new("err-bps-dev");
    let out = t.run().opts(["--device-read-bps", "/dev/no-such-disk:1mb"]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains("/dev/no-such-disk"), "{out}");
}

#[test]
fn host_wide_sysctl_is_refused_and_the_host_untouched() {
    let t = Ctx::new("err-sysctl");
    let path = "/proc/sys/vm/swappiness";
    let before = std::fs::read_to_string(path).unwrap();
    let want: u32 = if before.trim() == "61" { 62 } else { 61 };
    let out = t.run().opts(["--sysctl", &format!("vm.swappiness={want}")]).cmd(["true"]).output();
    let after = std::fs::read_to_string(path).unwrap();
    if after != before {
        std::fs::write(path, &before).unwrap();
    }
    assert_eq!(after, before, "berth changed the host's vm.swappiness (restored)\n{out}");
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains("vm.swappiness"), "{out}");
}

#[test]
fn missing_env_file_is_125_and_names_it() {
    let t = Ctx::new("err-env-file");
    let f = t.path("absent.env");
    let out = t.run().opt("--env-file").opt(&f).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains(&f.display().to_string()), "{out}");
}

#[test]
fn rootfs_that_is_a_file_is_125() {
    let t = Ctx::new("err-rootfs-file");
    let f = t.path("not-a-dir");
    std::fs::write(&f, "").unwrap();
    let out = t.run().rootfs(&f).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains(&f.display().to_string()), "{out}");
}

#[test]
fn unknown_user_is_125() {
    let t = Ctx::new("err-user");
    let out = t.run().opts(["-u", "nosuchuser"]).cmd(["true"]).output();
    out.code_is(125).assert_berth_error();
    assert!(out.stderr.contains("nosuchuser"), "{out}");
}

#[test]
fn missing_absolute_command_is_127() {
    let t = Ctx::new("err-127-abs");
    let out = t.run().cmd(["/no/such/binary"]).output();
    out.code_is(127).assert_berth_error();
    assert!(out.stderr.contains("/no/such/binary"), "{out}");
}

#[test]
fn directory_as_command_is_126() {
    let t = Ctx::new("err-126-dir");
    let out = t.run().cmd(["/bin"]).output();
    out.code_is(126).assert_berth_error();
}
