#!/usr/bin/env bash
# retrieval against faiss-cpu IndexFlatIP (exact) and the original's IVF index on the same
# clustered unit vectors, same threads, same run (docs/benchmarks.md).
# KEYS=200000 QUERIES=1500 DIM=512 K=16 THREADS=2 by default.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${KEYS:-200000}; q=${QUERIES:-1500}; d=${DIM:-512}; k=${K:-16}; threads=${THREADS:-2}
dir=$root/target/bench/retrieval-$n-$q-$d
cargo build --release -q -p xctx-benches --bin retrieval-bench
[ -f "$dir/keys.f32" ] || .venv/bin/python benches/retrieval_reference.py make "$dir" "$n" "$q" "$d"
py=$(.venv/bin/python benches/retrieval_reference.py run "$dir" "$k" "$threads"); echo "faiss $py"
ivf=$(OMP_NUM_THREADS=$threads target/release/retrieval-bench "$dir" "$k" ivf cpu); echo "retrieval IVF (ours, tch) $ivf"
for p in fast f32; do
  rs=$(OMP_NUM_THREADS=$threads target/release/retrieval-bench "$dir" "$k" $p cpu); echo "retrieval $rs"
  .venv/bin/python - "$py" "$rs" "$q" <<'PY'
import json, sys
py, rs, q = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
bare = rs["matmul_s"]["bf16" if rs["precision"] == "Fast" else "f32"]
print(f"{rs['precision']}: {rs['queries_per_s']:.0f} q/s vs faiss IndexFlatIP {py['flat_queries_per_s']:.0f} q/s: "
      f"{rs['queries_per_s'] / py['flat_queries_per_s']:.2f}x; rows equal to faiss {rs['rows_equal_faiss']}/{q}; "
      f"re-searched in f32: {rs['rescored']}; search / bare product ({'bf16' if rs['precision'] == 'Fast' else 'f32'}) "
      f"{rs['search_s'] / bare:.2f}; original IVF: {py['ivf_queries_per_s']:.0f} q/s, recall@16 {py['ivf_recall']:.3f}")
PY
done
