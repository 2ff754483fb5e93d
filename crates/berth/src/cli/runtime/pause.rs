//! `berth runtime pause ID` / `resume ID`: freeze and thaw every process of the container
//! (v1 freezer or v2 `cgroup.freeze`).

use anyhow::{bail, Result};

use super::state::Saved;
use super::Ctx;

pub fn pause(c: &Ctx, id: &str, on: bool) -> Result<i32> {
    let s = Saved::load(&c.root, id)?;
    match (s.status(&c.root), on) {
        ("running", true) | ("paused", false) => {}
        ("stopped", _) | ("created", _) => bail!("container not running"),
        (_, true) => bail!("container already paused"),
        (_, false) => bail!("container not paused"),
    }
    s.cgroup().freeze(on)?;
    Ok(0)
}
