//! cgroup v1 on a fake tree.

use super::fake::{self, journal, put, Opts, Tree, ALL_V1};
use super::{pos, res, val};
use crate::{Error, Layout, Manager};

const FULL: &str = r#"{
    "memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432, "swappiness": 10, "disableOOMKiller": true},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "1", "mems": "0"},
    "pids": {"limit": 100},
    "blockIO": {"weight": 300,
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "access": "m"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}
    ]
}"#;

#[test]
fn create_writes_every_controller() {
    let tree = Tree::new(Layout::V1, Opts::v1());
    let r = &tree.root;
    let m = Manager::new(r, Layout::V1, "berth/c1");
    m.create(&res(FULL)).unwrap();
    let j = journal(r);

    for c in ALL_V1 {
        assert!(r.join(c).join("berth/c1").is_dir(), "{c} dir");
        assert_eq!(m.path(c).unwrap(), r.join(c).join("berth/c1"));
    }
    assert!(!r.join("systemd/berth").exists(), "named hierarchies are not berth's");
    assert_eq!(m.path(""), None, "no v2 tree on v1");
    assert_eq!(m.v2_dir().unwrap().map(|_| ()), None);

    // cpuset: both new levels copied from the root before anything else, then the spec's values.
    assert_eq!(val(r.join("cpuset/berth/cpuset.cpus")), "0-3");
    assert_eq!(val(r.join("cpuset/berth/cpuset.mems")), "0");
    assert_eq!(val(r.join("cpuset/berth/c1/cpuset.cpus")), "1");
    assert_eq!(val(r.join("cpuset/berth/c1/cpuset.mems")), "0");
    assert!(pos(&j, "cpuset/berth/c1/cpuset.cpus", "0-3") < pos(&j, "cpuset/berth/c1/cpuset.cpus", "1"));
    assert_eq!(j[0], ("cpuset/berth/cpuset.cpus".to_string(), "0-3".to_string()), "cpuset is filled first");

    let mem = r.join("memory/berth/c1");
    assert_eq!(val(mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(val(mem.join("memory.memsw.limit_in_bytes")), "134217728");
    assert!(
        pos(&j, "memory.limit_in_bytes", "67108864") < pos(&j, "memory.memsw.limit_in_bytes", "134217728"),
        "limit before memsw when shrinking from unlimited"
    );
    assert_eq!(val(mem.join("memory.soft_limit_in_bytes")), "33554432");
    assert_eq!(val(mem.join("memory.swappiness")), "10");
    assert_eq!(val(mem.join("memory.oom_control")), "1");

    let cpu = r.join("cpu/berth/c1");
    assert_eq!(val(cpu.join("cpu.shares")), "512");
    assert_eq!(val(cpu.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(val(cpu.join("cpu.cfs_period_us")), "100000");
    assert!(pos(&j, "cpu.cfs_period_us", "100000") < pos(&j, "cpu.cfs_quota_us", "50000"), "period first");

    assert_eq!(val(r.join("pids/berth/c1/pids.max")), "100");
    let blk = r.join("blkio/berth/c1");
    assert_eq!(val(blk.join("blkio.weight")), "300");
    assert_eq!(val(blk.join("blkio.throttle.read_bps_device")), "8:0 1048576");
    assert_eq!(val(blk.join("blkio.throttle.write_iops_device")), "8:16 100");
    assert_eq!(val(r.join("hugetlb/berth/c1/hugetlb.2MB.limit_in_bytes")), "4194304");

    let dev: Vec<(String, String)> = j.iter().filter(|(p, _)| p.contains("devices.")).cloned().collect();
    let want = [
        ("devices/berth/c1/devices.deny", "a"),
        ("devices/berth/c1/devices.allow", "c *:* m"),
        ("devices/berth/c1/devices.allow", "c 1:3 rwm"),
        ("devices/berth/c1/devices.allow", "c 136:* rwm"),
        ("devices/berth/c1/devices.deny", "c 1:3 w"),
    ];
    assert_eq!(dev, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert!(m.warnings().is_empty(), "{:?}", m.warnings());

    // Placing a process writes every hierarchy; pids() reads them back.
    m.add_pid(4_000_000).unwrap();
    let j = journal(r);
    assert_eq!(j.iter().filter(|(p, v)| p.ends_with("berth/c1/cgroup.procs") && v == "4000000").count(), ALL_V1.len());
    assert_eq!(m.pids().unwrap(), vec![4_000_000]);
    for c in ALL_V1 {
        put(&r.join(c).join("berth/c1/cgroup.procs"), "");
    }
    assert!(m.pids().unwrap().is_empty());

    put(&mem.join("memory.oom_control"), "oom_kill_disable 1\nunder_oom 0\noom_kill 3\n");
    assert_eq!(m.oom_kill_count(), 3);

    m.destroy().unwrap();
    for c in ALL_V1 {
        assert!(!r.join(c).join("berth").exists(), "{c}/berth left behind");
    }
    m.destroy().unwrap();
}

#[test]
fn memory_update_orders_limit_and_memsw() {
    let tree = Tree::new(Layout::V1, Opts::v1());
    let m = Manager::new(&tree.root, Layout::V1, "b/c");
    m.create(&res(r#"{"memory": {"limit": 16777216, "swap": 33554432}}"#)).unwrap();
    journal(&tree.root);
    // Growing: memsw must be raised before the limit can pass the old memsw.
    m.apply(&res(r#"{"memory": {"limit": 67108864, "swap": 134217728}}"#)).unwrap();
    let j = journal(&tree.root);
    assert!(
        pos(&j, "memory.memsw.limit_in_bytes", "134217728") < pos(&j, "memory.limit_in_bytes", "67108864"),
        "{j:?}"
    );
    // Shrinking: the limit first.
    m.apply(&res(r#"{"memory": {"limit": 8388608, "swap": 16777216}}"#)).unwrap();
    let j = journal(&tree.root);
    assert!(pos(&j, "memory.limit_in_bytes", "8388608") < pos(&j, "memory.memsw.limit_in_bytes", "16777216"), "{j:?}");
    // Unlimited memory with no swap setting makes swap unlimited too.
    m.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    let j = journal(&tree.root);
    assert!(pos(&j, "memory.memsw.limit_in_bytes", "-1") < pos(&j, "memory.limit_in_bytes", "-1"), "{j:?}");
    // memsw below the limit is refused before writing anything.
    let e = m.apply(&res(r#"{"memory": {"limit": 67108864, "swap": 1048576}}"#)).unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
    m.destroy().unwrap();
}

#[test]
fn missing_swap_accounting_and_blkio_weight_are_warnings() {
    let mut o = Opts::v1();
    o.swap = false;
    o.io_weight = None;
    let tree = Tree::new(Layout::V1, o);
    let m = Manager::new(&tree.root, Layout::V1, "b/c");
    m.create(&res(r#"{"memory": {"limit": 67108864, "swap": 134217728}, "blockIO": {"weight": 300}}"#)).unwrap();
    assert_eq!(val(tree.root.join("memory/b/c/memory.limit_in_bytes")), "67108864");
    let w = m.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.iter().any(|w| w.contains("swap")), "{w:?}");
    assert!(w.contains(&"blkio weight not supported by the kernel; ignored".to_string()), "{w:?}");
    // The same warning is not repeated by a second apply.
    m.apply(&res(r#"{"blockIO": {"weight": 300}}"#)).unwrap();
    assert_eq!(m.warnings().len(), 2);
    m.destroy().unwrap();
}

#[test]
fn bfq_weight_and_comounted_cpu_cpuacct() {
    let mut o = Opts::v1();
    o.io_weight = Some("blkio.bfq.weight");
    o.v1 = vec!["cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"];
    let tree = Tree::new(Layout::V1, o);
    let r = &tree.root;
    let m = Manager::new(r, Layout::V1, "b/c");
    m.create(&res(r#"{"cpu": {"shares": 256}, "blockIO": {"weight": 700, "weightDevice": [{"major": 8, "minor": 0, "weight": 20}]}}"#)).unwrap();
    assert_eq!(m.path("cpu"), m.path("cpuacct"));
    assert_eq!(m.path("cpu").unwrap(), r.join("cpu,cpuacct/b/c"));
    assert_eq!(val(r.join("cpu,cpuacct/b/c/cpu.shares")), "256");
    assert_eq!(val(r.join("blkio/b/c/blkio.bfq.weight")), "700");
    assert_eq!(val(r.join("blkio/b/c/blkio.bfq.weight_device")), "8:0 20");
    assert_eq!(m.path("hugetlb"), None, "an empty mount point is not a hierarchy");
    // Hugepage limits without a hugetlb hierarchy are an error, not silently dropped.
    let e = m.apply(&res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#)).unwrap_err();
    assert!(e.to_string().contains("hugetlb"), "{e}");
    // So is the unified map on v1.
    assert!(m.apply(&res(r#"{"unified": {"memory.high": "1"}}"#)).is_err());
    m.destroy().unwrap();
    assert!(!r.join("cpu,cpuacct/b").exists());
}

#[test]
fn failed_create_removes_what_it_made_and_names_the_file() {
    let tree = Tree::new(Layout::V1, Opts::v1());
    let r = &tree.root;
    let m = Manager::new(r, Layout::V1, "berth/c1");
    let e = m.create(&res(r#"{"hugepageLimits": [{"pageSize": "64KB", "limit": 1024}]}"#)).unwrap_err();
    let want = format!("cgroup write {} \"1024\": ", r.join("hugetlb/berth/c1/hugetlb.64KB.limit_in_bytes").display());
    assert!(e.to_string().starts_with(&want), "{e}");
    for c in ALL_V1 {
        assert!(!r.join(c).join("berth").exists(), "{c}/berth left behind");
    }
}

#[test]
fn destroy_removes_only_directories_it_created() {
    let tree = Tree::new(Layout::V1, Opts::v1());
    let r = &tree.root;
    // "shared" exists beforehand in the memory hierarchy (someone else's).
    std::fs::create_dir(r.join("memory/shared")).unwrap();
    let a = Manager::new(r, Layout::V1, "shared/a");
    let b = Manager::new(r, Layout::V1, "shared/b");
    a.create(&res("{}")).unwrap();
    b.create(&res("{}")).unwrap();
    a.destroy().unwrap();
    assert!(!r.join("pids/shared/a").exists());
    assert!(r.join("pids/shared/b").is_dir(), "b untouched");
    assert!(r.join("pids/shared").is_dir(), "parent in use by b stays");
    b.destroy().unwrap();
    assert!(r.join("pids/shared").is_dir(), "b did not create the parent: it stays");
    assert!(r.join("memory/shared").is_dir());
    assert!(!r.join("memory/shared/b").exists());

    // A manager that did not create the cgroup (a later `berth rm`) removes only the leaves.
    let c = Manager::new(r, Layout::V1, "other/c");
    c.create(&res("{}")).unwrap();
    let later = Manager::new(r, Layout::V1, "other/c");
    later.destroy().unwrap();
    assert!(!r.join("memory/other/c").exists());
    assert!(r.join("memory/other").is_dir());
}

#[test]
fn missing_controller_is_an_error_except_block_io() {
    let mut o = Opts::v1();
    o.v1 = vec!["cpu", "cpuset", "memory", "devices", "freezer"];
    let tree = Tree::new(Layout::V1, o);
    let m = Manager::new(&tree.root, Layout::V1, "b/c");
    let e = m.create(&res(r#"{"pids": {"limit": 10}}"#)).unwrap_err();
    assert!(e.to_string().contains("pids"), "{e}");
    assert!(!tree.root.join("memory/b").exists(), "cleaned up");
    m.create(&res(r#"{"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}}"#)).unwrap();
    assert!(m.warnings().iter().any(|w| w.contains("block I/O")), "{:?}", m.warnings());
    m.destroy().unwrap();
}

#[test]
fn no_hierarchy_at_all_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let m = Manager::new(t.path(), Layout::V1, "b/c");
    assert!(matches!(m.create(&res("{}")), Err(Error::Layout(_))));
    let _ = fake::get; // keep the helper used in every configuration
}
