//! Unit tests against a fake cgroupfs tree (see `fake`), one module per layout.

mod fake;
mod fake_v1;
mod fake_v2;

use std::path::Path;

use crate::LinuxResources;

/// Resources from OCI JSON.
pub(crate) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("bad resources JSON {json}: {e}"))
}

/// The content of a file, trimmed.
pub(crate) fn val(path: impl AsRef<Path>) -> String {
    fake::get(path.as_ref()).trim().to_string()
}

/// Index of the first journal entry whose path ends with `file` and value is `value`.
pub(crate) fn pos(j: &[(String, String)], file: &str, value: &str) -> usize {
    j.iter()
        .position(|(p, v)| (p == file || p.ends_with(&format!("/{file}"))) && v == value)
        .unwrap_or_else(|| panic!("no write of {value:?} to {file} in {j:#?}"))
}

#[test]
fn mkdir_levels_starts_over_when_a_parent_vanishes() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::create_dir(root.join("p")).unwrap();
    let mut created = Vec::new();
    let mut removed = false;
    // Another berth removes the shared parent "p" right after we found it existing.
    crate::fs::mkdir_levels(
        root,
        &["p", "c"],
        &mut created,
        |parent| {
            if parent == root.join("p") && !removed {
                removed = true;
                std::fs::remove_dir(root.join("p")).unwrap();
            }
            Ok(())
        },
        |_| Ok(()),
    )
    .unwrap();
    assert!(removed);
    assert_eq!(created, vec![root.join("p"), root.join("p/c")], "both levels made by us on the second try");
    assert!(root.join("p/c").is_dir());

    // A missing hierarchy root is an error, not a retry loop.
    let mut created = Vec::new();
    let e = crate::fs::mkdir_levels(&root.join("nope"), &["a"], &mut created, |_| Ok(()), |_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("mkdir"), "{e}");
}

#[test]
fn rel_path_is_validated() {
    let tree = fake::Tree::new(crate::Layout::V1, fake::Opts::v1());
    for bad in ["", "/", "a/../b", "..", "a/./b"] {
        let m = crate::Manager::new(&tree.root, tree.layout, bad);
        assert!(matches!(m.create(&LinuxResources::default()), Err(crate::Error::Invalid(_))), "{bad:?} accepted");
        assert!(m.destroy().is_err() && m.pids().is_err() && m.add_pid(1).is_err() && m.path("memory").is_none());
    }
    // A leading slash is accepted and means the same.
    let m = crate::Manager::new(&tree.root, tree.layout, "/berth/x/");
    assert_eq!(m.path("memory").unwrap(), tree.root.join("memory/berth/x"));
}
