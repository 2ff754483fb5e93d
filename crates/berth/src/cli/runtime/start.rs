//! `berth runtime start ID`: releases a created container's init from the exec FIFO.

use std::os::fd::AsFd;

use anyhow::{bail, Context, Result};

use super::state::{self, Saved};
use super::Ctx;

pub fn run(c: &Ctx, id: &str) -> Result<i32> {
    let s = Saved::load(&c.root, id)?;
    match s.status(&c.root) {
        "created" => {}
        "stopped" => bail!("cannot start a container that has stopped"),
        _ => bail!("cannot start an already running container"),
    }
    let fifo = state::fifo(&c.root, id);
    // Non-blocking open: a reader exists at once, which lets the init's blocked open complete.
    let f = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("opening {}", fifo.display()))?;
    let mut b = [0u8; 1];
    loop {
        let mut p = [nix::poll::PollFd::new(f.as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::from(100u16));
        match nix::unistd::read(f.as_fd(), &mut b) {
            Ok(1) => break,
            Ok(_) | Err(nix::Error::EAGAIN) => {
                if !s.alive() {
                    let _ = std::fs::remove_file(&fifo);
                    bail!("container init exited before start");
                }
            }
            Err(e) => return Err(e).context("reading the exec fifo"),
        }
    }
    std::fs::remove_file(&fifo).with_context(|| format!("removing {}", fifo.display()))?;
    super::create::after_hooks(&s, "poststart", "running");
    Ok(0)
}
