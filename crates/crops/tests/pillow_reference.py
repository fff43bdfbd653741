"""Pillow's side of crates/crops/tests/resize.rs: random RGB images of several sizes resized with
Image.resize(..., Image.BICUBIC) (Pillow >= 7: no reducing pre-step by default).
Usage: pillow_reference.py OUT_DIR -> OUT_DIR/manifest.json, in_N.bin, out_N.bin (raw RGB8).
"""
import json
import pathlib
import sys

import numpy as np
from PIL import Image

out = pathlib.Path(sys.argv[1])
rng = np.random.default_rng(0)
cases = [((640, 480), (298, 224)), ((640, 427), (335, 224)), ((333, 501), (224, 336)),
         ((224, 300), (224, 300)), ((224, 300), (224, 123)), ((100, 80), (280, 224)),
         ((37, 11), (814, 224)), ((741, 500), (331, 224)), ((1, 1), (224, 224)), ((3, 900), (224, 67200 // 3))]
manifest = []
for i, ((w, h), (nw, nh)) in enumerate(cases):
    # Noise over a gradient: every weight matters, and clipping happens at both ends.
    base = np.linspace(-40, 300, w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    img = np.clip(base + rng.normal(0, 60, (h, w, 3)), 0, 255).astype(np.uint8)
    (out / f"in_{i}.bin").write_bytes(img.tobytes())
    res = Image.fromarray(img, "RGB").resize((nw, nh), Image.BICUBIC)
    (out / f"out_{i}.bin").write_bytes(np.asarray(res).tobytes())
    manifest.append({"w": w, "h": h, "nw": nw, "nh": nh})
json.dump(manifest, open(out / "manifest.json", "w"))
