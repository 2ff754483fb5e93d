#!/usr/bin/env bash
# Makes a minimal root file system for `berth run --rootfs`, offline, from the host's static
# busybox (Debian: apt-get install busybox-static):
#
#   scripts/mkrootfs-busybox.sh DEST
#
# DEST gets bin/busybox and one symlink per applet in bin/, /etc/passwd and /etc/group with
# root and an unprivileged user "app" (uid/gid 1000, home /home/app, also in group "extra"
# 2000), empty /etc/hostname, /etc/hosts and /etc/resolv.conf, and the empty directories a
# container needs (proc, sys, dev, tmp, ...). The integration tests build the same tree
# (crates/berth/tests/common/mod.rs). Run as root so that /home/app belongs to app.
# BUSYBOX=/path/to/busybox selects another static busybox.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
dest=$1
bb=${BUSYBOX:-/bin/busybox}
if [ ! -x "$bb" ]; then
  echo "$0: $bb not found: install busybox-static (apt-get install busybox-static)" >&2
  exit 1
fi
# A dynamically linked busybox would not run inside the root file system.
if head -c 4096 "$bb" | grep -aq 'ld-linux'; then
  echo "$0: $bb is dynamically linked: install busybox-static" >&2
  exit 1
fi

mkdir -p "$dest"
cd "$dest"
mkdir -p bin etc proc sys dev tmp root mnt run var home/app
chmod 0755 .
chmod 1777 tmp
chmod 0700 root
install -m 0755 "$bb" bin/busybox
for applet in $(bin/busybox --list); do
  case $applet in
    busybox | */*) ;;
    *) ln -sfn busybox "bin/$applet" ;;
  esac
done
cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
EOF
cat > etc/group <<'EOF'
root:x:0:
app:x:1000:
extra:x:2000:app
EOF
: > etc/hostname
: > etc/hosts
: > etc/resolv.conf
if [ "$(id -u)" = 0 ]; then
  chown 1000:1000 home/app
fi
echo "busybox root file system ready in $dest"
