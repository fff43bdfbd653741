"""COCO-layout data for benches/pipeline_vs_mirror.sh: N COCO-like JPEGs (640x480, quality 90,
crops_reference.make) as train2014 images with caption annotations and Karpathy id files, and
the bundled sample's Visual Genome files.

    python make_coco_like.py OUT N [DISTINCT]   # OUT/coco/..., OUT/vg/...

With DISTINCT, only that many JPEGs are encoded and the rest are copies of them (each file is
still read and decoded on its own), so that thousands are made in seconds (benches/gpu_check.sh).
"""
import json
import pathlib
import shutil
import sys

import numpy as np

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
sys.path.insert(0, str(here.parent / "scripts"))
import crops_reference  # noqa: E402
import make_sample  # noqa: E402

out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
make_sample.main(out / "sample")
train = out / "coco" / "train2014"
distinct = min(n, int(sys.argv[3])) if len(sys.argv) > 3 else n
crops_reference.make(train, distinct)
for i in range(distinct, n):
    shutil.copyfile(train / f"{i % distinct:06d}.jpg", train / f"{i:06d}.jpg")
images, anns = [], []
for i in range(n):
    name = f"COCO_train2014_{i + 1:012d}.jpg"
    (train / f"{i:06d}.jpg").rename(train / name)
    images.append({"id": i + 1, "file_name": name, "width": 640, "height": 480})
    anns.append({"id": 10 * (i + 1), "image_id": i + 1, "caption": f"photo {i}"})
ann = out / "coco" / "annotations"
ann.mkdir(parents=True, exist_ok=True)
(ann / "captions_train2014.json").write_text(json.dumps({"images": images, "annotations": anns}))
(ann / "captions_val2014.json").write_text(json.dumps({"images": [], "annotations": []}))
np.save(ann / "coco_train_ids.npy", np.array([a["id"] for a in anns], dtype=np.int64))
for s in ("restval", "dev", "test"):
    np.save(ann / f"coco_{s}_ids.npy", np.array([], dtype=np.int64))
(out / "vg").mkdir(exist_ok=True)
for f in ("attributes.json", "relationships.json"):
    (out / "vg" / f).write_text((out / "sample" / "vg" / f).read_text())
