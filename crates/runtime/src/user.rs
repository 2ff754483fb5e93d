//! Resolves a Docker `--user` value (`name`, `uid`, `uid:gid`, `name:group`) against the
//! container's `/etc/passwd` and `/etc/group`, the way Docker does: a numeric uid absent from
//! passwd is allowed (gid 0, home `/`), a name must exist, supplementary groups come from the
//! group file's member lists, plus any `--group-add` entries.

/// The ids a container process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter(|l| !l.trim_start().starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].trim().parse().ok()?,
            gid: f[3].trim().parse().ok()?,
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    group.lines().filter(|l| !l.trim_start().starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].trim().parse().ok()?,
            members: f
                .get(3)
                .map(|m| m.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

/// Resolves `spec` (empty means root) with the given file contents (empty if the file is
/// missing). `group_add` entries are group names or numbers.
pub fn resolve(spec: &str, passwd: &str, group: &str, group_add: &[String]) -> Result<ExecUser, String> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let numeric_uid = user_part.parse::<u32>().ok();
    let found = passwd_entries(passwd).find(|e| match numeric_uid {
        Some(uid) => e.uid == uid,
        None => e.name == user_part,
    });
    let (uid, mut gid, home, name) = match (found, numeric_uid) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name.to_string())),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => return Err(format!("unable to find user {user_part}: no matching entries in passwd file")),
    };
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file"))?,
        };
    }
    let mut additional = Vec::new();
    // Docker/runc only add the user's supplementary groups when no explicit group was given.
    if group_part.is_none() {
        if let Some(name) = &name {
            for e in group_entries(group) {
                if e.members.iter().any(|m| m == name) && e.gid != gid && !additional.contains(&e.gid) {
                    additional.push(e.gid);
                }
            }
        }
    }
    for g in group_add {
        let n = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file"))?,
        };
        if !additional.contains(&n) {
            additional.push(n);
        }
    }
    let home = if home.is_empty() { "/".to_string() } else { home };
    Ok(ExecUser { uid, gid, additional_gids: additional, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n#c:x:5:5\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nextra:x:2000:app,other\nwheel:x:10:root\n";

    #[test]
    fn by_name() {
        let u = resolve("app", PASSWD, GROUP, &[]).unwrap();
        assert_eq!(u, ExecUser { uid: 1000, gid: 1000, additional_gids: vec![2000], home: "/home/app".into() });
    }

    #[test]
    fn numeric_unknown_uid() {
        let u = resolve("1234", PASSWD, GROUP, &[]).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1234, 0, "/"));
    }

    #[test]
    fn uid_gid_pair_and_group_add() {
        let u = resolve("1000:1000", PASSWD, GROUP, &["3000".into(), "wheel".into()]).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![3000, 10]);
    }

    #[test]
    fn names_and_errors() {
        assert_eq!(resolve("", PASSWD, GROUP, &[]).unwrap().uid, 0);
        assert_eq!(resolve("root", PASSWD, GROUP, &[]).unwrap().additional_gids, vec![10]);
        assert_eq!(resolve("app:extra", PASSWD, GROUP, &[]).unwrap().gid, 2000);
        assert!(resolve("nobody", PASSWD, GROUP, &[]).unwrap_err().contains("unable to find user nobody"));
        assert!(resolve("app:nogroup", PASSWD, GROUP, &[]).is_err());
        assert!(resolve("root", PASSWD, GROUP, &["nosuch".into()]).is_err());
    }

    proptest::proptest! {
        // /etc/passwd and /etc/group come from the container image: untrusted input.
        #[test]
        fn resolve_never_panics(spec in "[a-z0-9:]{0,12}", passwd in "(?s).{0,200}", group in "(?s).{0,200}") {
            let _ = resolve(&spec, &passwd, &group, &[]);
        }

        #[test]
        fn numeric_uid_always_resolves(uid in 0u32..u32::MAX, gid in 0u32..u32::MAX, passwd in "(?s).{0,120}") {
            let u = resolve(&format!("{uid}:{gid}"), &passwd, "", &[]).unwrap();
            proptest::prop_assert_eq!((u.uid, u.gid), (uid, gid));
        }
    }
}
