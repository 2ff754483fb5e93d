//! Stage timings of the start path, printed by `berth --debug` so regressions are visible.

use std::time::Instant;

/// Records how long each named stage of a container start took.
#[derive(Debug)]
pub struct Timings {
    start: Instant,
    last: Instant,
    stages: Vec<(&'static str, u128)>,
}

impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl Timings {
    pub fn new() -> Self {
        let now = Instant::now();
        Timings { start: now, last: now, stages: Vec::new() }
    }

    /// Closes the current stage under `name`.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.stages.push((name, now.duration_since(self.last).as_micros()));
        self.last = now;
    }

    /// One line: `total=1234us parse=12us cgroup=300us …`.
    pub fn line(&self) -> String {
        let mut s = format!("total={}us", self.last.duration_since(self.start).as_micros());
        for (name, us) in &self.stages {
            s.push_str(&format!(" {name}={us}us"));
        }
        s
    }
}
