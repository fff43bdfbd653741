#!/usr/bin/env bash
# Speed per source: the same N JPEGs (benches/make_sources_bench.py: scikit-image photos) read as
# COCO's layout (--dataset-root), karpathy:, coco-json:, folder:, list: and wds: (four tar shards
# read in place), encoded by `encode-images` (release, the tiny random checkpoint, so decoding and
# cropping bound the run; CPU), the sources alternated over ROUNDS rounds (each round starting one
# source later); then `encode-captions` on the same phrases as Visual Genome's files (--ann-dir)
# and as --texts txt / jsonl / karpathy:. Prints each run's whole-process rate (per wall second
# and per CPU second), and per source the min and median rate and the median of the per-round
# ratio to COCO's layout (VG's for texts).
#
#     IMAGES=300 ROUNDS=5 WORKERS=2 bash benches/sources_bench.sh
#
# BIN=DIR runs the binaries in DIR instead of this tree's release build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${IMAGES:-300}
rounds=${ROUNDS:-5}
workers=${WORKERS:-2}
vg_images=${VG_IMAGES:-60}
dir=$root/target/bench/sources-$n
model=$root/target/bench/tiny-clip-a
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p xctx-bins
fi
bin=${BIN:-$root/target/release}
[ -f "$dir/list.txt" ] || .venv/bin/python benches/make_sources_bench.py "$dir" "$n" "$vg_images" >/dev/null
[ -f "$model/model.safetensors" ] || .venv/bin/python scripts/make_tiny_clip.py "$model" --preset a >/dev/null 2>&1
out=$dir/out
mkdir -p "$out"
phrases=$(wc -l <"$dir/texts.txt")

# rate COUNT STEP ARGS...: COUNT / the whole process's wall seconds, and COUNT / its CPU seconds
# (user + system, all threads: less moved by other processes than the wall time).
rate() {
  local count=$1 step=$2; shift 2
  local t0 cpu; t0=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$out/time" "$bin/$step" "$@" --model "$model" --device cpu \
    --overwrite --quiet 2>>"$out/steps.log" ||
    { echo "$step $* failed: $(tail -n 1 "$out/steps.log")" >&2; return 1; }
  cpu=$(awk '{ print $1 + $2 }' "$out/time")
  awk -v c="$count" -v ns="$(( $(date +%s%N) - t0 ))" -v cpu="$cpu" \
    'BEGIN { printf "%.2f %.2f", c / (ns / 1e9), c / cpu }'
}

# The image sources: name, then encode-images' source flags.
images_args() {
  case $1 in
    coco) echo --dataset-root "$dir/coco" ;;
    karpathy) echo --images "karpathy:$dir/karpathy.json" --image-root "$dir/coco" ;;
    coco-json) echo --images "coco-json:$dir/image_info.json" --image-root "$dir/coco/train2014" ;;
    folder) echo --images "folder:$dir/folder" ;;
    list) echo --images "list:$dir/list.txt" ;;
    wds) echo --images "wds:$dir/wds/{00000..00003}.tar" ;;
  esac
}
texts_args() {
  case $1 in
    vg) echo --ann-dir "$dir/vg" ;;
    txt) echo --texts "$dir/texts.txt" ;;
    jsonl) echo --texts "$dir/texts.jsonl" ;;
    karpathy) echo --texts "karpathy:$dir/texts_karpathy.json" ;;
  esac
}

# bench KIND BASE COUNT SOURCES...: ROUNDS rounds over the sources; prints the summary table.
bench() {
  local kind=$1 base=$2 count=$3; shift 3
  local sources=("$@") k=${#sources[@]} log=$out/$kind.rates
  : >"$log"
  for r in $(seq "$rounds"); do
    for j in $(seq 0 $((k - 1))); do
      local s=${sources[$(( (j + r - 1) % k ))]} v
      if [ "$kind" = images ]; then
        # shellcheck disable=SC2046 # the flags are words without spaces
        v=$(rate "$count" encode-images $(images_args "$s") --batch-size 32 --num-workers "$workers" \
          --out "$out/vis_ctx.$s.hdf5")
      else
        # shellcheck disable=SC2046
        v=$(rate "$count" encode-captions $(texts_args "$s") --out "$out/caption_db.$s.hdf5")
      fi
      echo "$r $s $v" >>"$log"
      echo "$kind round $r: $s $v (wall, CPU) /s"
    done
  done
  echo "| source | min /s | median /s | median ratio to $base | median /CPU-s | median ratio to $base, CPU |"
  echo "|---|---|---|---|---|---|"
  for s in "${sources[@]}"; do
    local rates ratios cpu cpu_ratios
    rates=$(awk -v s="$s" '$2 == s { print $3 }' "$log" | sort -n)
    cpu=$(awk -v s="$s" '$2 == s { print $4 }' "$log" | sort -n)
    ratios=$(awk -v s="$s" -v b="$base" -v c=3 '$2 == b { base[$1] = $c } $2 == s { v[$1] = $c }
      END { for (r in v) printf "%.3f\n", v[r] / base[r] }' "$log" | sort -n)
    cpu_ratios=$(awk -v s="$s" -v b="$base" -v c=4 '$2 == b { base[$1] = $c } $2 == s { v[$1] = $c }
      END { for (r in v) printf "%.3f\n", v[r] / base[r] }' "$log" | sort -n)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$s" "$(head -1 <<<"$rates")" "$(median <<<"$rates")" \
      "$(median <<<"$ratios")" "$(median <<<"$cpu")" "$(median <<<"$cpu_ratios")"
  done
}

# The median of the sorted numbers on stdin.
median() {
  awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "$(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
bench images coco "$n" coco karpathy coco-json folder list wds
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
bench texts vg "$phrases" vg txt jsonl karpathy
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
