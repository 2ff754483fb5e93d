#!/usr/bin/env bash
# Runs berth's whole test suite (unit, property and integration tests). Needs root: the
# integration tests really create containers. Installs the Debian packages the tests use if
# they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: run as root (the tests create namespaces, mounts and cgroups)" >&2
  exit 1
fi
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
# dockerd, containerd and podman for the tests that run berth as their OCI runtime.
command -v dockerd >/dev/null || need+=(docker.io)
command -v podman >/dev/null || need+=(podman)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
exec cargo test --workspace --locked "$@"
