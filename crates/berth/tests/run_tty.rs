//! `berth run -i -t`: berth runs on a pty the test owns (its controlling terminal, with a window
//! size set), like a user's terminal.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::pty::{openpty, Winsize};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::*;

const ROWS: u16 = 37;
const COLS: u16 = 111;

/// Kills berth (by its pid) if the test gives up on it early, e.g. by panicking.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// What to do to the terminal (its master side) once a text shows up in the output.
type Action<'a> = Option<(&'a str, Box<dyn FnOnce(&mut std::fs::File)>)>;

/// Writes `bytes` to the terminal, as a user typing.
fn type_in<'a>(needle: &'a str, bytes: &'static [u8]) -> Action<'a> {
    Some((needle, Box::new(move |m: &mut std::fs::File| m.write_all(bytes).expect("writing to the pty"))))
}

/// Runs `run` with a new pty as berth's controlling terminal and stdio, `on` done once its text
/// shows up in the output. Returns berth's exit code and the output with `\r` removed.
fn run_on_pty(run: Run<'_>, on: Action<'_>) -> (Option<i32>, String) {
    let ws = Winsize { ws_row: ROWS, ws_col: COLS, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = openpty(Some(&ws), None).expect("openpty");
    let (mut cmd, _cidfile, timeout) = run.into_command();
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut guard = KillOnDrop(cmd.spawn().expect("spawning berth on a pty"));
    let child = &mut guard.0;
    drop(cmd);
    drop(pty.slave);
    let mut writer = std::fs::File::from(pty.master.try_clone().unwrap());
    let mut reader = std::fs::File::from(pty.master);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once no one holds the slave any more.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut on = on;
    let mut status = None;
    let mut reader_done = false;
    let mut exit_grace: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(b) => out.extend_from_slice(&b),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => reader_done = true,
        }
        if on.as_ref().is_some_and(|(needle, _)| String::from_utf8_lossy(&out).replace('\r', "").contains(needle)) {
            let (_, act) = on.take().unwrap();
            act(&mut writer);
        }
        if status.is_none() {
            status = child.try_wait().expect("waiting for berth");
            if status.is_some() {
                exit_grace = Some(Instant::now() + Duration::from_secs(5));
            }
        }
        if status.is_some() && (reader_done || exit_grace.is_some_and(|g| Instant::now() >= g)) {
            break;
        }
        if status.is_none() && Instant::now() >= deadline {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            panic!("berth on a pty timed out and was killed; output:\n{}", String::from_utf8_lossy(&out));
        }
    }
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    (status.unwrap().code(), text)
}

#[test]
fn tty_is_a_terminal_with_the_callers_window_size() {
    let t = Ctx::new("tty");
    let run = t
        .run()
        .opts(["-i", "-t"])
        .sh("tty; stty size; test -t 0 && echo stdin-is-a-tty; test -t 1 && echo stdout-is-a-tty");
    let (code, out) = run_on_pty(run, None);
    assert_eq!(code, Some(0), "output:\n{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let tty =
        lines.iter().find(|l| l.starts_with("/dev/")).unwrap_or_else(|| panic!("`tty` printed no device:\n{out}"));
    assert!(
        *tty == "/dev/console" || tty.strip_prefix("/dev/pts/").is_some_and(|n| n.parse::<u32>().is_ok()),
        "`tty` printed {tty:?}:\n{out}"
    );
    assert!(lines.contains(&format!("{ROWS} {COLS}").as_str()), "`stty size` does not show {ROWS} {COLS}:\n{out}");
    assert!(lines.contains(&"stdin-is-a-tty"), "{out}");
    assert!(lines.contains(&"stdout-is-a-tty"), "{out}");
}

#[test]
fn ctrl_c_on_the_terminal_interrupts_the_container() {
    let t = Ctx::new("tty-ctrl-c");
    let run = t.run().opts(["-i", "-t"]).sh(
        "trap 'echo got-int; exit 5' INT; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99",
    );
    let (code, out) = run_on_pty(run, type_in("ready\n", b"\x03"));
    assert!(out.contains("got-int"), "no got-int in the output:\n{out}");
    assert_eq!(code, Some(5), "output:\n{out}");
}

#[test]
fn tty_input_reaches_the_container() {
    let t = Ctx::new("tty-input");
    let run = t.run().opts(["-i", "-t"]).sh("echo ready; read line; echo \"got:$line\"");
    let (code, out) = run_on_pty(run, type_in("ready\n", b"hello\r"));
    assert_eq!(code, Some(0), "output:\n{out}");
    assert!(out.lines().any(|l| l.trim() == "got:hello"), "no got:hello in the output:\n{out}");
}

#[test]
fn window_resize_reaches_the_container() {
    let t = Ctx::new("tty-winch");
    let run = t.run().opts(["-i", "-t"]).sh(
        "trap 'echo \"size $(stty size)\"; exit 0' WINCH; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99",
    );
    let resize: Action<'_> = Some((
        "ready\n",
        Box::new(|m: &mut std::fs::File| {
            let ws = Winsize { ws_row: 50, ws_col: 132, ws_xpixel: 0, ws_ypixel: 0 };
            // SAFETY: TIOCSWINSZ reads our struct; the kernel then sends SIGWINCH to berth, the
            // terminal's foreground process.
            let rc = unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
        }),
    ));
    let (code, out) = run_on_pty(run, resize);
    assert!(out.lines().any(|l| l.trim() == "size 50 132"), "the container did not see the new size:\n{out}");
    assert_eq!(code, Some(0), "output:\n{out}");
}

#[test]
fn tty_sets_term_like_docker() {
    let t = Ctx::new("tty-term");
    let run = t.run().opts(["-i", "-t"]).sh("echo \"TERM=$TERM\"");
    let (code, out) = run_on_pty(run, None);
    assert_eq!(code, Some(0), "output:\n{out}");
    assert!(out.lines().any(|l| l.trim() == "TERM=xterm"), "{out}");
}
