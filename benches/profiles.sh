#!/usr/bin/env bash
# --profile haav against --profile original: each step with the same checkpoint on the same
# COCO-like JPEGs and synthetic Visual Genome, CPU, in the same run, alternating the two profiles
# REPEAT times; prints each run's whole-process items/s and the median ratio haav/original
# (issue "HAAV's context": within 10% on the CPU with the same checkpoint).
#
#     IMAGES=200 VG_IMAGES=400 REPEAT=3 PRESET=a bash benches/profiles.sh
#
# PRESET is a scripts/make_tiny_clip.py preset (a: tiny, the model costs little and the writers
# show; vit-b-32: ViT-B/32-sized random weights, the model dominates as with a real checkpoint).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${IMAGES:-200}
repeat=${REPEAT:-3}
workers=${WORKERS:-2}
preset=${PRESET:-a}
k=${K:-16}
dir=$root/target/bench/pipeline-$n
vg=$root/target/bench/vg-${VG_IMAGES:-400}
model=$root/target/bench/tiny-clip-$preset
out=$dir/profiles
cargo build --release -q -p xctx-bins
bin=$root/target/release
[ -f "$dir/coco/annotations/coco_train_ids.npy" ] || .venv/bin/python benches/make_coco_like.py "$dir" "$n" >/dev/null
[ -f "$vg/relationships.json" ] || .venv/bin/python benches/make_vg.py "$vg" "${VG_IMAGES:-400}" >/dev/null
[ -f "$model/model.safetensors" ] || .venv/bin/python scripts/make_tiny_clip.py "$model" --preset "$preset" >/dev/null 2>&1
mkdir -p "$out"
# run COUNT STEP ARGS...: whole-process items/s of one run.
run() {
  local count=$1 step=$2; shift 2
  local t0; t0=$(date +%s%N)
  local w=(--num-workers "$workers")
  [ "$step" = encode-captions ] && w=()
  "$bin/$step" "$@" --device cpu "${w[@]}" --overwrite --quiet 2>/dev/null
  echo "$count $(( $(date +%s%N) - t0 ))" | awk '{ printf "%.2f", $1 / ($2 / 1e9) }'
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); preset $preset, $n images, k $k"
for p in original haav; do
  "$bin/encode-captions" --ann-dir "$vg" --model "$model" --out "$out/caption_db.$p.hdf5" \
    --profile "$p" --device cpu --overwrite --quiet 2>/dev/null
done
phrases=$("$bin/ctx-inspect" "$out/caption_db.original.hdf5" | awk '/^captions:/ { print $2 }')
for step in encode-images encode-captions retrieve-captions; do
  ratios=()
  for r in $(seq "$repeat"); do
    line="$step run $r:"
    declare -A rate=()
    for p in original haav; do
      case $step in
        encode-images) count=$n; args=(--dataset-root "$dir/coco" --out "$out/vis_ctx.$p.hdf5") ;;
        encode-captions) count=$phrases; args=(--ann-dir "$vg" --out "$out/caption_db.run.$p.hdf5") ;;
        retrieve-captions) count=$n; args=(--dataset-root "$dir/coco" --caption-db "$out/caption_db.$p.hdf5" --k "$k" --out "$out/txt_ctx.$p.hdf5") ;;
      esac
      rate[$p]=$(run "$count" "$step" "${args[@]}" --model "$model" --profile "$p")
      line="$line $p ${rate[$p]}/s"
    done
    ratios+=("$(awk -v a="${rate[original]}" -v b="${rate[haav]}" 'BEGIN { printf "%.3f", b / a }')")
    echo "$line (whole process, $workers workers)"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk -v s="$step" '{ v[NR] = $1 } END { print s ": median haav/original " v[int((NR + 1) / 2)] }'
done
du -sh "$out"/vis_ctx.*.hdf5 "$out"/txt_ctx.*.hdf5 "$out"/caption_db.original.hdf5 "$out"/caption_db.haav.hdf5 | sed 's|'"$out"'/||'
