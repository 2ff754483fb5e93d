//! Pure cgroup v2 and hybrid on a fake tree.

use super::fake::{journal, put, Opts, Tree};
use super::{res, val};
use crate::{Layout, Manager};

#[test]
fn v2_create_enables_controllers_and_writes_files() {
    let tree = Tree::new(Layout::V2, Opts::v2());
    let r = &tree.root;
    let m = Manager::new(r, Layout::V2, "berth/c1");
    m.create(&res(r#"{
        "memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 0},
        "blockIO": {"weight": 500,
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "unified": {"memory.high": "50331648"}
    }"#))
        .unwrap();
    let j = journal(r);

    // Delegation from the root down, only what the parent offers (no rdma/misc).
    let enabled = |p: &str| {
        let mut v: Vec<String> = val(r.join(p)).split_whitespace().map(str::to_string).collect();
        v.sort();
        v.join(" ")
    };
    assert_eq!(enabled("cgroup.subtree_control"), "cpu cpuset hugetlb io memory pids");
    assert_eq!(enabled("berth/cgroup.subtree_control"), "cpu cpuset hugetlb io memory pids");
    assert_eq!(val(r.join("berth/c1/cgroup.subtree_control")), "", "never in the leaf");
    let first =
        |file: &str| j.iter().position(|(p, _)| p == file).unwrap_or_else(|| panic!("no write to {file}: {j:?}"));
    assert!(first("cgroup.subtree_control") < first("berth/cgroup.subtree_control"));

    let c = r.join("berth/c1");
    assert_eq!(val(c.join("cpu.weight")), "39");
    assert_eq!(val(c.join("cpu.max")), "50000 100000");
    assert_eq!(val(c.join("cpuset.cpus")), "0-1");
    assert_eq!(val(c.join("cpuset.mems")), "0");
    assert_eq!(val(c.join("memory.max")), "67108864");
    assert_eq!(val(c.join("memory.swap.max")), "33554432", "OCI swap is memory+swap");
    assert_eq!(val(c.join("memory.low")), "33554432");
    assert_eq!(val(c.join("pids.max")), "max");
    assert_eq!(val(c.join("io.weight")), (1 + 490 * 9999 / 990).to_string());
    assert_eq!(val(c.join("io.max")), "8:0 rbps=1048576 wiops=100");
    assert_eq!(val(c.join("hugetlb.2MB.max")), "4194304");
    assert_eq!(val(c.join("hugetlb.2MB.rsvd.max")), "4194304");
    assert_eq!(val(c.join("memory.high")), "50331648");
    assert!(j.last().unwrap().0.ends_with("memory.high"), "unified keys go last");
    assert!(m.warnings().is_empty(), "{:?}", m.warnings());

    assert_eq!(m.path("memory").unwrap(), c);
    assert_eq!(m.path("").unwrap(), c);
    assert!(m.v2_dir().unwrap().is_some());

    put(&c.join("memory.events"), "low 0\nhigh 4\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n");
    assert_eq!(m.oom_kill_count(), 2);

    m.destroy().unwrap();
    assert!(!r.join("berth").exists());
    // cgroup.kill is only written when something is left to kill.
    assert!(!journal(r).iter().any(|(p, _)| p.ends_with("cgroup.kill")));
}

#[test]
fn v2_quota_without_limit_and_swap_edge_cases() {
    let tree = Tree::new(Layout::V2, Opts::v2());
    let c = tree.root.join("b/c");
    let m = Manager::new(&tree.root, Layout::V2, "b/c");
    m.create(&res(r#"{"cpu": {"quota": -1, "period": 200000}, "memory": {"limit": 1048576, "swap": 1048576}}"#))
        .unwrap();
    assert_eq!(val(c.join("cpu.max")), "max 200000");
    assert_eq!(val(c.join("memory.swap.max")), "0", "swap == limit disables swap");
    m.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
    assert_eq!(val(c.join("memory.max")), "max");
    assert_eq!(val(c.join("memory.swap.max")), "max");
    assert!(m.apply(&res(r#"{"memory": {"swap": 1048576}}"#)).is_err(), "swap without a memory limit");
    m.apply(&res(r#"{"memory": {"swappiness": 0, "disableOOMKiller": true}}"#)).unwrap();
    assert_eq!(m.warnings().len(), 2, "{:?}", m.warnings());
    assert!(m.apply(&res(r#"{"cpu": {"realtimeRuntime": 1000}}"#)).is_err());
    assert!(m.apply(&res(r#"{"unified": {"../x": "1"}}"#)).is_err());
    m.destroy().unwrap();
}

#[test]
fn v2_bfq_weight_missing_swap_and_missing_weight() {
    let mut o = Opts::v2();
    o.io_weight = Some("io.bfq.weight");
    o.swap = false;
    let tree = Tree::new(Layout::V2, o);
    let m = Manager::new(&tree.root, Layout::V2, "b/c");
    m.create(&res(r#"{"blockIO": {"weight": 300}, "memory": {"limit": 1048576, "swap": 4194304}}"#)).unwrap();
    assert_eq!(val(tree.root.join("b/c/io.bfq.weight")), "300", "BFQ takes the blkio value as is");
    assert!(m.warnings().iter().any(|w| w.contains("swap")), "{:?}", m.warnings());
    m.destroy().unwrap();

    let mut o = Opts::v2();
    o.io_weight = None;
    let tree = Tree::new(Layout::V2, o);
    let m = Manager::new(&tree.root, Layout::V2, "b/c");
    m.create(&res(r#"{"blockIO": {"weight": 300}}"#)).unwrap();
    assert_eq!(m.warnings(), vec!["blkio weight not supported by the kernel; ignored".to_string()]);
    m.destroy().unwrap();
}

#[test]
fn v2_unavailable_controllers() {
    let mut o = Opts::v2();
    o.v2_controllers = "cpu memory io";
    o.refuse = vec!["cpu"];
    let tree = Tree::new(Layout::V2, o);
    let r = &tree.root;
    let m = Manager::new(r, Layout::V2, "b/c");
    // cpu is refused (a warning); memory and io are enabled on their own.
    m.create(&res(r#"{"memory": {"limit": 1048576}}"#)).unwrap();
    assert_eq!(val(r.join("cgroup.subtree_control")), "memory io");
    assert!(m.warnings().iter().any(|w| w.contains("cpu controller")), "{:?}", m.warnings());
    assert_eq!(val(r.join("b/c/memory.max")), "1048576");
    // pids is not offered: its limit fails and names the file.
    let e = m.apply(&res(r#"{"pids": {"limit": 5}}"#)).unwrap_err();
    assert!(e.to_string().contains(&format!("{}", r.join("b/c/pids.max").display())), "{e}");
    m.destroy().unwrap();
}

#[test]
fn v2_add_pid_and_pids() {
    let tree = Tree::new(Layout::V2, Opts::v2());
    let m = Manager::new(&tree.root, Layout::V2, "b/c");
    m.create(&res("{}")).unwrap();
    let c = tree.root.join("b/c");
    m.add_pid(4_000_000).unwrap();
    assert_eq!(val(c.join("cgroup.procs")), "4000000");
    assert_eq!(m.pids().unwrap(), vec![4_000_000]);
    put(&c.join("cgroup.procs"), "0\n");
    assert!(m.pids().unwrap().is_empty(), "pid 0 (another pid namespace) is never listed");
    put(&c.join("cgroup.procs"), "");
    journal(&tree.root);
    m.destroy().unwrap();
    assert!(!tree.root.join("b").exists());
}

#[test]
fn hybrid_puts_v2_only_controllers_in_unified() {
    let tree = Tree::new(Layout::Hybrid, Opts::hybrid());
    let r = &tree.root;
    let m = Manager::new(r, Layout::Hybrid, "berth/c1");
    m.create(&res(r#"{"memory": {"limit": 67108864}, "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}], "pids": {"limit": 7}}"#)).unwrap();
    let u = r.join("unified/berth/c1");
    assert!(u.is_dir());
    assert_eq!(m.path("unified").unwrap(), u);
    assert_eq!(m.path("hugetlb").unwrap(), u, "hugetlb only exists in the unified tree here");
    assert_eq!(m.path("memory").unwrap(), r.join("memory/berth/c1"));
    assert_eq!(val(r.join("memory/berth/c1/memory.limit_in_bytes")), "67108864");
    assert_eq!(val(r.join("pids/berth/c1/pids.max")), "7");
    assert_eq!(val(u.join("hugetlb.2MB.max")), "2097152");
    assert_eq!(val(r.join("unified/cgroup.subtree_control")), "hugetlb");
    assert!(m.v2_dir().unwrap().is_none(), "hybrid places processes with add_pid");
    m.add_pid(4_000_001).unwrap();
    assert_eq!(val(u.join("cgroup.procs")), "4000001");
    assert_eq!(val(r.join("freezer/berth/c1/cgroup.procs")), "4000001");
    for d in ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "unified"] {
        put(&r.join(d).join("berth/c1/cgroup.procs"), "");
    }
    m.destroy().unwrap();
    for d in ["cpu", "memory", "unified"] {
        assert!(!r.join(d).join("berth").exists(), "{d}");
    }
}

#[test]
fn hybrid_without_v2_resources_does_not_touch_unified_controllers() {
    let tree = Tree::new(Layout::Hybrid, Opts::hybrid());
    let r = &tree.root;
    let m = Manager::new(r, Layout::Hybrid, "b/c");
    m.create(&res(r#"{"memory": {"limit": 67108864}}"#)).unwrap();
    assert!(!journal(r).iter().any(|(p, _)| p.ends_with("subtree_control")));
    assert!(r.join("unified/b/c").is_dir());
    // A later update asking for hugepage limits delegates then.
    m.apply(&res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}"#)).unwrap();
    assert_eq!(val(r.join("unified/b/cgroup.subtree_control")), "hugetlb");
    assert_eq!(val(r.join("unified/b/c/hugetlb.2MB.max")), "0");
    m.destroy().unwrap();
}
