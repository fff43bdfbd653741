#!/usr/bin/env bash
# This tree's retrieve-captions and encode-images against another build of them (OLD_BIN: a
# directory holding the binaries built from an earlier commit, e.g. with `git worktree add` and
# the same CARGO_TARGET_DIR), on the same COCO-like JPEGs, CPU, tiny checkpoint, in the same run,
# alternating old/new REPEAT times; prints each run's loop images/s (from the step's "<step>:
# loop" log line, or the whole process for builds without one) and the median ratio new/old.
#
#     OLD_BIN=/tmp/oldbin IMAGES=300 REPEAT=3 bash benches/steps_vs_build.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
old=${OLD_BIN:?OLD_BIN=dir of the other build\'s binaries}
n=${IMAGES:-300}
repeat=${REPEAT:-3}
workers=${WORKERS:-2}
dir=$root/target/bench/pipeline-$n
model=$root/target/bench/tiny-clip-a
cargo build --release -q -p xctx-bins
new=$root/target/release
[ -f "$dir/coco/annotations/coco_train_ids.npy" ] || .venv/bin/python benches/make_coco_like.py "$dir" "$n" >/dev/null
[ -f "$model/model.safetensors" ] || .venv/bin/python scripts/make_tiny_clip.py "$model" --preset a >/dev/null 2>&1
db=$dir/steps-vs-build/caption_db.hdf5
"$new/encode-captions" --ann-dir "$dir/vg" --model "$model" --out "$db" --device cpu --overwrite --quiet
# run BIN_DIR STEP ARGS...: whole-process images/s of one run.
run() {
  local bin=$1 step=$2; shift 2
  local t0; t0=$(date +%s%N)
  "$bin/$step" "$@" --device cpu --num-workers "$workers" --overwrite --quiet
  echo "$n $(( $(date +%s%N) - t0 ))" | awk '{ printf "%.2f", $1 / ($2 / 1e9) }'
}
for step in retrieve-captions encode-images; do
  case $step in
    retrieve-captions) args=(--dataset-root "$dir/coco" --model "$model" --caption-db "$db" --out "$dir/steps-vs-build/txt_ctx.hdf5") ;;
    encode-images) args=(--dataset-root "$dir/coco" --model "$model" --out "$dir/steps-vs-build/vis_ctx.hdf5") ;;
  esac
  ratios=()
  for r in $(seq "$repeat"); do
    a=$(run "$old" "$step" "${args[@]}")
    b=$(run "$new" "$step" "${args[@]}")
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')")
    echo "$step run $r: old $a images/s, new $b images/s (whole process, $workers workers)"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk -v s="$step" '{ v[NR] = $1 } END { print s ": median new/old " v[int((NR + 1) / 2)] }'
done
