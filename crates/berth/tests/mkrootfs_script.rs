//! scripts/mkrootfs-busybox.sh (the README demo's root file system): it makes the same tree as
//! the tests' own builder, and berth runs a container from it.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkrootfs-busybox.sh")
}

/// (relative path, kind, mode, uid, gid, symlink target or file content) of every entry.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let what = if md.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if md.is_dir() {
                "dir".to_string()
            } else if rel == "bin/busybox" {
                format!("file {} bytes", md.len())
            } else {
                format!("file {:?}", std::fs::read_to_string(&p).unwrap())
            };
            let mode = if md.file_type().is_symlink() { 0 } else { md.mode() & 0o7777 };
            out.push(format!("{rel} {what} {mode:o} {}:{}", md.uid(), md.gid()));
            if md.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut v = vec![format!(". {:o}", std::fs::metadata(root).unwrap().mode() & 0o7777)];
    walk(root, root, &mut v);
    v.sort();
    v
}

#[test]
fn script_makes_the_same_tree_as_the_test_builder() {
    let t = Ctx::bare("mkrootfs-tree");
    let st = Command::new("bash").arg(script()).arg(&t.rootfs).status().unwrap();
    assert!(st.success(), "mkrootfs-busybox.sh failed: {st}");
    let reference = t.path("reference");
    build_rootfs(&reference);
    let (a, b) = (tree(&t.rootfs), tree(&reference));
    let only_script: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_builder: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
    assert!(
        only_script.is_empty() && only_builder.is_empty(),
        "trees differ\nonly from the script: {only_script:#?}\nonly from the builder: {only_builder:#?}"
    );
}

#[test]
fn berth_runs_a_container_from_the_scripts_rootfs() {
    let t = Ctx::bare("mkrootfs-run");
    let st = Command::new("bash").arg(script()).arg(&t.rootfs).status().unwrap();
    assert!(st.success(), "mkrootfs-busybox.sh failed: {st}");
    let out = t.sh(&["-u", "app"], "id -un; id -Gn; echo $$");
    out.success();
    assert_eq!(out.lines().first(), Some(&"app"), "{out}");
    assert!(out.lines().get(1).is_some_and(|g| g.split(' ').any(|x| x == "extra")), "{out}");
    assert_eq!(out.lines().get(2), Some(&"1"), "{out}");
}

#[test]
fn script_without_destination_fails_with_usage() {
    let out = Command::new("bash").arg(script()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"), "{out:?}");
}
