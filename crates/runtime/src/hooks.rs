//! OCI lifecycle hooks: run a hook's `path` with its `args` and `env`, the container state
//! JSON on stdin, killed after `timeout` seconds. Any failure (non-zero exit, timeout, cannot
//! start) is an error naming the hook.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// The runtime-spec state a hook reads on stdin.
pub fn state_json(id: &str, status: &str, pid: i32, bundle: &std::path::Path, annotations: &str) -> String {
    format!(
        "{{\"ociVersion\":\"1.2.0\",\"id\":{},\"status\":\"{status}\",\"pid\":{pid},\"bundle\":{},\"annotations\":{annotations}}}",
        json_str(id),
        json_str(&bundle.to_string_lossy())
    )
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Runs `hooks` in order; stops at the first failure.
pub fn run(kind: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for h in hooks {
        run_one(kind, h, state)?;
    }
    Ok(())
}

fn run_one(kind: &str, h: &Hook, state: &str) -> Result<()> {
    let fail = |what: String| Error::Spec(format!("{kind} hook {}: {what}", h.path().display()));
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some(first) = args.first() {
            cmd.arg0(first);
        }
        cmd.args(args.iter().skip(1));
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h.timeout().filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(fail(format!("failed: {st}"))),
            Ok(None) => {}
            Err(e) => return Err(fail(format!("wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("timed out after {}s", h.timeout().unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    #[test]
    fn state_is_json() {
        let s = state_json("a\"b", "created", 7, std::path::Path::new("/x"), "{}");
        assert_eq!(
            s,
            r#"{"ociVersion":"1.2.0","id":"a\"b","status":"created","pid":7,"bundle":"/x","annotations":{}}"#
        );
    }

    #[test]
    fn hooks_get_state_args_env_and_time_out() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let h = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".to_string(),
                "-c".into(),
                format!("cat > {}; echo \"$A\" >> {}", out.display(), out.display()),
            ])
            .env(vec!["A=hello".to_string()])
            .build()
            .unwrap();
        run("poststart", &[h], "{\"id\":\"x\"}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\"}hello\n");
        let slow = HookBuilder::default()
            .path("/bin/sleep")
            .args(vec!["sleep".to_string(), "5".into()])
            .timeout(1)
            .build()
            .unwrap();
        let t = Instant::now();
        let e = run("prestart", &[slow], "{}").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(4));
        let bad = HookBuilder::default().path("/bin/false").build().unwrap();
        assert!(run("poststop", &[bad], "{}").unwrap_err().to_string().contains("failed"));
    }
}
