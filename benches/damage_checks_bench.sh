#!/usr/bin/env bash
# Reads of undamaged files with the damage checks against a build without them
# (docs/benchmarks.md, "ctx-store: reads with the damage checks"): release builds of `io-bench`
# and `ctx-inspect` from two commits, alternated on the same files, the order swapped every
# round; wall and CPU time (user + system) by /usr/bin/time. Prints each run, then median and
# min of each and the ratios (with the checks / before).
#   OLD=DIR NEW=DIR ROUNDS=9 MORE=15 bash benches/damage_checks_bench.sh [FILES_DIR]
# OLD and NEW hold `io-bench` and `ctx-inspect` (e.g. `cargo build --release -p xctx-benches
# --bin io-bench -p xctx-bins --bin ctx-inspect` in a worktree at each commit, then copied).
# The files are made with NEW's io-bench and the project's h5py when missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$root/target/bench/damage-checks}
: "${OLD:?OLD=DIR with the build before the checks}" "${NEW:?NEW=DIR with the build to measure}"
rounds=${ROUNDS:-9}
more=${MORE:-15}
python=$root/.venv/bin/python
mkdir -p "$dir"
cd "$dir"
[ -e txt.hdf5 ] || "$NEW/io-bench" write txt.hdf5 5000 8 64 >/dev/null
[ -e db.hdf5 ] || "$NEW/io-bench" caption-write db.hdf5 200000 512 contiguous >/dev/null
# HAAV's vis_ctx as the HDF5 library writes it (chunk B-trees checked as each dataset opens).
[ -e haav_vis.hdf5 ] || "$NEW/io-bench" haav-vis-write haav_vis.hdf5 1000 50 768 512 hdf5 >/dev/null
# The original's vis_ctx as h5py writes it: one dataset per image at the root.
[ -e vis.hdf5 ] || "$python" - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(0)
with h5py.File("vis.hdf5", "w") as f:
    for i in range(5000):
        f.create_dataset(str(i), data=rng.standard_normal(512, dtype=np.float32))
PY
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timed() { # wall and CPU seconds of a command whose exit status does not matter
  /usr/bin/time -f "%e %U %S" -o "$log.t" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$log.t" | awk '{printf "%s %.2f", $1, $2 + $3}'
}
seconds() { sed 's/.*"seconds":\([0-9.]*\).*/\1/'; }
# The builds in round $1's order (swapped every round), each as "old|new DIR".
builds() { if [ $(($1 % 2)) = 1 ]; then echo "old $OLD new $NEW"; else echo "new $NEW old $OLD"; fi; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  set -- $(builds "$r")
  while [ $# -gt 0 ]; do
    v=$1 b=$2; shift 2
    echo "$v txt-preload $("$b/io-bench" preload txt.hdf5 | seconds) -" | tee -a "$log"
    echo "$v txt-check $(timed "$b/ctx-inspect" txt.hdf5 --check)" | tee -a "$log"
    echo "$v vis-check $(timed "$b/ctx-inspect" vis.hdf5 --check)" | tee -a "$log"
    echo "$v haav-vis-check $(timed "$b/ctx-inspect" haav_vis.hdf5 --check)" | tee -a "$log"
    echo "$v caption-load $("$b/io-bench" caption-load db.hdf5 | seconds) -" | tee -a "$log"
  done
done
for r in $(seq "$more"); do
  set -- $(builds "$r")
  while [ $# -gt 0 ]; do
    v=$1 b=$2; shift 2
    echo "$v vis-check-more $(timed "$b/ctx-inspect" vis.hdf5 --check)" | tee -a "$log"
    echo "$v haav-vis-check-more $(timed "$b/ctx-inspect" haav_vis.hdf5 --check)" | tee -a "$log"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$log.t"
"$python" - "$log" <<'PY'
import collections, statistics as st, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    v, row, wall, cpu = line.split()
    runs[(row, "wall", v)].append(float(wall))
    if cpu != "-":
        runs[(row, "cpu", v)].append(float(cpu))
for (row, what, v) in sorted(runs):
    if v != "old":
        continue
    old, new = runs[(row, what, "old")], runs[(row, what, "new")]
    print(f"{row} {what}: before {st.median(old):.3f} ({min(old):.3f}), "
          f"with the checks {st.median(new):.3f} ({min(new):.3f}), "
          f"ratio median {st.median(new) / st.median(old):.3f} min {min(new) / min(old):.3f}")
PY
