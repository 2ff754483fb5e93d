//! The OCI runtime front end's bundle-less commands: `--version`, `spec`, `features`, and
//! dispatch by program name (`berth-runc`).

use std::process::Command;

fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

#[test]
fn version_first_line_names_berth() {
    let out = berth().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    assert_eq!(first, format!("berth version {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn spec_writes_a_default_config_once() {
    let d = tempfile::tempdir().unwrap();
    let out = berth().args(["runtime", "spec", "--bundle"]).arg(d.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(d.path().join("config.json")).unwrap();
    let spec: oci_spec::runtime::Spec = serde_json::from_str(&text).expect("config.json is a runtime spec");
    assert_eq!(spec.version(), "1.2.0");
    assert_eq!(spec.root().as_ref().unwrap().path(), std::path::Path::new("rootfs"));
    assert_eq!(spec.process().as_ref().unwrap().args().as_deref(), Some(&["sh".to_string()][..]));
    let ns = spec.linux().as_ref().unwrap().namespaces().as_ref().unwrap().len();
    assert!(ns >= 5, "namespaces: {ns}");
    // A second spec refuses to overwrite, exiting 1 like runc.
    let again = berth().args(["runtime", "spec", "-b"]).arg(d.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
}

#[test]
fn features_is_json_and_reachable_as_berth_runc() {
    let d = tempfile::tempdir().unwrap();
    let link = d.path().join("berth-runc");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).unwrap();
    let out = Command::new(&link).arg("features").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("features prints JSON");
    assert_eq!(v["ociVersionMax"], "1.2.0");
    assert_eq!(v["linux"]["seccomp"]["enabled"], true);
    assert_eq!(v["linux"]["cgroup"]["v2"], true);
    let caps = v["linux"]["capabilities"].as_array().unwrap();
    assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
}
