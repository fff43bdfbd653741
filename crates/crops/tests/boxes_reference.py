"""The original's crop boxes in Python (torchvision 0.11's five_crop/center_crop with float sizes
and Pillow's round-on-crop; the original's nine_crop), for crates/crops/tests/boxes.rs.
Usage: boxes_reference.py W H [W H ...] -> JSON list of {"size", "five", "nine"}.
"""
import json
import sys


def pil_box(left, top, width, height):
    # torchvision's F.crop(img, top, left, height, width) -> img.crop((left, top, left+width, top+height));
    # Pillow rounds each coordinate with round().
    return [int(round(v)) for v in (left, top, left + width, top + height)]


def five_crop(w, h):
    crop_h, crop_w = h * 0.6, w * 0.6
    tl = pil_box(0, 0, crop_w, crop_h)
    tr = pil_box(w - crop_w, 0, crop_w, crop_h)
    bl = pil_box(0, h - crop_h, crop_w, crop_h)
    br = pil_box(w - crop_w, h - crop_h, crop_w, crop_h)
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return [tl, tr, bl, br, pil_box(left, top, crop_w, crop_h)]


def nine_crop(w, h, ratio=0.4):
    t = (0, int((0.5 - ratio / 2) * h), int((1 - ratio) * h))
    b = (int(ratio * h), int((0.5 + ratio / 2) * h), h)
    l = (0, int((0.5 - ratio / 2) * w), int((1 - ratio) * w))
    r = (int(ratio * w), int((0.5 + ratio / 2) * w), w)
    return [[l[j], t[i], r[j], b[i]] for i in range(3) for j in range(3)]


args = [int(a) for a in sys.argv[1:]]
print(json.dumps([{"size": [w, h], "five": five_crop(w, h), "nine": nine_crop(w, h)}
                  for w, h in zip(args[::2], args[1::2])]))
