//! `berth runtime events [--stats] [--interval 5s] ID`: the container's resource usage as
//! runc's event JSON — once with `--stats`, otherwise every interval (and an `oom` event when
//! the memory cgroup kills something) until the container stops.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde_json::json;

use super::state::Saved;
use super::Ctx;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Display the container's stats once, then exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats reports (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

fn interval(s: &str) -> Result<Duration> {
    let bad = || anyhow!("invalid interval {s:?}");
    if let Some(ms) = s.strip_suffix("ms") {
        return Ok(Duration::from_millis(ms.parse().map_err(|_| bad())?));
    }
    let secs: f64 = s.strip_suffix('s').unwrap_or(s).parse().map_err(|_| bad())?;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn stats_event(s: &Saved) -> serde_json::Value {
    let st = s.cgroup().stats();
    json!({
        "type": "stats",
        "id": s.id,
        "data": {
            "cpu": {"usage": {"total": st.cpu_total_ns, "user": st.cpu_user_ns, "kernel": st.cpu_system_ns}},
            "memory": {"usage": {"usage": st.memory_usage, "max": st.memory_max_usage, "limit": st.memory_limit.unwrap_or(u64::MAX)}},
            "pids": {"current": st.pids_current, "limit": st.pids_limit.unwrap_or(0)},
        }
    })
}

pub fn run(c: &Ctx, a: &EventsArgs) -> Result<i32> {
    let s = Saved::load(&c.root, &a.id)?;
    if s.status(&c.root) == "stopped" {
        bail!("container with id {} is not running", a.id);
    }
    if a.stats {
        println!("{}", stats_event(&s));
        return Ok(0);
    }
    let every = interval(&a.interval)?;
    let mut ooms = s.cgroup().oom_kill_count();
    while s.alive() {
        println!("{}", stats_event(&s));
        let now = s.cgroup().oom_kill_count();
        if now > ooms {
            println!("{}", json!({"type": "oom", "id": s.id}));
            ooms = now;
        }
        std::thread::sleep(every);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(interval("2").unwrap(), Duration::from_secs(2));
        assert!(interval("0s").is_err() && interval("x").is_err());
    }
}
