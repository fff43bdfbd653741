"""Pillow's pixels of JPEGs for crates/crops/tests/jpeg.rs: scikit-image's bundled JPEG photos,
its PNG photos saved as JPEGs, and random JPEGs written with Pillow's encoder in every setting
it offers (qualities, 4:4:4 / 4:2:2 / 4:2:0 subsampling, progressive, optimised Huffman tables,
restart markers, odd sizes, grayscale, CMYK with Adobe's marker), each decoded by
Image.open(path).convert("RGB").

Usage: jpeg_reference.py OUT_DIR -> OUT_DIR/manifest.json and per case:
  NAME.jpg   the input file
  NAME.rgb   (height, width, 3) uint8: Pillow's RGB pixels
"""
import json
import pathlib
import sys

import numpy as np
import skimage
from PIL import Image

DATA = pathlib.Path(skimage.__file__).parent / "data"
SUBSAMPLINGS = ["4:4:4", "4:2:2", "4:2:0"]


def random_image(rng, w, h, mode):
    """Gradients, hard edges and noise: every IDCT coefficient busy, levels clipped at 0 and 255."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = 1 if mode == "L" else (4 if mode == "CMYK" else 3)
    planes = []
    for _ in range(chans):
        fx, fy, phase = rng.uniform(0.01, 0.6), rng.uniform(0.01, 0.6), rng.uniform(0, 6.3)
        p = 128 + 140 * np.sin(fx * x + fy * y + phase)
        p += np.where((x // rng.integers(2, 12) + y // rng.integers(2, 12)) % 2 == 0, 60, -60)
        p += rng.normal(0, rng.uniform(0, 40), size=(h, w))
        planes.append(np.clip(p, 0, 255).astype(np.uint8))
    arr = planes[0] if chans == 1 else np.stack(planes, axis=-1)
    return Image.fromarray(arr, mode)


def cases(rng):
    for path in sorted(DATA.glob("*.jpg")):
        yield f"skimage_{path.stem}", path.read_bytes()
    photos = {"astronaut": "RGB", "chelsea": "RGB", "coffee": "RGB", "camera": "L"}
    for stem, mode in photos.items():
        img = Image.open(DATA / f"{stem}.png").convert(mode)
        for q, sub, prog in [(95, "4:4:4", False), (75, "4:2:0", True), (50, "4:2:2", False)]:
            yield f"{stem}_q{q}_{sub.replace(':', '')}{'_prog' if prog else ''}", encode(
                img, quality=q, subsampling=sub, progressive=prog)
    astro = Image.open(DATA / "astronaut.png").convert("CMYK")
    yield "astronaut_cmyk", encode(astro, quality=90)
    yield "astronaut_cmyk_prog", encode(astro, quality=70, progressive=True)
    sizes = [(1, 1), (2, 3), (7, 13), (17, 9), (15, 16), (16, 17), (33, 65), (100, 75),
             (129, 257), (333, 111)]
    for i in range(48):
        w, h = sizes[i % len(sizes)] if i < 2 * len(sizes) else rng.integers(1, 300, size=2)
        mode = ["RGB", "RGB", "RGB", "L", "CMYK"][i % 5]
        opts = {"quality": int(rng.choice([1, 10, 35, 50, 75, 90, 95, 100]))}
        if mode == "RGB":
            opts["subsampling"] = SUBSAMPLINGS[i % 3]
        opts["progressive"] = bool(rng.integers(0, 2))
        opts["optimize"] = bool(rng.integers(0, 2))
        if i % 4 == 1:
            opts["restart_marker_blocks"] = int(rng.integers(1, 5))
        elif i % 4 == 3:
            opts["restart_marker_rows"] = int(rng.integers(1, 3))
        tag = "_".join(f"{k}{int(v) if isinstance(v, bool) else v}" for k, v in opts.items())
        yield f"random{i:02}_{mode}_{w}x{h}_{tag.replace(':', '')}", encode(
            random_image(rng, int(w), int(h), mode), **opts)


def encode(img, **opts):
    import io
    buf = io.BytesIO()
    img.save(buf, "JPEG", **opts)
    return buf.getvalue()


def main(out):
    out = pathlib.Path(out)
    rng = np.random.default_rng(2024)
    manifest = []
    for name, data in cases(rng):
        (out / f"{name}.jpg").write_bytes(data)
        img = Image.open(out / f"{name}.jpg")
        mode = img.mode
        rgb = img.convert("RGB")
        (out / f"{name}.rgb").write_bytes(np.asarray(rgb).tobytes())
        manifest.append({"name": name, "file": f"{name}.jpg", "mode": mode, "size": list(rgb.size)})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
