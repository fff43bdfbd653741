#!/usr/bin/env bash
# crops against the original's Pillow + CLIPFeatureExtractor(4.17) path on the same COCO-like
# JPEGs (640x480, quality 90), in the same run (docs/benchmarks.md). IMAGES=200 by default.
# OLD=path/to/crops-bench built from an earlier commit: that build runs too, alternated with this
# one, and the ratios this/old are printed (per core and on 2 threads).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${CROPS_DIR:-$root/target/bench/coco-like}
n=${IMAGES:-200}
old=${OLD:-}
cargo build --release -q -p xctx-benches --bin crops-bench
[ "$(ls "$dir"/*.jpg 2>/dev/null | wc -l)" -ge "$n" ] || .venv/bin/python benches/crops_reference.py make "$dir" "$n"
new=target/release/crops-bench
py=$(.venv/bin/python benches/crops_reference.py run "$dir"); echo "python (1 core) $py"
[ -z "$old" ] || { o1=$("$old" "$dir" 1); echo "old $o1"; }
one=$($new "$dir" 1); echo "crops $one"
[ -z "$old" ] || { o2=$("$old" "$dir" 2); echo "old $o2"; }
two=$($new "$dir" 2); echo "crops $two"
half=$($new "$dir" 1 f16); echo "crops $half"
levels=$($new "$dir" 1 u8); echo "crops $levels"
dec=$($new "$dir" 1 decode-only); echo "crops $dec"
.venv/bin/python - "$py" "$one" "$two" "$half" "$dec" "$levels" "${o1:-}" "${o2:-}" <<'PY'
import json, sys
py, one, two, half, dec, levels = (json.loads(a) for a in sys.argv[1:7])
o1, o2 = (json.loads(a) if a else None for a in sys.argv[7:9])
r = lambda d: d["images_per_s"]
print(f"per core: crops {r(one):.1f} images/s (f16 {r(half):.1f}, u8 levels {r(levels):.1f}) "
      f"vs python {r(py):.1f}: {r(one) / r(py):.2f}x")
print(f"2 threads: {r(two):.1f} images/s ({r(two) / r(one):.2f}x one thread); decode-only floor (1 core): "
      f"{r(dec):.1f} images/s (decode is {r(one) / r(dec) * 100:.0f}% of the full per-image time)")
if o1:
    print(f"this build / old build: {r(one) / r(o1):.2f}x per core ({r(o1):.1f} -> {r(one):.1f} images/s), "
          f"{r(two) / r(o2):.2f}x on 2 threads ({r(o2):.1f} -> {r(two):.1f})")
PY
