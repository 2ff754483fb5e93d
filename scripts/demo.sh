#!/usr/bin/env bash
# berth's main job on a demo image made offline: builds berth, makes a busybox root file system
# from Debian's busybox-static package, and runs a container from it with Docker's default
# isolation. Run as root. Extra arguments replace the demo command.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "scripts/demo.sh: run as root (containers need namespaces, mounts and cgroups)" >&2
  exit 1
fi
if [ ! -x /bin/busybox ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends busybox-static
fi
cargo build --release --locked -p berth
rootfs=demo/rootfs
[ -x "$rootfs/bin/busybox" ] || scripts/mkrootfs-busybox.sh "$rootfs"
if [ $# -eq 0 ]; then
  set -- sh -c 'echo "hello from berth: pid $$ on $(hostname)"; grep -E "^(CapEff|Seccomp|NoNewPrivs)" /proc/self/status; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
fi
exec target/release/berth --root demo/data run --rootfs "$rootfs" --memory 64m --pids-limit 100 "$@"
