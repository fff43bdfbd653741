"""Compares two vis_ctx.hdf5 files image by image: the same image ids, and each image's features
at a cosine of at least MIN (default 0.99999) to the other file's. Prints one JSON line (images,
lowest cosine, the image that has it); exits 1 when an image is missing or below MIN.

    python benches/compare_vis_ctx.py A B [MIN]
"""

import json
import sys

import h5py
import numpy as np


def features(path: str) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and obj.ndim >= 1:
                out[name] = np.asarray(obj[()], dtype=np.float64).ravel()
        f.visititems(visit)
    return out


def main() -> None:
    a, b = features(sys.argv[1]), features(sys.argv[2])
    least = float(sys.argv[3]) if len(sys.argv) > 3 else 0.99999
    missing = sorted(set(a) ^ set(b))
    worst, at = 1.0, None
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        c = float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30)) if x.shape == y.shape else -1.0
        if c < worst:
            worst, at = c, name
    ok = not missing and worst >= least and a
    print(json.dumps({"images": len(a), "missing": missing[:10], "lowest_cosine": worst,
                      "at": at, "min": least, "ok": bool(ok)}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
