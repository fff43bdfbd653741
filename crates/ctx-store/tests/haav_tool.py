"""The h5py side of ctx-store's HAAV tests (tests/haav.rs).

write-haav KIND SPEC.json OUT.h5
    Writes OUT.h5 from SPEC.json with exactly the h5py calls of HAAV's ctx/ scripts
    (GT-RIPL/HAAV, commit 3685bcd), one `h5py.File(out, "a")` per batch as they open it:
    vis:     encode_images.py: f.attrs["fdim_pooled"], f.attrs["fdim_grid"] (Python ints), then
             per image a group str(id) with pooled_features and grid_features, compression="gzip"
    caption: encode_captions.py: per batch i, group str(i) with keys, values, captions (a list
             of str), compression="gzip"
    txt:     retrieve_captions.py: per image a group str(id), f.attrs["fdim"] = values width, then
             whole/five/nine groups with features, scores (float32 arrays) and texts (a list, or
             a list of lists, of str), compression="gzip"
    Floats travel as their float32 bit patterns, so values are bit-identical. Each txt view
    carries its own number of texts per crop, so that a test can plant a short view.

fields TXT_CTX VIS_CTX K ID...
    Runs a re-implementation of HAAV's training-code readers (TxtCtxField(ctx_file, k=K) and
    VisCtxField(ctx_file) of haav/data/field.py: the attributes they read, the slicing
    [:8k], [:, :2k], [:, :k], the positions and ranks, preprocess per image and process per
    batch) on the two files for the images ID..., with preload off and on, and prints what
    `process` returns as JSON (tensors as dtype, shape and values; floats as bit patterns).

dump FILE
    h5py_tool.py's dump: everything h5py shows of FILE.
"""
import json
import os
import sys
from multiprocessing.pool import ThreadPool as Pool

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h5py_tool  # noqa: E402  (beside this file)


def f32(bits, shape):
    return np.asarray(bits, dtype="<u4").view("<f4").reshape(shape)


def write_vis(spec, out):
    fg, fp, t = spec["fdim_grid"], spec["fdim_pooled"], spec["tokens"]
    for batch in spec["batches"]:
        ids = [e["id"] for e in batch]
        pooled_features = np.stack([f32(e["pooled"], (fp,)) for e in batch])
        grid_features = np.stack([f32(e["grid"], (t, fg)) for e in batch])
        with h5py.File(out, "a") as f:
            f.attrs["fdim_pooled"] = pooled_features.shape[-1]
            f.attrs["fdim_grid"] = grid_features.shape[-1]
            for i in range(len(ids)):
                g = f.create_group(str(int(ids[i])))
                g.create_dataset("pooled_features", data=pooled_features[i], compression="gzip")
                g.create_dataset("grid_features", data=grid_features[i], compression="gzip")


def write_caption(spec, out):
    for batch_idx, b in enumerate(spec["batches"]):
        captions = list(b["captions"])
        n = len(captions)
        keys = f32(b["keys"], (n, spec["key_dim"]))
        values = f32(b["values"], (n, spec["value_dim"]))
        with h5py.File(out, "a") as f:
            g = f.create_group(str(batch_idx))
            g.create_dataset("keys", data=keys, compression="gzip")
            g.create_dataset("values", data=values, compression="gzip")
            g.create_dataset("captions", data=captions, compression="gzip")


def write_txt(spec, out):
    for batch in spec["batches"]:
        with h5py.File(out, "a") as f:
            for e in batch:
                g1 = f.create_group(str(int(e["id"])))
                f.attrs["fdim"] = spec["fdim"]
                for view, crops in (("whole", 1), ("five", 5), ("nine", 9)):
                    v = e[view]
                    k, d = v["k"], v["d"]
                    shape = (k,) if view == "whole" else (crops, k)
                    features = f32(v["features"], shape + (d,))
                    scores = f32(v["scores"], shape)
                    texts = v["texts"]
                    if view != "whole":
                        texts = [[texts[j * k + i] for i in range(k)] for j in range(crops)]
                    g = g1.create_group(view)
                    g.create_dataset("features", data=features, compression="gzip")
                    g.create_dataset("scores", data=scores, compression="gzip")
                    g.create_dataset("texts", data=texts, compression="gzip")


class TxtCtxFieldLogic:
    """What HAAV's TxtCtxField does with a txt_ctx.hdf5 (re-implemented, same operations)."""

    def __init__(self, ctx_file, k=8, preload=False):
        self.k = k
        self.preload = preload
        self.ctx = self.load(ctx_file) if preload else ctx_file
        f = h5py.File(ctx_file, "r")
        self.fdim = f.attrs["fdim"]
        f.close()

    def _load(self, ctx, key):
        k = self.k
        whole_f = ctx[f"{key}/whole/features"][: 8 * k]
        whole_p = np.zeros((len(whole_f),), dtype=np.int64)
        whole_r = np.arange(8 * k)
        five_f = ctx[f"{key}/five/features"][:, : 2 * k].reshape((5 * 2 * k, -1))
        five_p = np.tile(np.arange(5)[:, None], (1, 2 * k)).reshape((5 * 2 * k,))
        five_r = np.tile(np.arange(2 * k)[None, :], (5, 1)).reshape((5 * 2 * k,))
        nine_f = ctx[f"{key}/nine/features"][:, :k].reshape((9 * k, -1))
        nine_p = np.tile(np.arange(9)[:, None], (1, k)).reshape((9 * k,))
        nine_r = np.tile(np.arange(k)[None, :], (9, 1)).reshape((9 * k,))
        return {
            "whole": (whole_f, whole_p, whole_r),
            "five": (five_f, five_p, five_r),
            "nine": (nine_f, nine_p, nine_r),
        }

    def load(self, ctx_file):
        f = h5py.File(ctx_file, "r")
        pool = Pool(8)
        results = {key: pool.apply_async(self._load, args=(f, key)) for key in f.keys()}
        ctx = {key: r.get() for key, r in results.items()}
        f.close()
        return ctx

    def preprocess(self, x):
        if self.preload:
            data = self.ctx[str(x)]
        else:
            f = h5py.File(self.ctx, "r")
            data = self._load(f, x)
            f.close()
        return {
            view: (torch.FloatTensor(feat), torch.LongTensor(pos), torch.LongTensor(rank))
            for view, (feat, pos, rank) in data.items()
        }

    def process(self, batch):
        return {
            view: {
                "embed": torch.stack([b[view][0] for b in batch]),
                "pos": torch.stack([b[view][1] for b in batch]),
                "rank": torch.stack([b[view][2] for b in batch]),
            }
            for view in ("whole", "five", "nine")
        }


class VisCtxFieldLogic:
    """What HAAV's VisCtxField does with a vis_ctx.hdf5 (re-implemented, same operations)."""

    def __init__(self, ctx_file, preload=False):
        self.preload = preload
        self.ctx = self.load(ctx_file) if preload else h5py.File(ctx_file, "r")
        f = h5py.File(ctx_file, "r")
        self.fdim_pooled = f.attrs["fdim_pooled"]
        self.fdim_grid = f.attrs["fdim_grid"]
        f.close()

    def _load(self, ctx, key):
        return {
            "grid_features": ctx[f"{key}/grid_features"][:],
            "pooled_features": ctx[f"{key}/pooled_features"][:],
        }

    def load(self, ctx_file):
        f = h5py.File(ctx_file, "r")
        pool = Pool(8)
        results = {key: pool.apply_async(self._load, args=(f, key)) for key in f.keys()}
        ctx = {key: r.get() for key, r in results.items()}
        f.close()
        return ctx

    def preprocess(self, image_id):
        if self.preload:
            grid = self.ctx[str(image_id)]["grid_features"]
            pooled = self.ctx[str(image_id)]["pooled_features"]
        else:
            grid = self.ctx[f"{image_id}/grid_features"][:]
            pooled = self.ctx[f"{image_id}/pooled_features"][:]
        return torch.FloatTensor(grid), torch.FloatTensor(pooled)

    def process(self, batch):
        grid, pooled = zip(*batch)
        return {"grid": torch.stack(grid), "pooled": torch.stack(pooled)}


def tensor_json(t):
    a = t.numpy()
    if a.dtype == np.float32:
        values = a.view("<u4").ravel().tolist()
    else:
        values = a.ravel().tolist()
    return {"dtype": str(t.dtype), "shape": list(t.shape), "values": values}


def fields(txt, vis, k, ids):
    global torch
    import torch  # only here: importing it takes seconds

    out = {}
    for preload in (False, True):
        tf = TxtCtxFieldLogic(txt, k=k, preload=preload)
        vf = VisCtxFieldLogic(vis, preload=preload)
        t = tf.process([tf.preprocess(i) for i in ids])
        v = vf.process([vf.preprocess(i) for i in ids])
        out["preload" if preload else "no_preload"] = {
            "fdim": int(tf.fdim),
            "fdim_grid": int(vf.fdim_grid),
            "fdim_pooled": int(vf.fdim_pooled),
            "txt": {view: {n: tensor_json(x) for n, x in d.items()} for view, d in t.items()},
            "vis": {n: tensor_json(x) for n, x in v.items()},
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "write-haav":
        kind, spec = sys.argv[2], json.load(open(sys.argv[3], encoding="utf-8"))
        writers = {"vis": write_vis, "caption": write_caption, "txt": write_txt}
        if kind not in writers:
            raise SystemExit(f"unknown kind {kind}")
        writers[kind](spec, sys.argv[4])
    elif cmd == "fields":
        fields(sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(i) for i in sys.argv[5:]])
    elif cmd == "dump":
        h5py_tool.dump(sys.argv[2])
    else:
        raise SystemExit(__doc__)
