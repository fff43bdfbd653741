"""Write the bundled sample: a few real photos (from the scikit-image wheel) laid out as COCO,
with COCO-format caption annotations and Karpathy-split id files, and a small Visual Genome
attributes.json / relationships.json.

    python scripts/make_sample.py OUT      # OUT/coco/..., OUT/vg/...

Deterministic: the same files every time. The images cover what COCO holds and more: JPEGs,
a PNG saved under a .jpg name (formats are sniffed), grayscale, palette and CMYK images.
"""
import json
import pathlib
import sys

import numpy as np
import skimage
from PIL import Image

DATA = pathlib.Path(skimage.__file__).parent / "data"

# (image id, split dir, source, mode to store, format, captions)
IMAGES = [
    (531912, "val2014", "astronaut.png", "RGB", "JPEG",
     ["a woman in a space suit poses in front of a flag", "an astronaut smiling for a portrait"]),
    (9, "train2014", "chelsea.png", "RGB", "JPEG",
     ["a cat sitting on a wooden floor", "an orange tabby cat looking to the side"]),
    (25, "train2014", "coffee.png", "RGB", "PNG",
     ["a cup of coffee on a saucer", "a white cup with a spoon on a red table"]),
    (30, "val2014", "rocket.jpg", "RGB", "JPEG",
     ["a rocket on a launch pad", "a space shuttle ready for launch"]),
    (42, "train2014", "camera.png", "L", "JPEG",
     ["a man with a camera on a tripod", "a black and white photo of a photographer"]),
    (73, "val2014", "astronaut.png", "CMYK", "JPEG",
     ["a cmyk photo of an astronaut", "an astronaut in a white suit"]),
    (74, "train2014", "chelsea.png", "P", "PNG",
     ["a palette image of a cat", "a cat with green eyes"]),
]

OBJECTS = {
    "cat.n.01": ["orange", "striped", "small"], "floor.n.01": ["wooden", "brown"],
    "cup.n.01": ["white", "ceramic"], "table.n.02": ["red"], "spoon.n.01": ["silver", "metal"],
    "rocket.n.01": ["tall", "white"], "sky.n.01": ["blue", "clear"], "woman.n.01": ["smiling"],
    "suit.n.01": ["white", "orange"], "flag.n.01": ["american", "striped"],
    "camera.n.01": ["black", "old"], "man.n.01": ["standing", "young"],
    "tripod.n.01": ["metal", "tall"], "grass.n.01": ["green", "short"], "saucer.n.02": ["white"],
    "coffee.n.01": ["hot", "dark"], "eye.n.01": ["green"], "helmet.n.01": ["white", "shiny"],
}
RELATIONS = [
    ("cat.n.01", "sitting on", "floor.n.01"), ("cup.n.01", "on", "saucer.n.02"),
    ("spoon.n.01", "in", "cup.n.01"), ("rocket.n.01", "under", "sky.n.01"),
    ("woman.n.01", "wearing", "suit.n.01"), ("woman.n.01", "in front of", "flag.n.01"),
    ("man.n.01", "holding", "camera.n.01"), ("camera.n.01", "on", "tripod.n.01"),
    ("man.n.01", "standing on", "grass.n.01"), ("cup.n.01", "on", "table.n.02"),
    ("cat.n.01", "has", "eye.n.01"), ("woman.n.01", "holding", "helmet.n.01"),
]


def main(out):
    out = pathlib.Path(out)
    coco = out / "coco"
    ann_dir = coco / "annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    files = {"train2014": {"images": [], "annotations": []}, "val2014": {"images": [], "annotations": []}}
    splits = {"train": [], "restval": [], "dev": [], "test": []}
    ann_id = 1000
    for n, (image_id, d, src, mode, fmt, captions) in enumerate(IMAGES):
        img = Image.open(DATA / src)
        img = img.convert("RGB").convert(mode) if mode != "P" else img.convert("RGB").quantize(64)
        name = f"COCO_{d}_{image_id:012d}.jpg"
        (coco / d).mkdir(parents=True, exist_ok=True)
        if fmt == "JPEG":
            img.save(coco / d / name, format="JPEG", quality=90)
        else:
            img.save(coco / d / name, format="PNG")  # PNG content behind a .jpg name
        files[d]["images"].append({"id": image_id, "file_name": name, "width": img.size[0], "height": img.size[1]})
        for c in captions:
            ann_id += 1
            files[d]["annotations"].append({"id": ann_id, "image_id": image_id, "caption": c})
            split = "train" if d == "train2014" else ["restval", "dev", "test"][n % 3]
            splits[split].append(ann_id)
    for d, f in files.items():
        (ann_dir / f"captions_{d}.json").write_text(json.dumps(f, indent=1))
    for s, ids in splits.items():
        np.save(ann_dir / f"coco_{s}_ids.npy", np.array(ids, dtype=np.int64))

    vg = out / "vg"
    vg.mkdir(parents=True, exist_ok=True)
    attributes = [{"image_id": i + 1, "attributes": [
        {"synsets": [obj], "attributes": attrs, "names": [obj.split(".")[0]]}
        for obj, attrs in list(OBJECTS.items())[i::3]]} for i in range(3)]
    relationships = [{"image_id": i + 1, "relationships": [
        {"predicate": p, "subject": {"synsets": [s]}, "object": {"synsets": [o]}}
        for s, p, o in RELATIONS[i::3]]} for i in range(3)]
    (vg / "attributes.json").write_text(json.dumps(attributes))
    (vg / "relationships.json").write_text(json.dumps(relationships))
    print(json.dumps({"coco": str(coco), "vg": str(vg), "images": len(IMAGES)}))


if __name__ == "__main__":
    main(sys.argv[1])
