#!/usr/bin/env bash
# encode-images and retrieve-captions against the Python mirror of the original
# (tests/mirror/original_pipeline.py) on the same COCO-like JPEGs, CPU, tiny checkpoint (so the
# model costs little), same run (docs/benchmarks.md). IMAGES=300 by default.
# Per core: our steps with --num-workers 1 and one torch thread vs the mirror with one thread;
# then ours with every core. Our times are whole-process wall times (dataset, model load
# included); the mirror's exclude its model load.
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
  local w=$1 t=$2; shift 2
  local t0; t0=$(date +%s%N)
  OMP_NUM_THREADS=$t target/release/"$@" --device cpu --num-workers "$w" --overwrite --quiet 2>/dev/null
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
ours 1 1 encode-captions --ann-dir "$dir/vg" --model "$model" --out "$dir/ours/caption_db.hdf5" >/dev/null
for cfg in "1 1" "2 2"; do
  set -- $cfg
  vis=$(ours "$1" "$2" encode-images --dataset-root "$dir/coco" --model "$model" --out "$dir/ours/vis_ctx.hdf5")
  txt=$(ours "$1" "$2" retrieve-captions --dataset-root "$dir/coco" --model "$model" --caption-db "$dir/ours/caption_db.hdf5" --out "$dir/ours/txt_ctx.hdf5")
  .venv/bin/python - "$py" "$n" "$1" "$vis" "$txt" <<'PY'
import json, sys
py, n, w, vis, txt = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
for step, ms in (("encode-images", vis), ("retrieve-captions", txt)):
    ours, theirs = n / (ms / 1000), n / py["seconds"][step]
    print(f"{step} ({w} worker(s)): {ours:.1f} images/s vs mirror {theirs:.1f} images/s (1 thread): {ours / theirs:.2f}x")
PY
done
