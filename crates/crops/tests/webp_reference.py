"""Pillow's pixels of WebP files for crates/crops/tests/webp.rs: scikit-image's photos and random
images (gradients, edges, noise) saved by Pillow's WebP encoder, lossless (RGB and RGBA) and
lossy at several qualities, odd sizes included, each decoded by Image.open(path).convert("RGB")
(which drops alpha).

Usage: webp_reference.py OUT_DIR -> OUT_DIR/manifest.json and per case:
  NAME.webp  the input file
  NAME.rgb   (height, width, 3) uint8: Pillow's RGB pixels
"""
import json
import pathlib
import sys

import numpy as np
import skimage
from PIL import Image

DATA = pathlib.Path(skimage.__file__).parent / "data"


def photo(name, shrink=1):
    img = Image.open(DATA / name).convert("RGB")
    if shrink > 1:
        img = img.resize((img.width // shrink + 1, img.height // shrink + 1))
    return img


def random_image(rng, w, h, chans):
    """Gradients, hard edges and noise, levels clipped at 0 and 255."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for _ in range(chans):
        fx, fy, phase = rng.uniform(0.01, 0.6), rng.uniform(0.01, 0.6), rng.uniform(0, 6.3)
        p = 128 + 140 * np.sin(fx * x + fy * y + phase)
        p[(x // 7 + y // 5) % 3 == 0] = rng.uniform(0, 255)
        p += rng.normal(0, 20, (h, w))
        planes.append(np.clip(p, 0, 255).astype(np.uint8))
    return Image.fromarray(np.dstack(planes), "RGBA" if chans == 4 else "RGB")


def with_alpha(img):
    a = np.linspace(0, 255, img.width, dtype=np.uint8)[None, :].repeat(img.height, 0)
    return Image.fromarray(np.dstack([np.asarray(img), a]), "RGBA")


rng = np.random.default_rng(7)
cases = [
    ("lossless_rgb", photo("astronaut.png"), {"lossless": True}),
    ("lossless_rgba", with_alpha(photo("coffee.png")), {"lossless": True}),
    ("lossless_odd", photo("chelsea.png", 3), {"lossless": True}),
    ("lossless_random_rgb", random_image(rng, 97, 61, 3), {"lossless": True}),
    ("lossless_random_rgba", random_image(rng, 64, 33, 4), {"lossless": True}),
    ("lossy_q90", photo("astronaut.png"), {"quality": 90}),
    ("lossy_q75", photo("chelsea.png"), {"quality": 75}),
    ("lossy_odd_q80", photo("rocket.jpg", 3), {"quality": 80}),
    ("lossy_q50", photo("coffee.png"), {"quality": 50}),
    ("lossy_rgba_q80", with_alpha(photo("chelsea.png", 2)), {"quality": 80}),
    ("lossy_random_q85", random_image(rng, 129, 77, 3), {"quality": 85}),
]
out = pathlib.Path(sys.argv[1])
manifest = []
for name, img, kwargs in cases:
    path = out / f"{name}.webp"
    img.save(path, format="WEBP", **kwargs)
    decoded = Image.open(path).convert("RGB")
    (out / f"{name}.rgb").write_bytes(np.asarray(decoded).tobytes())
    manifest.append({"name": name, "file": path.name, "size": [decoded.width, decoded.height],
                     "lossless": bool(kwargs.get("lossless")), "mode": img.mode})
json.dump(manifest, open(out / "manifest.json", "w"))
