#!/usr/bin/env bash
# The CUDA tests and GPU benchmarks, as one script for a lent GPU machine (docs/benchmarks.md,
# "GPU"). Here: `bash benches/gpu_pack.sh` (binaries into .gpu/); there, in the repository root:
#
#     bash benches/gpu_check.sh OUT_DIR
#
# with .gpu and target/xctx-fixtures carried. It uses the machine's PyTorch (its lib/ for
# libtorch, its python for references and data) and logs everything to OUT_DIR/gpu_check.log.
# DEVICE=cpu SMALL=1 runs the same steps at toy sizes on the CPU, to check the script itself;
# ONLY=pipeline runs only the three steps (IMAGES COCO-like JPEGs, VG_IMAGES synthetic VG images);
# ONLY=haav the steps of both profiles.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=$(mkdir -p "${1:-target/gpu-check}" && cd "${1:-target/gpu-check}" && pwd)
dev=${DEVICE:-cuda}
small=${SMALL:-0}
py=${XCTX_PYTHON:-python3}
work=${WORK:-/tmp/xctx-gpu}
bin=$root/.gpu/bin
log=$out/gpu_check.log
mkdir -p "$work"
[ -f "$bin/encode-images" ] || xz -d -T0 "$bin"/*.xz
torch_lib=$($py -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XCTX_WORKSPACE_ROOT=$root XCTX_PYTHON=$py XCTX_BIN_DIR=$bin HDF5_USE_FILE_LOCKING=FALSE
export RUST_BACKTRACE=1

# step NAME LIMIT_S CMD...: runs CMD under a time limit, output and wall time into the log.
step() {
  local name=$1 limit=$2 t0 rc
  shift 2
  echo "=== $name" | tee -a "$log"
  t0=$(date +%s%N)
  timeout "$limit" "$@" >>"$log" 2>&1
  rc=$?
  echo "=== $name: rc=$rc wall_s=$(( ($(date +%s%N) - t0) / 1000000 ))e-3" | tee -a "$log"
}
size() { if [ "$small" = 1 ]; then echo "$2"; else echo "$1"; fi; }

only=${ONLY:-all}
step machine 30 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1; nproc; $py -c 'import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())'; $bin/xctx-doctor"

if [ "$only" = all ]; then
# CUDA tests: each against the CPU path or NumPy, in the same run.
step test-clip-encoder-cuda 120 "$bin/test-clip-cuda" --ignored --nocapture --test-threads 1
step test-retrieval-cuda 180 "$bin/test-retrieval-search" cuda --ignored --nocapture --test-threads 1
step test-pipeline-cuda 180 "$bin/test-pipeline-e2e" cuda --ignored --nocapture

fi

# A ViT-B/32-shaped random checkpoint, made with the machine's transformers.
ckpt=$work/vit-b-32
[ -f "$ckpt/model.safetensors" ] ||
  step make-checkpoint 120 env XCTX_BPE_VOCAB="$root/.gpu/bpe_simple_vocab_16e6.txt.gz" \
    "$py" scripts/make_tiny_clip.py "$ckpt" --preset "$(size vit-b-32 a)"

if [ "$only" = all ]; then
# clip-encoder throughput, fp32 and fp16, and fp16's error on this device.
# `images`: from host memory (f32, as a caller's slice); `images-resident`: the model alone.
for prec in fp32 half; do
  step "clip-images-$prec" 60 "$bin/clip-bench" "$ckpt" images "$(size 8192 64)" "$(size 512 32)" "$dev" "$prec"
  step "clip-images-resident-$prec" 60 "$bin/clip-bench" "$ckpt" images-resident "$(size 16384 64)" "$(size 512 32)" "$dev" "$prec"
  step "clip-texts-$prec" 60 "$bin/clip-bench" "$ckpt" texts "$(size 65536 256)" "$(size 2048 128)" "$dev" "$prec"
done
step clip-half-error 60 "$bin/clip-bench" "$ckpt" half-error "$(size 1024 32)" "$(size 256 32)" "$dev"

# Retrieval at full scale: 2M keys, 1.85M queries, k 16.
step retrieval-full-scale 240 "$bin/retrieval-bench" synth "$(size 2000000 20000)" "$(size 1850000 3000)" 16 "$dev"

fi

# The three steps on COCO-like JPEGs (64 distinct photos, copied) and synthetic VG; info logs
# on (model load, where the time went).
n=$(size "${IMAGES:-4000}" 40)
data=$work/coco-like-$n
[ -f "$data/coco/annotations/coco_train_ids.npy" ] || step make-coco-like 120 "$py" benches/make_coco_like.py "$data" "$n" 64
vg=$work/vg-${VG_IMAGES:-5000}
[ -f "$vg/attributes.json" ] || step make-vg 120 "$py" benches/make_vg.py "$vg" "$(size "${VG_IMAGES:-5000}" 20)"
half=$([ "$dev" = cpu ] || echo --half)
o=$work/out
step encode-captions 240 "$bin/encode-captions" --ann-dir "$vg" --model "$ckpt" --out "$o/caption_db.hdf5" \
  --device "$dev" $half --batch-size 2048 --overwrite
step encode-images 240 "$bin/encode-images" --dataset-root "$data/coco" --model "$ckpt" --out "$o/vis_ctx.hdf5" \
  --device "$dev" $half --batch-size 256 --overwrite
step retrieve-captions 240 "$bin/retrieve-captions" --dataset-root "$data/coco" --model "$ckpt" \
  --caption-db "$o/caption_db.hdf5" --out "$o/txt_ctx.hdf5" --device "$dev" $half --batch-size 64 --overwrite
# One pass for both contexts (the streaming pipeline), per-stage clocks at -v, GPU busy sampled by
# nvidia-smi dmon meanwhile; then the CPU side alone (stand-in model) at this machine's cores.
dmon=$out/dmon-one-pass.txt
if command -v nvidia-smi >/dev/null && [ "$dev" != cpu ]; then nvidia-smi dmon -s u -d 1 >"$dmon" 2>&1 & dmon_pid=$!; fi
step retrieve-captions-vis-out 240 "$bin/retrieve-captions" --dataset-root "$data/coco" --model "$ckpt" \
  --caption-db "$o/caption_db.hdf5" --out "$o/txt_ctx_one_pass.hdf5" --vis-out "$o/vis_ctx_one_pass.hdf5" \
  --device "$dev" $half --batch-size 64 --overwrite -v
[ -n "${dmon_pid:-}" ] && kill "$dmon_pid" 2>/dev/null
[ -f "$dmon" ] && cp "$dmon" "$log.dmon" && echo "GPU SM busy % (mean over samples > 0): $(awk '$1 ~ /^[0-9]+$/ && $2 > 0 { s += $2; n++ } END { if (n) printf "%.1f", s / n }' "$dmon")" | tee -a "$log"
# The same one pass with the inputs normalised on the CPU (f16 pixels copied) instead of on the
# device (u8 levels copied, the default on CUDA): the values are the same, the rates compared.
step retrieve-captions-vis-out-host-normalise 240 "$bin/retrieve-captions" --dataset-root "$data/coco" \
  --model "$ckpt" --caption-db "$o/caption_db.hdf5" --out "$o/txt_ctx_host.hdf5" --vis-out "$o/vis_ctx_host.hdf5" \
  --device "$dev" $half --batch-size 64 --overwrite -v --normalise host
# The searches' time over the bare products of the same searches, in the pipeline (issue 16:
# at most 1.3x), in a run of its own (the measurement adds the products' time to the loop).
step retrieve-captions-measure-search 240 "$bin/retrieve-captions" --dataset-root "$data/coco" \
  --model "$ckpt" --caption-db "$o/caption_db.hdf5" --out "$o/txt_ctx_measured.hdf5" \
  --device "$dev" $half --batch-size 64 --overwrite --measure-search
step pipeline-bench 240 "$bin/pipeline-bench" "$data/coco/train2014" "$(nproc)" 64 u8
# crops per core and on every core (issue 17: N threads >= 0.8 x N x one thread's), in f16 and u8.
for t in 1 "$(nproc)"; do
  for e in f16 u8; do step "crops-bench-$t-$e" 120 "$bin/crops-bench" "$data/coco/train2014" "$t" "$e"; done
done
# Projection for all of COCO (123,287 images) from the one-pass loop rate, printed by
# benches/project_coco.py from this log.
"$py" benches/project_coco.py "$log" | tee -a "$log"
[ "$only" = all ] && step encode-captions-original-layout 240 "$bin/encode-captions" --ann-dir "$vg" --model "$ckpt" \
  --out "$o/caption_db_original.hdf5" --device "$dev" $half --batch-size 2048 --layout original --overwrite
step inspect 30 bash -c "$bin/ctx-inspect $o/caption_db.hdf5; $bin/ctx-inspect $o/vis_ctx.hdf5; $bin/ctx-inspect $o/txt_ctx.hdf5"

# HAAV's profile: the same three steps with the same checkpoint (compare the loop rates with
# the original's above), then ViT-L/14 (HAAV's model of captions and queries) for captions and
# retrieval. ONLY=haav runs this part alone (after the data and checkpoint above).
if [ "$only" = all ] || [ "$only" = haav ]; then
h=$work/out-haav
step haav-encode-captions 240 "$bin/encode-captions" --profile haav --ann-dir "$vg" --model "$ckpt" \
  --out "$h/caption_db.hdf5" --device "$dev" $half --batch-size 2048 --overwrite -v
step haav-encode-images 240 "$bin/encode-images" --profile haav --dataset-root "$data/coco" --model "$ckpt" \
  --out "$h/vis_ctx.hdf5" --device "$dev" $half --batch-size 256 --overwrite -v
step haav-retrieve-captions 240 "$bin/retrieve-captions" --profile haav --dataset-root "$data/coco" --model "$ckpt" \
  --caption-db "$h/caption_db.hdf5" --out "$h/txt_ctx.hdf5" --device "$dev" $half --batch-size 64 --overwrite -v
l14=$work/vit-l-14
[ -f "$l14/model.safetensors" ] ||
  step make-checkpoint-l14 180 env XCTX_BPE_VOCAB="$root/.gpu/bpe_simple_vocab_16e6.txt.gz" \
    "$py" scripts/make_tiny_clip.py "$l14" --preset "$(size vit-l-14 l14)"
step haav-l14-encode-captions 300 "$bin/encode-captions" --profile haav --ann-dir "$vg" --model "$l14" \
  --out "$h/caption_db_l14.hdf5" --device "$dev" $half --batch-size 2048 --overwrite -v
step haav-l14-retrieve-captions 300 "$bin/retrieve-captions" --profile haav --dataset-root "$data/coco" --model "$l14" \
  --caption-db "$h/caption_db_l14.hdf5" --out "$h/txt_ctx_l14.hdf5" --device "$dev" $half --batch-size 64 --overwrite -v
step haav-inspect 30 bash -c "$bin/ctx-inspect --check $h/vis_ctx.hdf5; $bin/ctx-inspect --check $h/txt_ctx_l14.hdf5"
fi
echo "=== done" | tee -a "$log"
