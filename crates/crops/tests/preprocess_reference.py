"""The original's pixels for crates/crops/tests/preprocess.rs: real photos bundled with
scikit-image, in every mode Pillow's convert("RGB") handles, through Pillow + transformers 4.17's
CLIPFeatureExtractor steps (mirrored with Pillow, as docs/reference.md says), for the whole
image, five crops and nine crops.

Usage: preprocess_reference.py OUT_DIR -> OUT_DIR/manifest.json and per image:
  NAME.<ext>       the input file
  NAME.u8          (15, 224, 224, 3) uint8: resized + centre-cropped crops before normalisation
  NAME.f32         (15, 3, 224, 224) float32: the model input
"""
import json
import pathlib
import sys

import struct
import zlib

import numpy as np
import skimage
from PIL import Image

data = pathlib.Path(skimage.__file__).parent / "data"
MEAN = np.array([0.48145466, 0.4578275, 0.40821073]).astype(np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711]).astype(np.float32)
SIZE = 224


def five_boxes(w, h):
    ch, cw = h * 0.6, w * 0.6
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return [(0, 0, cw, ch), (w - cw, 0, w, ch), (0, h - ch, cw, h), (w - cw, h - ch, w, h),
            (left, top, left + cw, top + ch)]


def nine_boxes(w, h, ratio=0.4):
    t = (0, int((0.5 - ratio / 2) * h), int((1 - ratio) * h))
    b = (int(ratio * h), int((0.5 + ratio / 2) * h), h)
    l = (0, int((0.5 - ratio / 2) * w), int((1 - ratio) * w))
    r = (int(ratio * w), int((0.5 + ratio / 2) * w), w)
    return [(l[j], t[i], r[j], b[i]) for i in range(3) for j in range(3)]


def clip_417(img):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != SIZE:
        new_long = int(SIZE * long / short)
        img = img.resize((SIZE, new_long) if w <= h else (new_long, SIZE), Image.BICUBIC)
    w, h = img.size
    top, left = (h - SIZE + 1) // 2, (w - SIZE + 1) // 2
    img = img.crop((left, top, left + SIZE, top + SIZE))
    u8 = np.asarray(img)
    x = u8.transpose(2, 0, 1).astype(np.float32) / 255
    return u8, (x - MEAN[:, None, None]) / STD[:, None, None]


def inputs():
    astro = Image.open(data / "astronaut.png")
    yield "astronaut_rgb", data / "astronaut.png", None
    yield "chelsea_rgb", data / "chelsea.png", None
    yield "coffee_rgb", data / "coffee.png", None
    yield "rocket_jpeg", data / "rocket.jpg", None
    yield "camera_gray", data / "camera.png", None
    yield "logo_rgba", data / "logo.png", None
    yield "astronaut_palette", "png", astro.convert("P", palette=Image.ADAPTIVE, colors=256)
    yield "astronaut_cmyk_jpeg", "jpg", astro.convert("CMYK")
    yield "chelsea_q90_jpeg", "jpg", Image.open(data / "chelsea.png").convert("RGB")
    yield "camera_gray_jpeg", "jpg", Image.open(data / "camera.png")
    # 16-bit RGB PNG (Pillow reads it through the high byte) and a PNG named .jpg.
    a16 = (np.asarray(astro.convert("RGB")).astype(np.uint16) * 257 + 100).clip(0, 65535).astype(np.uint16)
    yield "astronaut_rgb16", ("png16", a16), None
    yield "coffee_png_named_jpg", "sniff", Image.open(data / "coffee.png")


def write_png16(path, rgb16):
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb16)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main(out):
    manifest = []
    for name, src, img in inputs():
        if img is not None:
            ext = {"png": "png", "jpg": "jpg", "sniff": "jpg"}[src]
            path = out / f"{name}.{ext}"
            if src == "jpg":
                img.save(path, "JPEG", quality=90)
            else:
                img.save(path, "PNG")
        elif isinstance(src, tuple):
            path = out / f"{name}.png"
            write_png16(path, src[1])
        else:
            path = out / f"{name}{src.suffix}"
            path.write_bytes(src.read_bytes())
        rgb = Image.open(path).convert("RGB")
        w, h = rgb.size
        crops = [rgb] + [rgb.crop(b) for b in five_boxes(w, h)] + [rgb.crop(b) for b in nine_boxes(w, h)]
        u8s, f32s = zip(*(clip_417(c) for c in crops))
        (out / f"{name}.u8").write_bytes(np.stack(u8s).tobytes())
        (out / f"{name}.f32").write_bytes(np.stack(f32s).astype("<f4").tobytes())
        manifest.append({"name": name, "file": path.name, "mode": Image.open(path).mode, "size": [w, h]})
    json.dump(manifest, open(out / "manifest.json", "w"), indent=1)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
