#!/usr/bin/env bash
# clip-encoder against transformers on the same full-size random checkpoint (PRESET vit-b-32 or
# vit-l-14, from scripts/make_tiny_clip.py), same threads, same batch, fp32 on the CPU
# (docs/benchmarks.md). MODES (the original's images and texts, HAAV's images-grid and
# texts-clip), IMAGES, TEXTS, BATCH, THREADS.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
preset=${PRESET:-vit-b-32}
ckpt=${CKPT:-$root/target/bench/clip-$preset-random}
threads=${THREADS:-2}; batch=${BATCH:-32}; images=${IMAGES:-128}; texts=${TEXTS:-2048}
cargo build --release -q -p xctx-benches --bin clip-bench
[ -f "$ckpt/model.safetensors" ] || .venv/bin/python scripts/make_tiny_clip.py "$ckpt" --preset "$preset" >/dev/null
for mode in ${MODES:-images texts images-grid texts-clip}; do
  n=$images; [[ $mode = texts* ]] && n=$texts
  py=$(.venv/bin/python benches/clip_reference.py "$ckpt" $mode "$n" "$batch" "$threads")
  rs=$(OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads target/release/clip-bench "$ckpt" $mode "$n" "$batch" cpu)
  .venv/bin/python - "$mode" "$py" "$rs" <<'PY'
import json, sys
mode, py, rs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{mode}: clip-encoder {rs['items_per_s']:.1f}/s ({rs['threads']} threads) vs transformers "
      f"{py['items_per_s']:.1f}/s ({py['threads']} threads), batch {rs['batch']}: "
      f"{rs['items_per_s'] / py['items_per_s']:.2f}x")
PY
done
