#!/usr/bin/env bash
# retrieval against faiss-cpu IndexFlatIP (exact) and the original's IVF index (round(8 sqrt n)
# lists, a tenth of them probed) on the same clustered unit vectors, same threads, same run
# (docs/benchmarks.md). Both IVF recalls are against the exact ids of this run.
# KEYS=200000 QUERIES=1500 DIM=512 K=16 THREADS=2 by default; XCTX_SCREENING=bf16|f32 forces
# the exact search's screening type (default: bf16 where the CPU has AVX512-BF16/AMX-BF16).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${KEYS:-200000}; q=${QUERIES:-1500}; d=${DIM:-512}; k=${K:-16}; threads=${THREADS:-2}
dir=$root/target/bench/retrieval-$n-$q-$d
cargo build --release -q -p xctx-benches --bin retrieval-bench
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); flags: $(grep -o 'avx512[a-z0-9_]*\|amx[a-z_]*\|avx2' /proc/cpuinfo | sort -u | xargs)"
[ -f "$dir/keys.f32" ] || .venv/bin/python benches/retrieval_reference.py make "$dir" "$n" "$q" "$d"
py=$(.venv/bin/python benches/retrieval_reference.py run "$dir" "$k" "$threads"); echo "faiss $py"
ivf=$(OMP_NUM_THREADS=$threads target/release/retrieval-bench "$dir" "$k" ivf cpu); echo "retrieval IVF (ours, tch) $ivf"
.venv/bin/python - "$py" "$ivf" <<'PY'
import json, sys
py, rs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert (py["nlist"], py["nprobe"]) == (rs["nlist"], rs["nprobe"]), "not the same lists and probes"
print(f"IVF{rs['nlist']} nprobe {rs['nprobe']}: recall@16 ours {rs['recall']:.3f}, faiss {py['ivf_recall']:.3f}; "
      f"build ours {rs['ivf_build_s']:.1f} s, faiss {py['ivf_build_s']:.1f} s (train {py['ivf_train_s']:.1f} s); "
      f"search ours {rs['ivf_queries_per_s']:.0f} q/s, faiss {py['ivf_queries_per_s']:.0f} q/s")
PY
for p in fast f32; do
  rs=$(OMP_NUM_THREADS=$threads target/release/retrieval-bench "$dir" "$k" $p cpu); echo "retrieval $rs"
  .venv/bin/python - "$py" "$rs" "$q" <<'PY'
import json, sys
py, rs, q = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
kind = rs["screening"] or "f32"
bare = rs["matmul_s"][kind]
print(f"{rs['precision']} ({kind} screening): {rs['queries_per_s']:.0f} q/s vs faiss IndexFlatIP {py['flat_queries_per_s']:.0f} q/s: "
      f"{rs['queries_per_s'] / py['flat_queries_per_s']:.2f}x; rows equal to faiss {rs['rows_equal_faiss']}/{q}; "
      f"re-searched in f32: {rs['rescored']}; search / bare product ({kind}) {rs['search_s'] / bare:.2f}; "
      f"bare products: f32 {rs['matmul_s']['f32']:.2f} s, bf16 {rs['matmul_s']['bf16']:.2f} s")
PY
done
