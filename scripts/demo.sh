#!/usr/bin/env bash
# `make demo`: the three pipeline steps on the bundled sample (7 real photos from the
# scikit-image wheel laid out as COCO, a small Visual Genome), then each image's top phrases for
# the whole image, the same for a Flickr30k-style image list, and the time of each step.
#
# MODEL=DIR uses a real Hugging Face CLIP checkpoint (e.g. openai/clip-vit-base-patch32 saved
# with safetensors); without it a tiny random-weight checkpoint is made, whose phrases are
# MEANINGLESS: it shows the pipeline working, not CLIP's judgement. DEVICE=cuda to use a GPU.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${OUT:-outputs/demo}
device=${DEVICE:-auto}
# The first build compiles libtorch's bindings and the HDF5 C library: about 10 minutes on two
# cores (seconds afterwards). Cargo's own progress shows, so a build is not taken for a hang.
if [ ! -x target/release/retrieve-captions ]; then
  echo "demo: first release build of the pipeline binaries (about 10 minutes on 2 cores; cargo's progress below)" >&2
fi
cargo build --release -p xctx-bins
.venv/bin/python scripts/make_sample.py "$out/data" >/dev/null
model=${MODEL:-}
if [ -z "$model" ]; then
  model=outputs/models/tiny-clip-random
  [ -f "$model/model.safetensors" ] || .venv/bin/python scripts/make_tiny_clip.py "$model" --preset a >/dev/null 2>&1
  echo "model: $model (tiny, RANDOM weights: the phrases below mean nothing; MODEL=DIR for a real one)"
else
  echo "model: $model"
fi
bin=target/release
declare -A took
step() {
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  "$bin/$name" "$@" --device "$device" --overwrite --quiet
  took[$name]=$(( ($(date +%s%N) - t0) / 1000000 ))
}
echo
step encode-images --dataset-root "$out/data/coco" --model "$model" --out "$out/vis_ctx.hdf5"
step encode-captions --ann-dir "$out/data/vg" --model "$model" --out "$out/caption_db.hdf5"
step retrieve-captions --dataset-root "$out/data/coco" --model "$model" --caption-db "$out/caption_db.hdf5" --k 16 --out "$out/txt_ctx.hdf5"
for f in vis_ctx caption_db txt_ctx; do echo; "$bin/ctx-inspect" "$out/$f.hdf5"; done
for id in $(.venv/bin/python -c "import h5py, sys; print(*sorted(map(int, h5py.File(sys.argv[1]).keys())))" "$out/txt_ctx.hdf5"); do
  echo; "$bin/ctx-inspect" "$out/txt_ctx.hdf5" --id "$id" --view whole --top-k 5
done
# One source other than COCO's layout: Flickr30k-style Karpathy split file (ids = file stems).
.venv/bin/python scripts/make_sources.py "$out/data/sources" >/dev/null
echo; echo "a Flickr30k-style Karpathy split (--images karpathy:...):"
"$bin/retrieve-captions" --images "karpathy:$out/data/sources/karpathy_flickr.json" \
  --image-root "$out/data/sources/flickr" --model "$model" --caption-db "$out/caption_db.hdf5" \
  --k 16 --out "$out/flickr_txt_ctx.hdf5" --device "$device" --overwrite --quiet
"$bin/ctx-inspect" "$out/flickr_txt_ctx.hdf5" --id 1000092795 --view whole --top-k 3
echo
echo "time per step (including model load):"
for s in encode-images encode-captions retrieve-captions; do printf "  %-18s %6d ms\n" "$s" "${took[$s]}"; done
