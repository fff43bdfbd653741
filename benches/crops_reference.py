"""The original's per-image CPU work, timed: Pillow open + convert("RGB"), whole/five/nine crops,
and transformers 4.17's CLIP preprocessing of each (mirrored with Pillow + numpy, as
crates/crops/tests/preprocess_reference.py), one process, one image at a time.

make DIR N     writes N COCO-like JPEGs (640x480, quality 90) made from scikit-image's photos
run DIR        prints {"images", "seconds", "images_per_s"}
"""
import json
import pathlib
import sys
import time

import numpy as np
import skimage
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "crates/crops/tests"))


def make(out, n):
    out.mkdir(parents=True, exist_ok=True)
    data = pathlib.Path(skimage.__file__).parent / "data"
    photos = [Image.open(data / f).convert("RGB") for f in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")]
    rng = np.random.default_rng(0)
    for i in range(n):
        p = photos[i % len(photos)]
        scale = rng.uniform(1.3, 2.0)
        big = p.resize((int(640 * scale), int(480 * scale)), Image.BICUBIC)
        x, y = rng.integers(0, big.width - 640), rng.integers(0, big.height - 480)
        big.crop((x, y, x + 640, y + 480)).save(out / f"{i:06d}.jpg", "JPEG", quality=90)


def run(d):
    import preprocess_reference as ref  # noqa: the reference's own boxes and steps

    files = sorted(d.glob("*.jpg"))
    start = time.perf_counter()
    for f in files:
        rgb = Image.open(f).convert("RGB")
        w, h = rgb.size
        crops = [rgb] + [rgb.crop(b) for b in ref.five_boxes(w, h)] + [rgb.crop(b) for b in ref.nine_boxes(w, h)]
        np.stack([ref.clip_417(c)[1] for c in crops])
    secs = time.perf_counter() - start
    print(json.dumps({"images": len(files), "seconds": secs, "images_per_s": len(files) / secs}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(pathlib.Path(sys.argv[2]), int(sys.argv[3]))
    else:
        run(pathlib.Path(sys.argv[2]))
