//! `berth runtime spec`: writes a default `config.json` as `runc spec` does (a busybox-style
//! `sh` with a terminal, the minimal capabilities, read-only root "rootfs", all namespaces).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a configuration for a rootless container (not supported yet)
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(a: &SpecArgs) -> Result<i32> {
    if a.rootless {
        bail!("rootless containers are not supported yet");
    }
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let mut spec = oci_spec::runtime::Spec::default();
    spec.set_hostname(Some("berth".to_string()));
    spec.set_version("1.2.0".to_string());
    let text = serde_json::to_string_pretty(&spec).context("encoding the default spec")?;
    let tmp = a.bundle.join(".config.json.tmp");
    std::fs::write(&tmp, text + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(0)
}
