"""The Python original's HDF5 patterns, timed: the reference side of benches/ctx_store_vs_h5py.sh.

write OUT N K D     txt_ctx the way retrieve_captions.py writes it: per image a group, per view
                    a group, three create_dataset calls (texts as lists of str).
write-vis OUT N FDIM  vis_ctx the way encode_images.py writes it.
preload FILE        the training code's per-key loop: every image's nine datasets into memory.

Each prints one JSON line. Data come from a pool of 64 random images made before the clock starts.
"""
import json
import random
import resource
import sys
import time

import h5py
import numpy as np

WORDS = ["white", "dog", "man", "riding", "horse", "red", "car", "parked", "street", "tree", "green",
         "grass", "woman", "holding", "umbrella", "black", "cat", "sitting", "table", "plate"]
VIEWS = (("whole", 1), ("five", 5), ("nine", 9))


def pool(k, d, size=64):
    rng = np.random.default_rng(7)
    prng = random.Random(7)
    out = []
    for _ in range(size):
        e = {}
        for view, crops in VIEWS:
            shape = (k,) if view == "whole" else (crops, k)
            texts = [" ".join(prng.choice(WORDS) for _ in range(prng.randint(2, 3))) for _ in range(crops * k)]
            if view != "whole":
                texts = [texts[c * k:(c + 1) * k] for c in range(crops)]
            e[view] = (
                rng.uniform(-1, 1, shape + (d,)).astype("f4"),
                -np.sort(-rng.uniform(-1, 1, shape).astype("f4"), axis=-1),
                texts,
            )
        out.append(e)
    return out


def write(path, n, k, d):
    entries = pool(k, d)
    start = time.perf_counter()
    with h5py.File(path, "w") as f:
        for img_id in range(n):
            e = entries[img_id % len(entries)]
            g = f.create_group(str(img_id))
            for view, _ in VIEWS:
                features, scores, texts = e[view]
                vg = g.create_group(view)
                vg.create_dataset("features", data=features)
                vg.create_dataset("scores", data=scores)
                vg.create_dataset("texts", data=texts)
    secs = time.perf_counter() - start
    print(json.dumps({"op": "write", "images": n, "seconds": secs}))


def write_vis(path, n, fdim):
    feats = np.random.default_rng(7).standard_normal((64, fdim)).astype("f4")
    start = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.attrs["fdim"] = fdim
        for img_id in range(n):
            f.create_dataset(str(img_id), data=feats[img_id % 64])
    print(json.dumps({"op": "write-vis", "images": n, "seconds": time.perf_counter() - start}))


def preload(path):
    start = time.perf_counter()
    data = {}
    with h5py.File(path, "r") as f:
        for key in f.keys():
            data[int(key)] = {
                view: {name: f[f"{key}/{view}/{name}"][()] for name in ("features", "scores", "texts")}
                for view, _ in VIEWS
            }
    secs = time.perf_counter() - start
    payload = sum(
        v["features"].nbytes + v["scores"].nbytes + sum(len(t) for t in v["texts"].ravel())
        for e in data.values() for v in e.values()
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"op": "preload", "images": len(data), "seconds": secs,
                      "payload_bytes": payload, "peak_rss_bytes": peak}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "write-vis":
        write_vis(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "preload":
        preload(sys.argv[2])
    else:
        raise SystemExit(__doc__)
