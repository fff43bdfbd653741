#!/usr/bin/env bash
# xmodal_ctx (the Python package, release build) against ctx-store's Rust preload and h5py, on
# txt_ctx files written by ctx-store in the original's format (docs/benchmarks.md).
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
cargo build --release -q -p xctx-benches --bin io-bench
bench=$root/target/release/io-bench
mkdir -p "$dir"
for spec in "$IMAGES $D" "$FULL $FULL_D"; do
  set -- $spec
  [ "$1" -gt 0 ] || continue
  echo "# $(date -u +%FT%TZ) $(nproc) cores, files in $dir: $1 images, k=$K, d=$2"
  "$bench" write "$dir/py.h5" "$1" "$K" "$2" >/dev/null
  "$py" benches/python_vs_h5py.py all "$dir/py.h5" "$bench"
  rm -f "$dir/py.h5"
done
