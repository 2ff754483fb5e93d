#!/usr/bin/env bash
# Start-to-exit latency of a container running `true`, berth vs runc, same machine, same run.
#
#   bench/run-latency.sh [RUNS]      (as root; default 200 runs each)
#
# Both get a busybox root file system and new pid, mount, uts, ipc, network (loopback only)
# and cgroup namespaces, a memory and pids cgroup, and their default seccomp profile.
# Prints the median and p90 of each and the berth/runc ratio. Needs runc and hyperfine (both
# Debian packages; installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
need=()
command -v runc >/dev/null || need+=(runc)
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
cargo build --release --locked -p berth >/dev/null
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
cleanup() { runc --root "$work/runc-state" delete -f berth-bench >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
scripts/mkrootfs-busybox.sh "$work/bundle/rootfs" >/dev/null
# runc's own default spec (its default namespaces include network), run as root with `true`.
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
ns = c["linux"]["namespaces"]
if not any(n["type"] == "cgroup" for n in ns): ns.append({"type": "cgroup"})
c["linux"]["resources"] = {"memory": {"limit": 67108864}, "pids": {"limit": 100}}
json.dump(c, open(p, "w"), indent=1)
PY
# berth with its default data and run roots (/var/lib/berth, /run/berth on tmpfs), as a user runs it.
berth="$PWD/target/release/berth run --rootfs $work/bundle/rootfs --memory 64m --pids-limit 100 true"
runc_cmd="runc --root $work/runc-state run --bundle $work/bundle berth-bench"
report() {
python3 - "$1" "$2" <<'PY'
import json, sys, statistics
r = {x["command"]: sorted(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
def pct(v, p): return v[min(len(v) - 1, int(len(v) * p))]
print(f"== {sys.argv[2]}")
for name, t in r.items():
    print(f"{name:6s} median {statistics.median(t)*1000:7.2f} ms   p90 {pct(t, .9)*1000:7.2f} ms   runs {len(t)}")
print(f"ratio berth/runc (median): {statistics.median(r['berth']) / statistics.median(r['runc']):.3f}")
PY
}
# Back to back: the usual benchmark. On cgroup v1/hybrid hosts moving a process into a cgroup
# costs the kernel an RCU grace period (~10 ms here) unless another move happened within the
# last grace period, so back-to-back runs share it.
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/out.json" -n berth "$berth" -n runc "$runc_cmd" >/dev/null 2>&1
report "$work/out.json" "back-to-back runs"
# Spaced 100 ms apart: every run pays its own grace period (what a lone `run` costs).
hyperfine -N --prepare 'sleep 0.1' --warmup 3 --runs $((runs / 4)) --export-json "$work/cold.json" -n berth "$berth" -n runc "$runc_cmd" >/dev/null 2>&1
report "$work/cold.json" "runs spaced 100 ms apart"
