//! Mount-related run flags: `-v HOST:CTR[:opts]`, `--tmpfs PATH[:opts]`, and the per-container
//! `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf` files Docker bind-mounts.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Mount, MountBuilder};

fn mount(dest: &str, typ: &str, src: &str, opts: Vec<String>) -> Result<Mount> {
    Ok(MountBuilder::default().destination(dest).typ(typ).source(src).options(opts).build()?)
}

/// A `-v` bind mount. The host directory is created if missing, as Docker does.
pub fn volume(spec: &str) -> Result<Mount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => bail!("invalid volume specification: '{spec}'"),
    };
    if !src.starts_with('/') {
        bail!("invalid volume specification: '{spec}': named volumes are not supported yet, the source must be an absolute host path");
    }
    if !dst.starts_with('/') {
        bail!("invalid volume specification: '{spec}': mount path must be absolute");
    }
    let mut options = vec!["rbind".to_string()];
    let mut propagation = "rprivate";
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" | "rw" => options.push(o.to_string()),
            "z" | "Z" | "nocopy" | "copy" | "consistent" | "cached" | "delegated" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => propagation = o,
            _ => bail!("invalid mode: {o}"),
        }
    }
    options.push(propagation.to_string());
    if !Path::new(src).exists() {
        std::fs::create_dir_all(src).with_context(|| format!("creating volume source {src}"))?;
    }
    mount(dst, "bind", src, options)
}

/// A `--tmpfs` mount with Docker's default options (noexec, nosuid, nodev) plus the user's.
pub fn tmpfs(spec: &str) -> Result<Mount> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !dst.starts_with('/') {
        bail!("invalid tmpfs specification: '{spec}': mount path must be absolute");
    }
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev"].iter().map(|s| s.to_string()).collect();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        // A later flag overrides its opposite (exec after noexec …).
        let opposite = match o {
            "exec" => Some("noexec"),
            "suid" => Some("nosuid"),
            "dev" => Some("nodev"),
            _ => None,
        };
        if let Some(x) = opposite {
            options.retain(|v| v != x);
        }
        options.push(o.to_string());
    }
    mount(dst, "tmpfs", "tmpfs", options)
}

/// Writes the container's hostname, hosts and resolv.conf files into `dir` and returns their
/// bind mounts.
pub fn etc_files(dir: &Path, hostname: &str, host_network: bool) -> Result<Vec<Mount>> {
    let hosts = if host_network {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        super::defaults::hosts_file()
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if host_network { host_resolv } else { super::defaults::resolv_conf(&host_resolv) };
    let files: [(&str, String); 3] = [("hostname", format!("{hostname}\n")), ("hosts", hosts), ("resolv.conf", resolv)];
    let mut mounts = Vec::new();
    for (name, content) in files {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        mounts.push(mount(
            &format!("/etc/{name}"),
            "bind",
            &path.to_string_lossy(),
            vec!["rbind".into(), "rprivate".into()],
        )?);
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("new");
        let m = volume(&format!("{}:/data:ro", src.display())).unwrap();
        assert!(src.is_dir());
        assert_eq!(m.destination(), &PathBuf::from("/data"));
        assert_eq!(m.options().as_ref().unwrap(), &vec!["rbind".to_string(), "ro".into(), "rprivate".into()]);
        assert!(volume("name:/data").is_err());
        assert!(volume("/a:rel").is_err());
        assert!(volume("/a:/b:bogus").is_err());
    }

    #[test]
    fn tmpfs_options() {
        let m = tmpfs("/tmp:size=1m,exec").unwrap();
        assert_eq!(
            m.options().as_ref().unwrap(),
            &vec!["nosuid".to_string(), "nodev".into(), "size=1m".into(), "exec".into()]
        );
        assert!(tmpfs("tmp").is_err());
    }
}
