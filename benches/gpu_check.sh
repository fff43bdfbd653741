#!/usr/bin/env bash
# The CUDA checks and GPU benchmarks as one command for a lent GPU machine (docs/benchmarks.md,
# "GPU"), sized to fit one call of at most 600 s with start-up: its parts, in priority order,
# each with a time budget on an H100 (the budgets sum to 460 s):
#
#   pipeline  160 s  the streaming pipeline's targets: the one-pass run (retrieve-captions
#                    --vis-out, -v stage clocks, GPU busy from nvidia-smi dmon), its search
#                    measured against the bare products, the projection for COCO
#   compare    60 s  encode-images on CUDA (--batch-size 1 --num-workers 16: every pinned
#                    buffer reused many times) against the CPU on 256 distinct images, each at a
#                    cosine of at least 0.99999
#   tests     110 s  the CUDA tests (retrieval, clip-encoder, the steps against the CPU)
#   haav       80 s  the three steps in HAAV's profile (B/32-shaped checkpoint)
#   bench      50 s  clip-encoder, retrieval at 2 M keys, crops on every core
#
# and `l14` (not in the default list: HAAV's L/14-shaped checkpoint, 1.7 GB made on the CPU).
#
# Here: `bash benches/gpu_pack.sh` (binaries into .gpu/); there, in the repository root:
#
#     bash benches/gpu_check.sh [OUT_DIR]        # OUT_DIR defaults to $OUT, else target/gpu-check
#
# with .gpu and target/xctx-fixtures carried. ONLY=pipeline,compare runs those parts (in the
# order given). Every step runs under `timeout -k` (a step stuck before its loop is killed), its
# output goes to OUT_DIR/NAME.log as it runs, and OUT_DIR/gpu_check.log gets each step's status
# and wall time, so a run cut short still returns what it did. It uses the machine's PyTorch
# (its lib/ for libtorch, its python for references and data): a missing Python module is named
# in one line before anything runs.
#
# DEVICE=cpu SMALL=1 runs the same parts at toy sizes on the CPU with the debug binaries of this
# checkout (BIN_DIR, default target/debug there), to check the script itself (`make gpu-dry-run`).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dest=${1:-${OUT:-target/gpu-check}}
out=$(mkdir -p "$dest" && cd "$dest" && pwd)
dev=${DEVICE:-cuda}
small=${SMALL:-0}
py=${XCTX_PYTHON:-python3}
work=${WORK:-/tmp/xctx-gpu}
log=$out/gpu_check.log
if [ "$dev" = cpu ]; then bin=${BIN_DIR:-$root/target/debug}; else bin=${BIN_DIR:-$root/.gpu/bin}; fi
mkdir -p "$work"
size() { if [ "$small" = 1 ]; then echo "$2"; else echo "$1"; fi; }
say() { echo "$*" | tee -a "$log"; }

# Python modules the parts need (make_tiny_clip: torch, transformers, safetensors; the data:
# numpy, PIL, skimage; the references and comparisons: h5py; the IVF test: faiss).
missing=$("$py" - <<'EOF' 2>&1
import importlib.util
mods = ["torch", "transformers", "safetensors", "numpy", "PIL", "skimage", "h5py", "faiss"]
print(" ".join(m for m in mods if importlib.util.find_spec(m) is None))
EOF
)
if [ -n "$missing" ]; then
  say "preflight: missing Python modules for $py: $missing"
  exit 2
fi
if [ -n "$(ls "$bin"/*.xz 2>/dev/null)" ]; then xz -d -f -T0 "$bin"/*.xz; fi
for b in encode-images encode-captions retrieve-captions ctx-inspect; do
  [ -x "$bin/$b" ] || { say "preflight: $bin/$b missing (bash benches/gpu_pack.sh, or cargo build)"; exit 2; }
done
torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XCTX_WORKSPACE_ROOT=$root XCTX_PYTHON=$py XCTX_BIN_DIR=$bin HDF5_USE_FILE_LOCKING=FALSE
export RUST_BACKTRACE=1

# part NAME BUDGET_S: the steps that follow share BUDGET_S seconds.
part_end=0
failed=()
part() {
  part_end=$(( $(date +%s) + $2 ))
  say "##### part $1 (budget $2 s)"
}
# step NAME LIMIT_S CMD...: CMD under min(LIMIT_S, what is left of the part's budget), killed
# 10 s after its SIGTERM; its output in OUT_DIR/NAME.log (and the main log), status and wall
# time in the main log.
step() {
  local name=$1 limit=$2 left t0 rc
  shift 2
  left=$(( part_end - $(date +%s) ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -le 0 ]; then
    say "=== $name: skipped (the part's budget is spent)"
    failed+=("$name")
    return 1
  fi
  say "=== $name"
  t0=$(date +%s%N)
  timeout -k 10 "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  cat "$out/$name.log" >>"$log"
  say "=== $name: rc=$rc wall_s=$(( ($(date +%s%N) - t0) / 1000000 ))e-3"
  [ "$rc" = 0 ] || failed+=("$name")
  return "$rc"
}

half=$([ "$dev" = cpu ] || echo --half)
# CLIP's BPE file: packed into .gpu/ (no open-clip-torch there), else open-clip-torch's own.
bpe=${BPE:-$root/.gpu/bpe_simple_vocab_16e6.txt.gz}
[ -f "$bpe" ] || bpe=
ckpt=$work/vit-b-32
# At toy sizes the tests' tiny checkpoint does (made by `make test`), when it is there.
fixture=$root/target/xctx-fixtures/tiny-clip-a
[ "$small" = 1 ] && [ -f "$fixture/model.safetensors" ] && ckpt=$fixture
n=$(size "${IMAGES:-4000}" 8)
data=$work/coco-like-$n
vg=$work/vg-${VG_IMAGES:-5000}-$small
o=$work/out

# The data and checkpoint the parts share (made once per machine, inside the first part's budget).
shared() {
  [ -f "$ckpt/model.safetensors" ] ||
    step make-checkpoint 60 env XCTX_BPE_VOCAB="$bpe" \
      "$py" scripts/make_tiny_clip.py "$ckpt" --preset "$(size vit-b-32 a)"
  [ -f "$data/coco/annotations/coco_train_ids.npy" ] ||
    step make-coco-like 40 "$py" benches/make_coco_like.py "$data" "$n" 64
  [ -f "$vg/attributes.json" ] ||
    step make-vg 30 "$py" benches/make_vg.py "$vg" "$(size "${VG_IMAGES:-5000}" 20)"
  [ -f "$o/caption_db.hdf5" ] ||
    step encode-captions 40 "$bin/encode-captions" --ann-dir "$vg" --model "$ckpt" \
      --out "$o/caption_db.hdf5" --device "$dev" $half --batch-size 2048 --overwrite -v
}

run_pipeline() {
  part pipeline 160
  rm -f "$o/caption_db.hdf5" # encode-captions runs in this part: the projection reads its time
  step machine 15 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1; nproc; $py -c 'import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())'; $bin/xctx-doctor"
  shared
  # One pass for both contexts, per-stage clocks at -v (the model stage's wait and the searches'
  # sizes and second passes among them), GPU busy sampled by nvidia-smi dmon meanwhile.
  local dmon=$out/dmon-one-pass.txt dmon_pid=
  if command -v nvidia-smi >/dev/null && [ "$dev" != cpu ]; then
    nvidia-smi dmon -s u -d 1 >"$dmon" 2>&1 & dmon_pid=$!
  fi
  step retrieve-captions-vis-out 60 "$bin/retrieve-captions" --dataset-root "$data/coco" --model "$ckpt" \
    --caption-db "$o/caption_db.hdf5" --out "$o/txt_ctx_one_pass.hdf5" --vis-out "$o/vis_ctx_one_pass.hdf5" \
    --device "$dev" $half --batch-size 64 --overwrite -v
  [ -n "$dmon_pid" ] && kill "$dmon_pid" 2>/dev/null
  [ -s "$dmon" ] && say "GPU SM busy % (mean over samples > 0): $(awk '$1 ~ /^[0-9]+$/ && $2 > 0 { s += $2; n++ } END { if (n) printf "%.1f", s / n }' "$dmon")"
  # The searches' time over the bare products of the same searches, in a run of its own (the
  # measurement adds the products' time to the loop).
  step retrieve-captions-measure-search 45 "$bin/retrieve-captions" --dataset-root "$data/coco" \
    --model "$ckpt" --caption-db "$o/caption_db.hdf5" --out "$o/txt_ctx_measured.hdf5" \
    --device "$dev" $half --batch-size 64 --overwrite --measure-search -v
  "$py" benches/project_coco.py "$log" 2>&1 | tee -a "$log"
}

run_compare() {
  part compare 60
  [ -f "$ckpt/model.safetensors" ] || shared
  local m
  m=$(size 256 16)
  local d=$work/distinct-$m
  [ -f "$d/coco/annotations/coco_train_ids.npy" ] ||
    step make-distinct 20 "$py" benches/make_coco_like.py "$d" "$m" "$m"
  # f32 on both sides (the comparison is of the device path, not of f16).
  step encode-images-cuda-batch-1 30 "$bin/encode-images" --dataset-root "$d/coco" --model "$ckpt" \
    --out "$o/vis_ctx_cuda_b1.hdf5" --device "$dev" --batch-size 1 --num-workers 16 --overwrite -v
  step encode-images-cpu 40 "$bin/encode-images" --dataset-root "$d/coco" --model "$ckpt" \
    --out "$o/vis_ctx_cpu.hdf5" --device cpu --batch-size 64 --overwrite
  step compare-cuda-cpu 10 "$py" benches/compare_vis_ctx.py "$o/vis_ctx_cuda_b1.hdf5" "$o/vis_ctx_cpu.hdf5" 0.99999
}

run_tests() {
  part tests 110
  if [ "$dev" = cpu ]; then
    say "=== tests: skipped on the CPU (the CUDA tests need a GPU)"
    return
  fi
  # Each against the CPU path, NumPy or float64, in the same run.
  step test-retrieval-cuda 45 "$bin/test-retrieval-search" cuda --ignored --nocapture --test-threads 1
  step test-clip-encoder-cuda 25 "$bin/test-clip-cuda" --ignored --nocapture --test-threads 1
  step test-pipeline-cuda 40 "$bin/test-pipeline-e2e" cuda --ignored --nocapture
}

run_haav() {
  part haav 80
  [ -f "$ckpt/model.safetensors" ] || shared
  local h=$work/out-haav
  step haav-encode-captions 25 "$bin/encode-captions" --profile haav --ann-dir "$vg" --model "$ckpt" \
    --out "$h/caption_db.hdf5" --device "$dev" $half --batch-size 2048 --overwrite -v
  step haav-retrieve-captions-vis-out 45 "$bin/retrieve-captions" --profile haav --dataset-root "$data/coco" \
    --model "$ckpt" --caption-db "$h/caption_db.hdf5" --out "$h/txt_ctx.hdf5" --vis-out "$h/vis_ctx.hdf5" \
    --device "$dev" $half --batch-size 64 --overwrite -v
  step haav-inspect 10 bash -c "$bin/ctx-inspect --check $h/vis_ctx.hdf5; $bin/ctx-inspect --check $h/txt_ctx.hdf5"
}

run_bench() {
  part bench 50
  # The benches' binaries are packed with the others (gpu_pack.sh); a debug checkout may lack them.
  local b
  for b in clip-bench retrieval-bench crops-bench; do
    [ -x "$bin/$b" ] || { say "=== bench: skipped ($bin/$b missing)"; return; }
  done
  step clip-images-resident-half 12 "$bin/clip-bench" "$ckpt" images-resident "$(size 16384 16)" "$(size 512 8)" "$dev" "$([ "$dev" = cpu ] && echo fp32 || echo half)"
  # Left out at toy sizes: a debug build's search and crops measure nothing.
  [ "$small" = 1 ] && return
  step retrieval-2m-keys 25 "$bin/retrieval-bench" synth 2000000 200000 16 "$dev"
  step crops-bench-all-cores 10 "$bin/crops-bench" "$data/coco/train2014" "$(nproc)" u8
}

run_l14() {
  part l14 240
  local h=$work/out-haav l14=$work/vit-l-14
  [ -f "$l14/model.safetensors" ] ||
    step make-checkpoint-l14 120 env XCTX_BPE_VOCAB="$bpe" \
      "$py" scripts/make_tiny_clip.py "$l14" --preset "$(size vit-l-14 l14)"
  step haav-l14-encode-captions 60 "$bin/encode-captions" --profile haav --ann-dir "$vg" --model "$l14" \
    --out "$h/caption_db_l14.hdf5" --device "$dev" $half --batch-size 2048 --overwrite -v
  step haav-l14-retrieve-captions 60 "$bin/retrieve-captions" --profile haav --dataset-root "$data/coco" \
    --model "$l14" --caption-db "$h/caption_db_l14.hdf5" --out "$h/txt_ctx_l14.hdf5" --device "$dev" $half \
    --batch-size 64 --overwrite -v
}

: >"$log"
for p in $(echo "${ONLY:-pipeline,compare,tests,haav,bench}" | tr ',' ' '); do
  case $p in
    pipeline | compare | tests | haav | bench | l14) "run_$p" ;;
    *) say "unknown part $p (pipeline, compare, tests, haav, bench, l14)"; exit 2 ;;
  esac
done
if [ "${#failed[@]}" -gt 0 ]; then
  say "=== done; failed or skipped: ${failed[*]}"
  exit 1
fi
say "=== done"
