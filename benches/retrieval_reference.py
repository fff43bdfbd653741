"""faiss side of benches/retrieval_vs_faiss.sh.

    python retrieval_reference.py make DIR N Q D     # clustered unit keys and queries
    python retrieval_reference.py run DIR K THREADS  # IndexFlatIP and the original's IVF

`run` prints IndexFlatIP's queries/s (and writes DIR/faiss_ids.i64, the exact ids), and for
the original's `IVF{L},Flat` index with L = round(8*sqrt(n)) lists and nprobe = max(1, L // 10)
lists probed (a tenth of the lists, as the original sets it; not a tenth of K): train and add
seconds, queries/s and recall@K against the exact ids of the same run.
"""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

mode, d = sys.argv[1], Path(sys.argv[2])
if mode == "make":
    n, q, dim = (int(a) for a in sys.argv[3:6])
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, dim)).astype(np.float32)

    def sample(m):
        x = centres[rng.integers(0, len(centres), m)] + 0.6 * rng.standard_normal((m, dim)).astype(np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("<f4")

    d.mkdir(parents=True, exist_ok=True)
    sample(n).tofile(d / "keys.f32")
    sample(q).tofile(d / "queries.f32")
    (d / "shape.json").write_text(json.dumps({"n": n, "q": q, "d": dim}))
    sys.exit(0)

import faiss  # noqa: E402

k, threads = int(sys.argv[3]), int(sys.argv[4])
faiss.omp_set_num_threads(threads)
shape = json.loads((d / "shape.json").read_text())
keys = np.fromfile(d / "keys.f32", dtype="<f4").reshape(shape["n"], shape["d"])
queries = np.fromfile(d / "queries.f32", dtype="<f4").reshape(shape["q"], shape["d"])
flat = faiss.IndexFlatIP(shape["d"])
flat.add(keys)
flat.search(queries[:64], k)
t = time.perf_counter()
_, ids = flat.search(queries, k)
flat_s = time.perf_counter() - t
ids.astype("<i8").tofile(d / "faiss_ids.i64")

nlist = round(8 * math.sqrt(shape["n"]))
t = time.perf_counter()
ivf = faiss.index_factory(shape["d"], f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
ivf.train(keys)
train_s = time.perf_counter() - t
ivf.add(keys)
build_s = time.perf_counter() - t
ivf.nprobe = max(1, nlist // 10)
ivf.search(queries[:64], k)
t = time.perf_counter()
_, ivf_ids = ivf.search(queries, k)
ivf_s = time.perf_counter() - t
recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, ivf_ids)])
print(json.dumps({"flat_queries_per_s": shape["q"] / flat_s, "ivf_queries_per_s": shape["q"] / ivf_s,
                  "ivf_build_s": build_s, "ivf_train_s": train_s, "ivf_recall": float(recall),
                  "nlist": nlist, "nprobe": ivf.nprobe,
                  "threads": threads}))
