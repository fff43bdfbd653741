#!/usr/bin/env bash
# crops against the original's Pillow + CLIPFeatureExtractor(4.17) path on the same COCO-like
# JPEGs (640x480, quality 90), in the same run (docs/benchmarks.md). IMAGES=200 by default.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${CROPS_DIR:-$root/target/bench/coco-like}
n=${IMAGES:-200}
cargo build --release -q -p xctx-benches --bin crops-bench
[ "$(ls "$dir"/*.jpg 2>/dev/null | wc -l)" -ge "$n" ] || .venv/bin/python benches/crops_reference.py make "$dir" "$n"
py=$(.venv/bin/python benches/crops_reference.py run "$dir"); echo "python (1 core) $py"
one=$(target/release/crops-bench "$dir" 1); echo "crops $one"
two=$(target/release/crops-bench "$dir" 2); echo "crops $two"
dec=$(target/release/crops-bench "$dir" 1 decode-only); echo "crops $dec"
.venv/bin/python - "$py" "$one" "$two" "$dec" <<'PY'
import json, sys
py, one, two, dec = (json.loads(a) for a in sys.argv[1:])
print(f"per core: crops {one['images_per_s']:.1f} images/s vs python {py['images_per_s']:.1f}: {one['images_per_s'] / py['images_per_s']:.2f}x")
print(f"2 cores: {two['images_per_s']:.1f} images/s; decode-only floor (1 core): {dec['images_per_s']:.1f} images/s "
      f"(decode is {one['images_per_s'] / dec['images_per_s'] * 100:.0f}% of the full per-image time)")
PY
