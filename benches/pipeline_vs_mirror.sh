#!/usr/bin/env bash
# encode-images and retrieve-captions against the Python mirror of the original
# (tests/mirror/original_pipeline.py) on the same COCO-like JPEGs, CPU, tiny checkpoint (so the
# model costs little), same run (docs/benchmarks.md). IMAGES=300 by default.
# Per core: our steps with --num-workers 1 and one torch thread vs the mirror with one thread;
# then ours with every core. Ours are given twice: whole-process wall time (process start,
# dataset, model load included) and the batches alone (from the step's log), which is how the
# mirror times itself (its model load and dataset parsing excluded).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${IMAGES:-300}
dir=$root/target/bench/pipeline-$n
model=$root/target/bench/tiny-clip-a
cargo build --release -q -p xctx-bins
[ -f "$dir/coco/annotations/coco_train_ids.npy" ] || .venv/bin/python benches/make_coco_like.py "$dir" "$n" >/dev/null
[ -f "$model/model.safetensors" ] || .venv/bin/python scripts/make_tiny_clip.py "$model" --preset a >/dev/null 2>&1
py=$(.venv/bin/python tests/mirror/original_pipeline.py "$dir/coco" "$dir/vg" "$model" "$dir/mirror" --threads 1 2>/dev/null)
echo "mirror (1 thread): $py"
ours() { # workers threads step args...
  local w=$1 t=$2 step=$3; shift 2
  local t0; t0=$(date +%s%N)
  local workers=(--num-workers "$w")
  [ "$step" = encode-captions ] && workers=()
  OMP_NUM_THREADS=$t target/release/"$@" --device cpu "${workers[@]}" --overwrite 2>"$dir/$step.log"
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # Also the batches alone, as the mirror times itself (model and dataset loading excluded):
  # from the step's "<step> ... already=..." log line to its "<step>: loop" line.
  local loop; loop=$(.venv/bin/python - "$dir/$step.log" "$step" <<'PY'
import datetime, re, sys
lines = open(sys.argv[1]).read().splitlines()
def at(pred):
    line = next(l for l in lines if pred(l))
    return datetime.datetime.fromisoformat(re.sub(r"\x1b\[[0-9;]*m", "", line).split()[0].rstrip("Z"))
start = at(lambda l: f" {sys.argv[2]} " in l and " already=" in l)
end = at(lambda l: f"{sys.argv[2]}: loop" in l)
print(int((end - start).total_seconds() * 1000))
PY
)
  echo "$ms $loop"
}
ours 1 1 encode-captions --ann-dir "$dir/vg" --model "$model" --out "$dir/ours/caption_db.hdf5" >/dev/null
for cfg in "1 1" "2 2"; do
  set -- $cfg
  vis=$(ours "$1" "$2" encode-images --dataset-root "$dir/coco" --model "$model" --out "$dir/ours/vis_ctx.hdf5")
  txt=$(ours "$1" "$2" retrieve-captions --dataset-root "$dir/coco" --model "$model" --caption-db "$dir/ours/caption_db.hdf5" --out "$dir/ours/txt_ctx.hdf5")
  .venv/bin/python - "$py" "$n" "$1" "$vis" "$txt" <<'PY'
import json, sys
py, n, w = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for step, times in (("encode-images", sys.argv[4]), ("retrieve-captions", sys.argv[5])):
    whole, loop = (int(v) for v in times.split())
    ours, batches, theirs = n / (whole / 1000), n / (loop / 1000), n / py["seconds"][step]
    print(f"{step} ({w} worker(s)): {ours:.1f} images/s whole process ({ours / theirs:.2f}x), "
          f"{batches:.1f} images/s in the batches ({batches / theirs:.2f}x) vs mirror {theirs:.1f} images/s (1 thread)")
PY
done
