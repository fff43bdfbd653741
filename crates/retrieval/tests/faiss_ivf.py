"""faiss's IVF index for tests/ivf.rs, as the original builds it: `IVF{L},Flat` (inner
product) with L = round(8 sqrt n) lists and nprobe = max(1, L // 10), and the exact top-k, on
the same keys and queries.

    python faiss_ivf.py DIR K

DIR/shape.json {"n", "q", "d"}, DIR/keys.f32, DIR/queries.f32 (raw little-endian float32).
Writes DIR/exact_ids.i64 ((q, K) row-major, faiss IndexFlatIP) and prints
{"recall": recall@K of faiss's IVF against the exact ids, "nlist", "nprobe"}.
"""
import json
import math
import sys
from pathlib import Path

import faiss
import numpy as np

d, k = Path(sys.argv[1]), int(sys.argv[2])
shape = json.loads((d / "shape.json").read_text())
nlist = round(8 * math.sqrt(shape["n"]))
nprobe = max(1, nlist // 10)
keys = np.fromfile(d / "keys.f32", dtype="<f4").reshape(shape["n"], shape["d"])
queries = np.fromfile(d / "queries.f32", dtype="<f4").reshape(shape["q"], shape["d"])
flat = faiss.IndexFlatIP(shape["d"])
flat.add(keys)
_, exact = flat.search(queries, k)
exact.astype("<i8").tofile(d / "exact_ids.i64")
ivf = faiss.index_factory(shape["d"], f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
ivf.train(keys)
ivf.add(keys)
ivf.nprobe = nprobe
_, got = ivf.search(queries, k)
recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, got)])
print(json.dumps({"recall": float(recall), "nlist": ivf.nlist, "nprobe": ivf.nprobe}))
