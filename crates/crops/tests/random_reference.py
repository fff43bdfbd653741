"""Pillow's side of crates/crops/tests/random.rs: random images, crop boxes and sizes.

Usage: random_reference.py OUT_DIR -> OUT_DIR/manifest.json and per case i:
  in_i.bin   the whole image (raw RGB8, w x h)
  out_i.bin  resize: Pillow's img.crop(box).resize((nw, nh), Image.BICUBIC) (raw RGB8)
             clip:   the crop through transformers 4.17's CLIP steps mirrored with Pillow at
                     `size`: u8 (size x size x 3) then the normalised float32 CHW values; one
                     case in two with torchvision's centre-crop rounding (OpenAI clip's, HAAV's)
                     instead of CLIPFeatureExtractor's ("crop": "torchvision" in the manifest)
The images are noise over gradients (every weight matters, values clip at both ends) and, for
one case in four, flat regions with sharp edges (sums land exactly on rounding boundaries).

Pillow 13 resizes vertically first when the height shrinks by more than twice as many pixels as
the width (Pillow PR 9549; found by comparing both orders with Pillow's output); Pillow 9.0.1,
the original pipeline's, always resizes horizontally first, and so does `crops`. Sizes that
would take Pillow 13's other order are drawn again, so that Pillow 13 here stands for 9.0.1.
"""
import json
import pathlib
import sys

import numpy as np
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073]).astype(np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711]).astype(np.float32)


def image(rng, w, h):
    if rng.random() < 0.25:
        # Blocks of flat colour: long runs of equal values, edges of every height.
        bw, bh = max(1, w // rng.integers(1, 6)), max(1, h // rng.integers(1, 6))
        cells = rng.integers(0, 256, (h // bh + 1, w // bw + 1, 3))
        return cells.repeat(bh, 0).repeat(bw, 1)[:h, :w].astype(np.uint8)
    base = np.linspace(rng.uniform(-60, 60), rng.uniform(200, 320), w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    return np.clip(base + rng.normal(0, rng.uniform(5, 80), (h, w, 3)), 0, 255).astype(np.uint8)


def vertical_first(w, h, nw, nh):
    """Whether Pillow 13 resizes w x h to nw x nh vertically first."""
    return nh < h and h - nh > 2 * (w - nw)


def clip_size(w, h, size):
    """CLIP's resized size of a w x h image (shorter side to `size`)."""
    short, long = (w, h) if w <= h else (h, w)
    if short == size:
        return w, h
    new_long = int(size * long / short)
    return (size, new_long) if w <= h else (new_long, size)


def clip_417(img, size, torchvision=False):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != size:
        new_long = int(size * long / short)
        img = img.resize((size, new_long) if w <= h else (new_long, size), Image.BICUBIC)
    w, h = img.size
    if torchvision:  # torchvision 0.11 CenterCrop, Python's round half to even
        top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    else:
        top, left = (h - size + 1) // 2, (w - size + 1) // 2
    u8 = np.asarray(img.crop((left, top, left + size, top + size)))
    x = u8.transpose(2, 0, 1).astype(np.float32) / 255
    return u8, (x - MEAN[:, None, None]) / STD[:, None, None]


def main(out):
    rng = np.random.default_rng(17)
    manifest = []
    for i in range(90):
        small = rng.random() < 0.3
        while True:
            w, h = (int(v) for v in rng.integers(1, 24 if small else 700, 2))
            l, r = sorted(int(v) for v in rng.choice(w + 1, 2, replace=False)) if w > 1 else (0, 1)
            t, b = sorted(int(v) for v in rng.choice(h + 1, 2, replace=False)) if h > 1 else (0, 1)
            nw, nh = (int(v) for v in rng.integers(1, 40 if small else 500, 2))
            size = int(rng.choice([224, 64, int(rng.integers(1, 300))]))
            to = (nw, nh) if i % 2 == 0 else clip_size(r - l, b - t, size)
            if not vertical_first(r - l, b - t, *to):
                break
        arr = image(rng, w, h)
        (out / f"in_{i}.bin").write_bytes(arr.tobytes())
        crop = Image.fromarray(arr, "RGB").crop((l, t, r, b))
        case = {"w": w, "h": h, "box": [l, t, r, b]}
        if i % 2 == 0:
            (out / f"out_{i}.bin").write_bytes(np.asarray(crop.resize((nw, nh), Image.BICUBIC)).tobytes())
            case.update(kind="resize", nw=nw, nh=nh)
        else:
            rule = "torchvision" if i % 4 == 3 else "clip"
            u8, f32 = clip_417(crop, size, torchvision=rule == "torchvision")
            (out / f"out_{i}.bin").write_bytes(u8.tobytes() + f32.astype("<f4").tobytes())
            case.update(kind="clip", size=size, crop=rule)
        manifest.append(case)
    json.dump(manifest, open(out / "manifest.json", "w"))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
