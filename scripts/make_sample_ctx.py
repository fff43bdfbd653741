"""Writes a small sample of the three context files exactly as the Python original writes them
(h5py, the original's calls), with random features: the input of `make demo` until the pipeline
steps land. Usage: make_sample_ctx.py OUT_DIR
"""
import pathlib
import sys

import h5py
import numpy as np

PHRASES = ["white dog", "man riding horse", "red car", "green grass", "woman holding umbrella",
           "black cat", "cat sitting on table", "plate on table", "tree near street", "blue sky"]
IDS = [9, 25, 30, 34, 36, 42, 49, 61, 531912]
K, D, FDIM = 16, 512, 768

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)

keys = rng.standard_normal((len(PHRASES), D)).astype("f4")
keys /= np.linalg.norm(keys, axis=1, keepdims=True)
features = rng.standard_normal((len(PHRASES), D)).astype("f4")
with h5py.File(out / "caption_db.hdf5", "w") as f:
    g = f.create_group("0")
    g.create_dataset("keys", data=keys, compression="gzip")
    g.create_dataset("features", data=features, compression="gzip")
    g.create_dataset("captions", data=PHRASES, compression="gzip")

with h5py.File(out / "vis_ctx.hdf5", "w") as f:
    f.attrs["fdim"] = FDIM
    for i in IDS:
        f.create_dataset(str(i), data=rng.standard_normal(FDIM).astype("f4"))

with h5py.File(out / "txt_ctx.hdf5", "w") as f:
    for i in IDS:
        g = f.create_group(str(i))
        for view, crops in (("whole", 1), ("five", 5), ("nine", 9)):
            q = rng.standard_normal((crops, D)).astype("f4")
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            scores = q @ keys.T  # exact search over the sample's phrase database
            top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
            top = np.concatenate([top, np.repeat(top[:, -1:], K - top.shape[1], axis=1)], axis=1)
            s = np.take_along_axis(scores, top, axis=1)
            vg = g.create_group(view)
            if view == "whole":
                vg.create_dataset("features", data=features[top[0]])
                vg.create_dataset("scores", data=s[0])
                vg.create_dataset("texts", data=[PHRASES[j] for j in top[0]])
            else:
                vg.create_dataset("features", data=features[top])
                vg.create_dataset("scores", data=s)
                vg.create_dataset("texts", data=[[PHRASES[j] for j in row] for row in top])
print(f"wrote {out}/vis_ctx.hdf5, txt_ctx.hdf5, caption_db.hdf5 ({len(IDS)} images)")
