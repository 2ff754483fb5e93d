//! The security half of a run's spec: capabilities after `--cap-add/--cap-drop`, `--privileged`,
//! `--security-opt` (seccomp profile or unconfined, no-new-privileges) and the seccomp filter
//! resolved for the final capability set.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxSeccomp};

use super::defaults;

/// What `--security-opt` asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SecurityOpts {
    /// `None`: the default profile; `Some(None)`: unconfined; `Some(Some(path))`: that file.
    pub seccomp: Option<Option<String>>,
    pub no_new_privileges: bool,
}

pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut out = SecurityOpts::default();
    for o in opts {
        let (k, v) = match o.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (o.as_str(), None),
        };
        match (k, v) {
            ("seccomp", Some("unconfined")) => out.seccomp = Some(None),
            ("seccomp", Some(p)) if !p.is_empty() => out.seccomp = Some(Some(p.to_string())),
            ("no-new-privileges", None) => out.no_new_privileges = true,
            ("no-new-privileges", Some(b)) => {
                out.no_new_privileges = b.parse::<bool>().map_err(|_| anyhow!("invalid --security-opt 2: {o:?}"))?
            }
            // No AppArmor or SELinux here: accept "unconfined"/"disable", refuse profiles we cannot apply.
            ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
            ("apparmor", Some(p)) => bail!("AppArmor profile {p:?} requested but AppArmor is not enabled on this host"),
            ("label", Some(_)) => bail!("SELinux label requested but SELinux is not enabled on this host"),
            _ => bail!("invalid --security-opt: {o:?}"),
        }
    }
    Ok(out)
}

/// "All capabilities" means all that berth itself holds: a host without, say, CAP_SYS_RESOURCE
/// (this can happen in a container or a restricted VM) cannot grant it.
fn all_caps() -> Vec<Capability> {
    let held = caps::read(None, caps::CapSet::Permitted).unwrap_or_else(|_| caps::all());
    let mut v = Vec::new();
    for c in held {
        let name = c.to_string();
        if let Ok(cap) = name.trim_start_matches("CAP_").parse::<Capability>() {
            v.push(cap);
        }
    }
    v
}

fn parse_cap(name: &str) -> Result<Capability> {
    let up = name.to_ascii_uppercase();
    let short = up.strip_prefix("CAP_").unwrap_or(&up);
    short.parse::<Capability>().map_err(|_| anyhow!("unknown capability: {:?}", format!("CAP_{short}")))
}

/// Docker's capability arithmetic: start from the defaults (or everything with `--privileged`
/// or `--cap-add ALL`), drop, then add; `--cap-drop ALL` empties the set before the adds.
pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Result<Capabilities> {
    let is_all = |v: &[String]| v.iter().any(|c| c.eq_ignore_ascii_case("ALL") || c.eq_ignore_ascii_case("CAP_ALL"));
    if privileged || (is_all(add) && !is_all(drop)) {
        let mut set: Capabilities = all_caps().into_iter().collect();
        if !privileged {
            for d in drop {
                set.remove(&parse_cap(d)?);
            }
        }
        return Ok(set);
    }
    let mut set: Capabilities =
        if is_all(drop) { HashSet::new() } else { defaults::CAPABILITIES.iter().copied().collect() };
    for d in drop.iter().filter(|d| !d.eq_ignore_ascii_case("ALL")) {
        set.remove(&parse_cap(d)?);
    }
    for a in add.iter().filter(|a| !a.eq_ignore_ascii_case("ALL")) {
        set.insert(parse_cap(a)?);
    }
    Ok(set)
}

/// The running kernel's (major, minor).
fn kernel_version() -> Option<(u32, u32)> {
    let u = nix::sys::utsname::uname().ok()?;
    let r = u.release().to_string_lossy().into_owned();
    let mut it = r.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The seccomp section of the spec, or `None` for unconfined.
pub fn seccomp(opts: &SecurityOpts, privileged: bool, caps: &Capabilities) -> Result<Option<LinuxSeccomp>> {
    let profile = match &opts.seccomp {
        Some(None) => return Ok(None),
        None if privileged => return Ok(None),
        None => berth_seccomp::default_profile(),
        Some(Some(path)) => {
            let text = std::fs::read_to_string(Path::new(path))
                .with_context(|| format!("opening seccomp profile ({path}) failed"))?;
            berth_seccomp::Profile::parse(&text).with_context(|| format!("decoding seccomp profile {path} failed"))?
        }
    };
    let names: HashSet<String> = caps.iter().map(|c| format!("CAP_{c}")).collect();
    Ok(Some(profile.resolve(&names, kernel_version()).context("resolving seccomp profile")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn mask(c: &Capabilities) -> u64 {
        c.iter().fold(0, |m, c| m | 1 << berth_runtime::caps::number(&c.to_string()).unwrap())
    }

    #[test]
    fn cap_arithmetic() {
        assert_eq!(mask(&capabilities(false, &[], &[]).unwrap()), 0xa80425fb);
        assert_eq!(mask(&capabilities(false, &[], &s(&["ALL"])).unwrap()), 0);
        assert_eq!(mask(&capabilities(false, &s(&["NET_ADMIN"]), &s(&["ALL"])).unwrap()), 1 << 12);
        assert_eq!(mask(&capabilities(false, &s(&["cap_net_admin"]), &[]).unwrap()), 0xa80435fb);
        assert_eq!(mask(&capabilities(false, &[], &s(&["CHOWN"])).unwrap()), 0xa80425fa);
        assert!(capabilities(false, &s(&["BOGUS"]), &[]).is_err());
    }

    #[test]
    fn security_opts() {
        let o = parse_security_opts(&s(&["no-new-privileges", "seccomp=unconfined"])).unwrap();
        assert_eq!(o, SecurityOpts { seccomp: Some(None), no_new_privileges: true });
        let o = parse_security_opts(&s(&["seccomp:/p.json", "no-new-privileges=false"])).unwrap();
        assert_eq!(o.seccomp, Some(Some("/p.json".into())));
        assert!(!o.no_new_privileges);
        assert!(parse_security_opts(&s(&["bogus"])).is_err());
    }
}
