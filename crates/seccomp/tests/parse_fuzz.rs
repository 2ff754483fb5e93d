//! `Profile::parse` must never panic, whatever it is given; whatever it accepts must resolve
//! and compile (possibly to an error) without panicking either.

use std::collections::HashSet;

use berth_seccomp::bpf::compile_for;
use berth_seccomp::Profile;
use oci_spec::runtime::Arch;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Field names and values the parser knows, so random documents get deep into validation.
const KEYS: &[&str] = &[
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "archMap",
    "architecture",
    "subArchitectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
    "names",
    "name",
    "action",
    "errnoRet",
    "args",
    "index",
    "value",
    "valueTwo",
    "op",
    "includes",
    "excludes",
    "caps",
    "arches",
    "minKernel",
    "comment",
    "other",
];
const WORDS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_BOGUS",
    "SCMP_CMP_EQ",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NOPE",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_Z80",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "read",
    "clone",
    "mkdir",
    "CAP_SYS_ADMIN",
    "amd64",
    "arm64",
    "4.8",
    "0.0",
    "99999999999.1",
    "",
    "é\u{0}",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        (0u64..8).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        proptest::sample::select(WORDS).prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (prop_oneof![4 => proptest::sample::select(KEYS).prop_map(String::from), 1 => ".{0,6}"], inner),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid-looking profile with one random field replaced by a random value.
fn mutated_profile() -> impl Strategy<Value = Value> {
    let base = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8", "arches": ["amd64"]}}
        ]
    });
    let paths: &'static [&'static [&'static str]] = &[
        &["defaultAction"],
        &["defaultErrnoRet"],
        &["archMap"],
        &["archMap", "0", "architecture"],
        &["archMap", "0", "subArchitectures"],
        &["syscalls"],
        &["syscalls", "0"],
        &["syscalls", "0", "names"],
        &["syscalls", "0", "action"],
        &["syscalls", "1", "args"],
        &["syscalls", "1", "args", "0", "index"],
        &["syscalls", "1", "args", "0", "op"],
        &["syscalls", "1", "args", "0", "value"],
        &["syscalls", "1", "excludes"],
        &["syscalls", "2", "includes", "minKernel"],
        &["syscalls", "2", "includes"],
        &["flags"],
        &["architectures"],
    ];
    (proptest::sample::select(paths), value()).prop_map(move |(path, v)| {
        let mut doc = base.clone();
        let mut cur = &mut doc;
        for (i, key) in path.iter().enumerate() {
            let last = i == path.len() - 1;
            cur = match cur {
                Value::Array(a) => {
                    let idx: usize = key.parse().unwrap();
                    if last {
                        a[idx] = v.clone();
                        break;
                    }
                    &mut a[idx]
                }
                Value::Object(o) => {
                    if last {
                        o.insert(key.to_string(), v.clone());
                        break;
                    }
                    o.get_mut(*key).unwrap()
                }
                _ => unreachable!(),
            };
        }
        doc
    })
}

/// Everything downstream of a successful parse must work without panicking.
fn downstream(p: &Profile) {
    let caps: HashSet<String> = ["CAP_SYS_ADMIN".to_string()].into();
    for arch in ["amd64", "arm64", "s390x"] {
        let r = p.resolve_for(&caps, (6, 1), arch);
        let _ = compile_for(&r, Arch::ScmpArchX86_64);
        let _ = compile_for(&r, Arch::ScmpArchAarch64);
        let _ = berth_seccomp::filter_flags(&r);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,200}") {
        let _ = Profile::parse(&s);
    }

    #[test]
    fn arbitrary_json_never_panics(v in value()) {
        if let Ok(p) = Profile::parse(&v.to_string()) {
            downstream(&p);
        }
    }

    #[test]
    fn mutated_profiles_never_panic(v in mutated_profile()) {
        let text = v.to_string();
        if let Ok(p) = Profile::parse(&text) {
            downstream(&p);
            // what we accept survives our own serialisation
            let again = Profile::parse(&serde_json::to_string(&p).unwrap()).unwrap();
            prop_assert_eq!(again, p);
        }
    }
}

#[test]
fn the_mutation_base_is_valid() {
    // Guard: the mutated documents above start from a profile that parses.
    let p = Profile::parse(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}], "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}"#,
    );
    assert!(p.is_ok());
}
