#!/usr/bin/env bash
# OCI runtime lifecycle latency, berth vs runc on the same bundle in the same run (youki's
# method): `create` + `start` + `delete --force` of a container running `true`, many runs,
# medians and the ratio.
#
#   bench/runtime-lifecycle.sh [RUNS]      (as root; default 100 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
need=()
command -v runc >/dev/null || need+=(runc)
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
cargo build --release --locked -p berth >/dev/null
work=$(mktemp -d /tmp/berth-rtbench.XXXXXX)
cleanup() {
  runc --root "$work/runc" delete -f rt-bench >/dev/null 2>&1 || true
  target/release/berth --root "$work/berth" runtime delete -f rt-bench >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
scripts/mkrootfs-busybox.sh "$work/bundle/rootfs" >/dev/null
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(p, "w"), indent=1)
PY
b="$PWD/target/release/berth --root $work/berth runtime"
r="runc --root $work/runc"
cycle() { echo "$1 create --bundle $work/bundle rt-bench </dev/null >/dev/null 2>&1 && $1 start rt-bench && $1 delete --force rt-bench"; }
hyperfine --warmup 5 --runs "$runs" --export-json "$work/out.json" -n berth "$(cycle "$b")" -n runc "$(cycle "$r")" >/dev/null 2>&1
python3 - "$work/out.json" <<'PY'
import json, sys, statistics
r = {x["command"]: sorted(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
for name, t in r.items():
    print(f"{name:6s} create+start+delete median {statistics.median(t)*1000:7.2f} ms   runs {len(t)}")
print(f"ratio berth/runc (median): {statistics.median(r['berth']) / statistics.median(r['runc']):.3f}")
PY
