#!/usr/bin/env bash
# Full-scale Visual Genome parse: datasets::phrase_database against the Python mirror
# (docs/benchmarks.md). VG_DIR defaults to target/bench/vg; the files are generated once.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${VG_DIR:-$root/target/bench/vg}
cargo build --release -q -p xctx-benches --bin vg-bench
[ -f "$dir/relationships.json" ] || .venv/bin/python benches/make_vg.py "$dir" "${VG_IMAGES:-108077}"
.venv/bin/python benches/datasets_vs_python.py "$dir"
