"""The same N JPEGs as every image source, and the same texts as every text database, for
benches/sources_bench.sh.

    python make_sources_bench.py OUT N [VG_IMAGES]

Images: scikit-image's photos (those of scripts/make_sources.py) at a few sizes from 320x240 to
512x512, JPEG quality 90, written once under OUT/coco/train2014/ and listed as
  coco/                 COCO's layout (captions_train2014.json, coco_train_ids.npy): --dataset-root
  karpathy.json         Karpathy's split file (filepath, filename, cocoid), --image-root OUT/coco
  image_info.json       a COCO-format image list, --image-root OUT/coco/train2014
  list.txt              ID<TAB>PATH lines
  folder/               the same files (hard links) named by their integer ids, ID.jpg
  wds/0000{0..3}.tar    four img2dataset shards (KEY.jpg, KEY.json, KEY.txt): the same bytes
Ids are the same integers in every source (keys and stems included), so that binaries without
names for ids read every source too. Texts: Visual Genome files made by
benches/make_vg.py (VG_IMAGES images, default 60) under OUT/vg, and their phrase database (as the
original builds it: sorted, unique) as texts.txt, texts.jsonl and texts_karpathy.json (five
captions an image), so that every database holds the same texts in the same order.
"""
import io
import json
import pathlib
import subprocess
import sys
import tarfile

import numpy as np
from PIL import Image

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent / "scripts"))
sys.path.insert(0, str(here.parent / "crates/datasets/tests"))
import make_sources  # noqa: E402  (the photos)
import mirror  # noqa: E402  (the original's phrase database)

SIZES = [(320, 240), (400, 300), (512, 384), (512, 512), (480, 320), (375, 500)]


def images(out, n):
    train = out / "coco" / "train2014"
    train.mkdir(parents=True, exist_ok=True)
    cache = {}
    names = []
    for i in range(n):
        key = (i % len(make_sources.PHOTOS), SIZES[i % len(SIZES)])
        if key not in cache:
            b = io.BytesIO()
            make_sources.photo(key[0], key[1]).save(b, format="JPEG", quality=90)
            cache[key] = b.getvalue()
        name = f"COCO_train2014_{i + 1:012d}.jpg"
        (train / name).write_bytes(cache[key])
        names.append(name)
    return names


def coco_layout(out, names):
    imgs = [{"id": i + 1, "file_name": f, "width": 0, "height": 0} for i, f in enumerate(names)]
    anns = [{"id": 10 * (i + 1), "image_id": i + 1, "caption": f"photo {i}"} for i in range(len(names))]
    ann = out / "coco" / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "captions_train2014.json").write_text(json.dumps({"images": imgs, "annotations": anns}))
    (ann / "captions_val2014.json").write_text(json.dumps({"images": [], "annotations": []}))
    np.save(ann / "coco_train_ids.npy", np.array([a["id"] for a in anns], dtype=np.int64))
    for split in ("restval", "dev", "test"):
        np.save(ann / f"coco_{split}_ids.npy", np.array([], dtype=np.int64))


def other_sources(out, names):
    karpathy = [{"filepath": "train2014", "filename": f, "cocoid": i + 1, "split": "train",
                 "sentences": [{"raw": f"photo {i}"}]} for i, f in enumerate(names)]
    (out / "karpathy.json").write_text(json.dumps({"images": karpathy, "dataset": "coco"}))
    info = [{"id": i + 1, "file_name": f} for i, f in enumerate(names)]
    (out / "image_info.json").write_text(json.dumps({"images": info}))
    (out / "list.txt").write_text("".join(f"{i + 1}\tcoco/train2014/{f}\n" for i, f in enumerate(names)))
    (out / "folder").mkdir(exist_ok=True)
    for i, f in enumerate(names):
        (out / "folder" / f"{i + 1}.jpg").hardlink_to(out / "coco" / "train2014" / f)
    (out / "wds").mkdir(exist_ok=True)
    per = -(-len(names) // 4)
    for s in range(4):
        with tarfile.open(out / "wds" / f"{s:05d}.tar", "w") as t:
            for i in range(s * per, min(len(names), (s + 1) * per)):
                key = str(i + 1)
                data = (out / "coco" / "train2014" / names[i]).read_bytes()
                for ext, b in (("jpg", data), ("json", json.dumps({"key": key}).encode()),
                               ("txt", f"photo {i}".encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(b)
                    t.addfile(info, io.BytesIO(b))


def texts(out, vg_images):
    vg = out / "vg"
    subprocess.run([sys.executable, str(here / "make_vg.py"), str(vg), str(vg_images)], check=True,
                   stdout=subprocess.DEVNULL)
    phrases = mirror.vg(vg / "attributes.json", vg / "relationships.json")
    (out / "texts.txt").write_text("".join(p + "\n" for p in phrases))
    (out / "texts.jsonl").write_text("".join(json.dumps({"text": p}) + "\n" for p in phrases))
    entries = [{"filename": f"{i}.jpg", "cocoid": i, "split": "train",
                "sentences": [{"raw": p} for p in phrases[j:j + 5]]}
               for i, j in enumerate(range(0, len(phrases), 5))]
    (out / "texts_karpathy.json").write_text(json.dumps({"images": entries}))
    return len(phrases)


def main(out, n, vg_images=60):
    out = pathlib.Path(out)
    names = images(out, n)
    coco_layout(out, names)
    other_sources(out, names)
    print(json.dumps({"images": n, "phrases": texts(out, vg_images)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *(int(a) for a in sys.argv[3:]))
