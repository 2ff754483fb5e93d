//! `berth run`: the container process: exit codes, signals, stdin/stdout/stderr, environment,
//! working directory and volumes.

mod common;

use nix::sys::signal::Signal;

use common::*;

#[test]
fn exit_code_is_the_containers() {
    let t = Ctx::new("exit-42");
    t.sh(&[], "exit 42").code_is(42);
    t.run().cmd(["true"]).output().success();
    t.run().cmd(["false"]).output().code_is(1);
}

#[test]
fn child_killed_by_sigkill_reports_137() {
    let t = Ctx::new("kill-child");
    let out = t.sh(&[], "sleep 100 & kill -9 $!; wait $!; exit $?");
    out.code_is(137);
}

#[test]
fn sigterm_to_berth_reaches_the_container() {
    let t = Ctx::new("sigterm");
    // Bounded: the loop gives up after ~30 s if the signal never comes.
    let mut r = t
        .run()
        .sh("trap 'echo got-term; exit 7' TERM; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99")
        .spawn();
    r.wait_stdout("ready");
    r.signal(Signal::SIGTERM);
    let out = r.wait();
    out.code_is(7);
    assert_eq!(out.lines(), ["ready", "got-term"], "{out}");
}

#[test]
fn interactive_passes_stdin_through() {
    let t = Ctx::new("stdin-i");
    let out = t.run().opt("-i").cmd(["cat"]).stdin("hello\nworld\n").output();
    out.success();
    assert_eq!(out.stdout, "hello\nworld\n", "{out}");
}

#[test]
fn interactive_passes_a_megabyte_of_stdin_intact() {
    let t = Ctx::new("stdin-big");
    let data: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let out = t.run().opt("--interactive").sh("wc -c; echo end").stdin(data).output();
    out.success();
    assert_eq!(out.lines(), ["1048576", "end"], "{out}");
}

#[test]
fn without_interactive_stdin_is_empty() {
    let t = Ctx::new("stdin-none");
    // berth's own stdin has data; the container must not see it (Docker: /dev/null).
    let out = t.run().sh("cat; echo eof").stdin("secret\n").output();
    out.success();
    assert_eq!(out.stdout, "eof\n", "{out}");
}

#[test]
fn stdout_and_stderr_stay_apart() {
    let t = Ctx::new("stdio");
    let out = t.sh(&[], "echo out; echo err >&2; echo out2");
    out.success();
    assert_eq!(out.stdout, "out\nout2\n", "{out}");
    assert_eq!(out.stderr, "err\n", "{out}");
}

#[test]
fn env_flag_sets_variables() {
    let t = Ctx::new("env");
    let out = t.sh(
        &["-e", "A=1", "--env", "B=two words", "-e", "PATH=/bin"],
        "echo \"A=$A\"; echo \"B=$B\"; echo \"PATH=$PATH\"",
    );
    out.success();
    assert_eq!(out.lines(), ["A=1", "B=two words", "PATH=/bin"], "{out}");
}

#[test]
fn env_without_value_takes_berths_own() {
    let t = Ctx::new("env-pass");
    let out = t
        .run()
        .env("ITEST_FROM_HOST", "passed")
        .opts(["-e", "ITEST_FROM_HOST"])
        .sh("echo \"v=$ITEST_FROM_HOST\"")
        .output();
    out.success();
    assert_eq!(out.lines(), ["v=passed"], "{out}");
}

#[test]
fn env_file_sets_variables() {
    let t = Ctx::new("env-file");
    let f = t.path("vars.env");
    std::fs::write(&f, "# a comment\nC=3\n\nD=with spaces\n").unwrap();
    let out = t.run().opt("--env-file").opt(&f).sh("echo \"C=$C\"; echo \"D=$D\"").output();
    out.success();
    assert_eq!(out.lines(), ["C=3", "D=with spaces"], "{out}");
}

#[test]
fn workdir_is_created_and_used() {
    let t = Ctx::new("workdir");
    let out = t.sh(&["-w", "/work"], "pwd; test -d /work && echo is-dir");
    out.success();
    assert_eq!(out.lines(), ["/work", "is-dir"], "{out}");
    let out = t.sh(&["--workdir", "/tmp"], "pwd");
    out.success();
    assert_eq!(out.lines(), ["/tmp"], "{out}");
}

#[test]
fn volume_shows_host_files_and_takes_writes() {
    let t = Ctx::new("volume");
    let host = t.path("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("hello.txt"), "from the host\n").unwrap();
    let v = format!("{}:/data", host.display());
    let out = t.sh(&["-v", &v], "cat /data/hello.txt; echo from-container > /data/out.txt && echo wrote");
    out.success();
    assert_eq!(out.lines(), ["from the host", "wrote"], "{out}");
    assert_eq!(std::fs::read_to_string(host.join("out.txt")).unwrap(), "from-container\n");
}

#[test]
fn read_only_volume_refuses_writes() {
    let t = Ctx::new("volume-ro");
    let host = t.path("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("hello.txt"), "from the host\n").unwrap();
    let v = format!("{}:/data:ro", host.display());
    let out = t.sh(&["--volume", &v], "cat /data/hello.txt; touch /data/new; echo rc=$?");
    out.success();
    assert_eq!(out.lines().first(), Some(&"from the host"), "{out}");
    assert!(out.stdout.contains("rc=") && !out.stdout.contains("rc=0"), "write to a :ro volume succeeded\n{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    assert!(!host.join("new").exists());
}

#[test]
fn interactive_run_ends_when_the_container_does_not_read_stdin() {
    let t = Ctx::new("stdin-open");
    // berth's stdin stays open (the test never closes it): berth must still end with the
    // container.
    let r = t.run().opt("-i").sh("echo done").spawn_with_stdin_pipe(true);
    let out = r.wait_keeping_stdin();
    out.success();
    assert_eq!(out.stdout, "done\n", "{out}");
}

#[test]
fn large_output_passes_through_intact() {
    let t = Ctx::new("stdout-big");
    let out = t.sh(&[], "dd if=/dev/zero bs=4096 count=512 2>/dev/null; echo end >&2");
    out.success();
    assert_eq!(out.stdout.len(), 2 * 1024 * 1024, "stdout was {} bytes; stderr: {}", out.stdout.len(), out.stderr);
    assert_eq!(out.stderr, "end\n");
}

#[test]
fn two_containers_run_at_once() {
    let t = Ctx::new("two-at-once");
    let mut a = t.run().opt("-i").sh("echo ready-a; read x; echo bye-a").spawn_with_stdin_pipe(true);
    let mut b = t.run().opt("-i").sh("echo ready-b; read x; echo bye-b").spawn_with_stdin_pipe(true);
    a.wait_stdout("ready-a");
    b.wait_stdout("ready-b");
    let (ia, ib) = (a.id(), b.id());
    assert_ne!(ia, ib);
    a.write_stdin(b"\n");
    b.write_stdin(b"\n");
    let (oa, ob) = (a.wait(), b.wait());
    oa.success();
    ob.success();
    assert_eq!(oa.lines(), ["ready-a", "bye-a"], "{oa}");
    assert_eq!(ob.lines(), ["ready-b", "bye-b"], "{ob}");
}

#[test]
fn volume_creates_a_missing_host_dir_and_mount_point() {
    let t = Ctx::new("volume-create");
    let host = t.path("created/by/berth");
    let v = format!("{}:/deep/mount/point", host.display());
    let out = t.sh(&["-v", &v], "echo hi > /deep/mount/point/f && echo wrote");
    out.success();
    assert_eq!(out.lines(), ["wrote"], "{out}");
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "hi\n");
}

#[test]
fn home_comes_from_etc_passwd() {
    let t = Ctx::new("home");
    let out = t.sh(&[], "echo \"HOME=$HOME\"");
    out.success();
    assert_eq!(out.lines(), ["HOME=/root"], "{out}");
    let out = t.sh(&["-u", "app"], "echo \"HOME=$HOME\"");
    out.success();
    assert_eq!(out.lines(), ["HOME=/home/app"], "{out}");
}

#[test]
fn sigint_to_berth_reaches_the_container() {
    let t = Ctx::new("sigint");
    let mut r = t
        .run()
        .sh("trap 'echo got-int; exit 3' INT; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99")
        .spawn();
    r.wait_stdout("ready");
    r.signal(Signal::SIGINT);
    let out = r.wait();
    out.code_is(3);
    assert_eq!(out.lines(), ["ready", "got-int"], "{out}");
}

#[test]
fn debug_prints_to_stderr_only() {
    let t = Ctx::new("debug");
    let out = t.run().global("--debug").cmd(["echo", "hi"]).output();
    out.success();
    assert_eq!(out.stdout, "hi\n", "{out}");
    assert!(out.stderr.lines().any(|l| l.starts_with("berth: ")), "--debug printed nothing\n{out}");
}

#[test]
fn berth_root_env_selects_the_data_root() {
    let t = Ctx::new("berth-root-env");
    let mut r = t.run().root_via_env().opt("-i").sh("echo ready; read x").spawn_with_stdin_pipe(true);
    r.wait_stdout("ready");
    let id = r.id();
    fn mentions(dir: &std::path::Path, id: &str) -> bool {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten().any(|e| {
                    e.file_name().to_string_lossy().contains(id) || (e.path().is_dir() && mentions(&e.path(), id))
                })
            })
            .unwrap_or(false)
    }
    let in_data_root = mentions(&t.data_root, &id);
    let in_default = std::path::Path::new("/run/berth/containers").join(&id).exists()
        || std::path::Path::new("/var/lib/berth/containers").join(&id).exists();
    r.write_stdin(b"\n");
    let out = r.wait();
    out.success();
    assert!(in_data_root, "nothing of container {id} under BERTH_ROOT={}\n{out}", t.data_root.display());
    assert!(!in_default, "container {id} kept its state in the default root despite BERTH_ROOT\n{out}");
}

#[test]
fn relative_rootfs_path_works() {
    let t = Ctx::new("rootfs-relative");
    let out = t.run().current_dir(&t.base).rootfs("rootfs").cmd(["echo", "ok"]).output();
    out.success();
    assert_eq!(out.stdout, "ok\n", "{out}");
}

#[test]
fn volume_binds_a_single_file() {
    let t = Ctx::new("volume-file");
    let f = t.path("app.conf");
    std::fs::write(&f, "setting=1\n").unwrap();
    let v = format!("{}:/etc/app.conf:ro", f.display());
    let out = t.sh(&["-v", &v], "cat /etc/app.conf; echo x >> /etc/app.conf; echo rc=$?");
    out.success();
    assert_eq!(out.lines().first(), Some(&"setting=1"), "{out}");
    assert!(out.stdout.contains("rc=") && !out.stdout.contains("rc=0"), "{out}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "setting=1\n");
}

#[test]
fn background_children_end_with_pid_1() {
    let t = Ctx::new("orphans");
    // The sleep holds stdout open: berth's pipes only close if it dies with PID 1 (the
    // runner fails the test if they stay open after berth exits).
    let out = t.sh(&[], "sleep 20 & echo started");
    out.success();
    assert_eq!(out.lines(), ["started"], "{out}");
}

#[test]
fn command_is_looked_up_in_the_containers_path() {
    let t = Ctx::new("path-lookup");
    std::fs::create_dir(t.rootfs.join("custom")).unwrap();
    let tool = t.rootfs.join("custom/mytool");
    std::fs::write(&tool, "#!/bin/sh\necho custom-tool \"$@\"\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = t.run().opts(["-e", "PATH=/custom:/bin"]).cmd(["mytool", "x"]).output();
    out.success();
    assert_eq!(out.stdout, "custom-tool x\n", "{out}");
    // Not in the default PATH.
    t.run().cmd(["mytool"]).output().code_is(127);
}

#[test]
fn containers_started_concurrently_all_run() {
    let t = Ctx::new("concurrent");
    // Three streams of back-to-back runs: starts overlap exits and race on berth's shared
    // parent cgroups (made by a first container, removed by a last one). Every run must work.
    // The mix: a plain run, a command that is not found (127, the quickest create and
    // destroy), and a cpuset run.
    const RUNS: usize = 40;
    std::thread::scope(|s| {
        for stream in 0..3 {
            let t = &t;
            s.spawn(move || {
                for k in 0..RUNS {
                    let (opts, cmd, want): (&[&str], &str, i32) = match (k + stream) % 3 {
                        0 => (&[], "true", 0),
                        1 => (&[], "nosuchcmd", 127),
                        _ => (&["--cpuset-cpus", "0"], "true", 0),
                    };
                    let out = t.run().opts(opts).cmd([cmd]).output();
                    assert_eq!(out.code, Some(want), "stream {stream}, run {k}: a concurrent run failed\n{out}");
                }
            });
        }
    });
}
