#!/usr/bin/env bash
# ctx-store against h5py doing the original's pattern, on the same data shape, in the same run
# (docs/benchmarks.md). Prints one JSON line per measurement and the ratios.
#
#   IMAGES=20000 K=16 D=512   the txt_ctx write/preload comparison
#   FULL=123287 FULL_D=8      the full-scale write (d reduced: the object count is what matters;
#                             FULL=0 skips it)
#   BENCH_DIR=DIR             where the files go (default target/bench; /dev/shm takes the disk
#                             out of the comparison, which needs about 2 x 10 GB of memory)
#   PARTS=txt,caption         which comparisons to run
#   CAPTIONS="200000 1000000" caption_db sizes (phrases) for the load comparison: serial HDF5
#                             load, parallel load and the floor (the float bytes read in
#                             parallel), warm page cache, contiguous layout, d = CAPTION_D (512)
#   GZIP_PHRASES=200000       the original (gzip) layout written by today's serial writer and by
#                             the parallel one (0 skips it)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
IMAGES=${IMAGES:-20000} K=${K:-16} D=${D:-512} FULL=${FULL:-123287} FULL_D=${FULL_D:-8}
PARTS=${PARTS:-txt,caption} CAPTIONS=${CAPTIONS:-200000 1000000} CAPTION_D=${CAPTION_D:-512}
GZIP_PHRASES=${GZIP_PHRASES:-200000}
dir=${BENCH_DIR:-$root/target/bench}
py=$root/.venv/bin/python
ref=$root/benches/h5py_reference.py
cargo build --release -q -p xctx-benches --bin io-bench
bench=$root/target/release/io-bench
mkdir -p "$dir"
ratio() { # ratio NAME FIELD a.json b.json [floor.json] -> b/a, and both against the floor
  "$py" - "$@" <<'PY'
import json, sys
name, field, a, b = sys.argv[1:5]
a, b = json.loads(a), json.loads(b)
print(f"{name}: ctx-store {a[field]:.2f} s, h5py {b[field]:.2f} s, speed-up {b[field] / a[field]:.2f}x")
if len(sys.argv) > 5:
    f = json.loads(sys.argv[5])[field]
    print(f"  floor (the float bytes alone, no HDF5) {f:.2f} s: ctx-store {a[field] / f:.2f}x it,"
          f" h5py {b[field] / f:.2f}x it; a 5x speed-up needs {b[field] / 5:.2f} s"
          f" ({'below' if b[field] / 5 < f else 'above'} the floor)")
PY
}
echo "# $(date -u +%FT%TZ) $(nproc) cores, files in $dir, images=$IMAGES k=$K d=$D"
rm -f "$dir"/*.h5
if [[ ,$PARTS, == *,caption,* ]]; then
  field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
  for n in $CAPTIONS; do
    echo "# caption_db, contiguous layout: $n phrases, keys and features d=$CAPTION_D"
    w=$("$bench" caption-write "$dir/captions.h5" "$n" "$CAPTION_D" contiguous); echo "write   $w"
    cat "$dir/captions.h5" >/dev/null # warm page cache for all three
    serial=$("$bench" caption-load "$dir/captions.h5" serial); echo "serial  $serial"
    par=$("$bench" caption-load "$dir/captions.h5"); echo "parallel $par"
    floor=$("$bench" caption-floor "$dir/captions.h5"); echo "floor   $floor"
    "$py" -c 'import sys; s, p, f = map(float, sys.argv[1:4]); print(f"load {int(sys.argv[4])} phrases: serial {s:.2f} s, parallel {p:.2f} s ({s / p:.2f}x faster), floor {f:.2f} s (parallel {p / f:.2f}x the floor)")' \
      "$(field "$serial" seconds)" "$(field "$par" seconds)" "$(field "$floor" seconds)" "$n"
    rm -f "$dir/captions.h5"
  done
  if [ "$GZIP_PHRASES" -gt 0 ]; then
    echo "# caption_db, original (gzip) layout: $GZIP_PHRASES phrases, d=$CAPTION_D"
    s=$("$bench" caption-write "$dir/gzip-serial.h5" "$GZIP_PHRASES" "$CAPTION_D" original serial); echo "serial  $s"
    p=$("$bench" caption-write "$dir/gzip.h5" "$GZIP_PHRASES" "$CAPTION_D" original); echo "parallel $p"
    cat "$dir/gzip.h5" >/dev/null
    ls=$("$bench" caption-load "$dir/gzip.h5" serial); echo "serial  $ls"
    lp=$("$bench" caption-load "$dir/gzip.h5"); echo "parallel $lp"
    "$py" -c 'import sys; a, b, c, d = map(float, sys.argv[1:5]); print(f"gzip layout, {sys.argv[5]} phrases: write serial {a:.2f} s, parallel {b:.2f} s ({a / b:.2f}x); load serial {c:.2f} s, parallel {d:.2f} s ({c / d:.2f}x)")' \
      "$(field "$s" seconds)" "$(field "$p" seconds)" "$(field "$ls" seconds)" "$(field "$lp" seconds)" "$GZIP_PHRASES"
    ls -l "$dir/gzip-serial.h5" "$dir/gzip.h5"
    rm -f "$dir/gzip-serial.h5" "$dir/gzip.h5"
  fi
fi
[[ ,$PARTS, == *,txt,* ]] || exit 0
# Each write starts in an empty directory (memory is tight at 2 x 10 GB).
ourw=$("$bench" write "$dir/ours.h5" "$IMAGES" "$K" "$D"); echo "ctx-store $ourw"
rm -f "$dir/ours.h5"
# The floors: the same float bytes written / read with nothing else (io-bench floor-*).
floorw=$("$bench" floor-write "$dir/floor.bin" "$IMAGES" "$K" "$D"); echo "floor   $floorw"
rm -f "$dir/floor.bin"
h5w=$("$py" "$ref" write "$dir/ref.h5" "$IMAGES" "$K" "$D"); echo "h5py    $h5w"
ratio "write $IMAGES txt_ctx images" seconds "$ourw" "$h5w" "$floorw"
cat "$dir/ref.h5" >/dev/null # same warm page cache for both readers
ourp=$("$bench" preload "$dir/ref.h5"); echo "ctx-store $ourp"
cat "$dir/ref.h5" >/dev/null
h5p=$("$py" "$ref" preload "$dir/ref.h5"); echo "h5py    $h5p"
cat "$dir/ref.h5" >/dev/null
floorp=$("$bench" floor-read "$dir/ref.h5" "$IMAGES" "$K" "$D"); echo "floor   $floorp"
ratio "preload $IMAGES txt_ctx images (the original's file)" seconds "$ourp" "$h5p" "$floorp"
"$py" -c 'import json,sys; a=json.loads(sys.argv[1]); print("ctx-store preload peak RSS / loaded payload: %.3f" % (a["peak_rss_bytes"]/a["payload_bytes"]))' "$ourp"
rm -f "$dir/ref.h5"
if [ "$FULL" -gt 0 ]; then
  echo "# full scale: $FULL images, k=$K, d=$FULL_D ($((FULL * 13)) objects)"
  h5f=$("$py" "$ref" write "$dir/full-ref.h5" "$FULL" "$K" "$FULL_D"); echo "h5py    $h5f"
  rm -f "$dir/full-ref.h5"
  ourf=$("$bench" write "$dir/full-ours.h5" "$FULL" "$K" "$FULL_D"); echo "ctx-store $ourf"
  floorfw=$("$bench" floor-write "$dir/full-floor.bin" "$FULL" "$K" "$FULL_D"); echo "floor   $floorfw"
  rm -f "$dir/full-floor.bin"
  ratio "write $FULL txt_ctx images, d=$FULL_D" seconds "$ourf" "$h5f" "$floorfw"
  ls -l "$dir/full-ours.h5"
  cat "$dir/full-ours.h5" >/dev/null
  ourfp=$("$bench" preload "$dir/full-ours.h5"); echo "ctx-store $ourfp"
  floorfp=$("$bench" floor-read "$dir/full-ours.h5" "$FULL" "$K" "$FULL_D"); echo "floor   $floorfp"
  "$py" -c 'import json,sys; a,f=(json.loads(x)["seconds"] for x in sys.argv[1:3]); print(f"preload {sys.argv[3]} images, d={sys.argv[4]}, our file: {a:.2f} s, floor {f:.2f} s ({a / f:.2f}x it)")' "$ourfp" "$floorfp" "$FULL" "$FULL_D"
  rm -f "$dir/full-ours.h5"
fi
