#!/usr/bin/env bash
# `--resize device` against the host resize on the CPU (docs/benchmarks.md), one thread: per
# round, alternated, crops-bench's host path (decode + 15 crops, u8 levels), its decode-only
# floor, its device mode (the host's part and libtorch's part timed apart), and pipeline-bench's
# device mode (retrieve-captions' stages with a stand-in model against a decode-only loop, wall
# clock and CPU time). Prints each run's JSON line, then min and median of each and the ratios.
# PASSES (default 10) reads each image that many times (a directory of links beside DIR), so
# that the batch buffers' first use (fresh pages the kernel faults in and clears, a fixed cost
# per run) weighs about as much as in a long run; PASSES=1 shows a short run's.
#   ROUNDS=5 IMAGES=160 PASSES=10 THREADS=1 bash benches/resize_device_cpu.sh [DIR]   (NO_BUILD=1: the binaries as built)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${1:-$root/target/bench/coco-like}
n=${IMAGES:-160}
rounds=${ROUNDS:-5}
threads=${THREADS:-1}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p xctx-benches --bin crops-bench --bin pipeline-bench
[ "$(ls "$dir"/*.jpg 2>/dev/null | wc -l)" -ge "$n" ] || .venv/bin/python benches/crops_reference.py make "$dir" "$n"
passes=${PASSES:-10}
if [ "$passes" -gt 1 ]; then
  runs=$dir-x$passes
  rm -rf "$runs" && mkdir -p "$runs"
  for p in $(seq "$passes"); do
    for f in "$dir"/*.jpg; do ln -s "$(realpath "$f")" "$runs/p${p}_$(basename "$f")"; done
  done
  dir=$runs
fi
echo "images: $(ls "$dir"/*.jpg | wc -l) ($passes passes)"
bin=target/release
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for mode in u8 decode-only device-host; do
    echo "crops-bench $mode $("$bin/crops-bench" "$dir" "$threads" "$mode")" | tee -a "$log"
  done
  echo "pipeline-bench device $(REPEAT=1 "$bin/pipeline-bench" "$dir" "$threads" 32 device)" | tee -a "$log"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
.venv/bin/python - "$log" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, mode, doc = line.split(" ", 2)
    runs.setdefault(f"{tool} {mode}", []).append(json.loads(doc))
ms = lambda d, key="seconds": 1000 * d[key] / d["images"]
def show(name, values, unit):
    print(f"{name}: min {min(values):.3f} {unit}, median {statistics.median(values):.3f} {unit}")
host = [ms(d) for d in runs["crops-bench u8"]]
dec = [ms(d) for d in runs["crops-bench decode-only"]]
dev_host = [ms(d, "host_seconds") for d in runs["crops-bench device-host"]]
parts = {k: [d["host_ms_per_image"][k] for d in runs["crops-bench device-host"]]
         for k in runs["crops-bench device-host"][0]["host_ms_per_image"]}
cpu = lambda d, key: 1000 * d[key] / d["images"]
host_cpu = [cpu(d, "cpu_seconds") for d in runs["crops-bench u8"]]
dec_cpu = [cpu(d, "cpu_seconds") for d in runs["crops-bench decode-only"]]
dev_cpu = [cpu(d, "host_cpu_seconds") for d in runs["crops-bench device-host"]]
show("host resize (decode + 15 crops, u8), ms per image", host, "ms")
show("decode only, ms per image", dec, "ms")
show("device resize, host part (the decoding stage), ms per image", dev_host, "ms")
print("device resize, host part by step (medians, ms per image, summed over threads): "
      + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in parts.items()))
show("CPU time: host resize, ms per image", host_cpu, "ms")
show("CPU time: decode only, ms per image", dec_cpu, "ms")
show("CPU time: device resize's host part, ms per image", dev_cpu, "ms")
print(f"CPU time: host part / decode only: {statistics.median(dev_cpu) / statistics.median(dec_cpu):.3f} (medians); "
      f"host resize / device resize's host part: {statistics.median(host_cpu) / statistics.median(dev_cpu):.2f}x")
print(f"host part / decode only: {statistics.median(dev_host) / statistics.median(dec):.3f} (medians), "
      f"{min(dev_host) / min(dec):.3f} (mins)")
print(f"host resize / device resize's host part (images/s per core gained): "
      f"{statistics.median(host) / statistics.median(dev_host):.2f}x (medians), {min(host) / min(dev_host):.2f}x (mins)")
p = [d["rounds"][0] for d in runs["pipeline-bench device"]]
show("pipeline --resize device, images/s", [x["pipeline_images_per_s"] for x in p], "images/s")
show("decode-only loop, images/s", [x["decode_loop_images_per_s"] for x in p], "images/s")
wall = [1 / x["ratio"] for x in p]
cpu = [x["cpu_ratio"] for x in p if x["cpu_ratio"] is not None]
show("pipeline wall time / decode loop's", wall, "x")
if cpu:
    show("pipeline CPU time / decode loop's", cpu, "x")
print(f"pipeline --resize device against the host resize (crops-bench u8), images/s per core: "
      f"{statistics.median([x['pipeline_images_per_s'] for x in p]) * statistics.median(host) / 1000:.2f}x (medians)")
PY
