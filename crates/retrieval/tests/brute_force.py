"""Brute-force reference for tests/search.rs: exact top-k in float64 with NumPy, and faiss
IndexFlatIP (float32) for comparison.

    python brute_force.py DIR K

DIR/shape.json {"n", "q", "d"}, DIR/keys.f32, DIR/queries.f32 (raw little-endian float32).
Writes DIR/ref_scores.f64, DIR/ref_ids.i64 (row-major (q, min(K, n)); descending score, ties by
lower id), DIR/all_scores.f64 ((q, n), every score), and prints how often faiss agrees (null
where faiss is not installed, as on the GPU machine that runs the CUDA tests).
"""
import json
import sys
from pathlib import Path

import numpy as np

d, k = Path(sys.argv[1]), int(sys.argv[2])
shape = json.loads((d / "shape.json").read_text())
keys = np.fromfile(d / "keys.f32", dtype="<f4").reshape(shape["n"], shape["d"])
queries = np.fromfile(d / "queries.f32", dtype="<f4").reshape(shape["q"], shape["d"])
scores = queries.astype(np.float64) @ keys.astype(np.float64).T
k = min(k, shape["n"])
ids = np.empty((shape["q"], k), dtype=np.int64)
for r in range(shape["q"]):
    order = np.lexsort((np.arange(shape["n"]), -scores[r]))
    ids[r] = order[:k]
top = np.take_along_axis(scores, ids, axis=1)
top.astype("<f8").tofile(d / "ref_scores.f64")
ids.astype("<i8").tofile(d / "ref_ids.i64")
scores.astype("<f8").tofile(d / "all_scores.f64")
try:
    import faiss
except ImportError:
    faiss = None
agree = None
if faiss is not None:
    index = faiss.IndexFlatIP(shape["d"])
    index.add(keys)
    _, fi = index.search(queries, k)
    agree = int((fi == ids).all(axis=1).sum())
print(json.dumps({"faiss_rows_equal": agree, "rows": shape["q"]}))
