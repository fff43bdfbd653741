#!/usr/bin/env bash
# xmodal_ctx (the Python package, release build) against ctx-store's Rust preload and h5py, on
# txt_ctx files written by ctx-store in the original's format (random features, phrases of 1-3
# short words; docs/benchmarks.md).
#
#   IMAGES=20000 K=16 D=512   the first file;  FULL=123287 FULL_D=8   the second (FULL=0: skip)
#   BENCH_DIR=DIR             where the files go (default target/bench)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
IMAGES=${IMAGES:-20000} K=${K:-16} D=${D:-512} FULL=${FULL:-123287} FULL_D=${FULL_D:-8}
dir=${BENCH_DIR:-$root/target/bench}
py=$root/.venv/bin/python
XMODAL_PROFILE=release ./scripts/python_package.sh install
cargo build --release -q -p xmodal-py --bin xmodal-py-fixtures
write=$root/target/release/xmodal-py-fixtures
mkdir -p "$dir"
for spec in "$IMAGES $D" "$FULL $FULL_D"; do
  set -- $spec
  [ "$1" -gt 0 ] || continue
  echo "# $(date -u +%FT%TZ) $(nproc) cores, files in $dir: $1 images, k=$K, d=$2"
  "$write" txt "$dir/py.h5" "$1" "$K" "$2"
  "$py" benches/python_vs_h5py.py all "$dir/py.h5"
  rm -f "$dir/py.h5"
done
