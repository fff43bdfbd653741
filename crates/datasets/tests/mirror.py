"""A Python mirror of the original's dataset steps (docs/reference.md, steps 0 and 2), the
reference side of crates/datasets/tests/parse.rs.

fixtures OUT            writes COCO- and VG-format fixtures under OUT (coco/, vg/)
coco ROOT               prints [{"id", "path", "captions"}] for the Karpathy split, as the original
coco-pycocotools ROOT   the same image ids and captions, found with pycocotools' COCO API
vg ATTRS RELS           prints the phrase database (json.load, like the original)
source KIND ARG [ROOT [SPLITS]]
                        prints [{"id", "path"}] of an image source (karpathy, coco-json, folder,
                        list, wds), read the way Python captioning code reads each format
"""
import contextlib
import json
import pathlib
import sys

import numpy as np


def word(s):
    s = s.lower().strip()
    return "".join(c for c in s if not ("\x00" <= c <= "\x1f"))


def synset(s):
    return word(s).split(".")[0]


def vg(attrs_path, rels_path):
    objs = {}
    for entry in json.load(open(attrs_path, encoding="utf-8")):
        for a in entry.get("attributes") or []:
            names = set(synset(s) for s in a.get("synsets") or [])
            attrs = set(word(x) for x in a.get("attributes") or [])
            for n in names:
                if n in objs:
                    objs[n] |= attrs
                else:
                    objs[n] = attrs  # the same set object for every new name: the quirk
    phrases = set()
    for obj, attrs in objs.items():
        for attr in attrs:
            if attr:
                phrases.add(f"{attr} {obj}")
    for entry in json.load(open(rels_path, encoding="utf-8")):
        for r in entry.get("relationships") or []:
            p = word(r.get("predicate", ""))
            subjects = set(synset(x) for x in (r.get("subject") or {}).get("synsets") or [])
            objects = set(synset(x) for x in (r.get("object") or {}).get("synsets") or [])
            for s in subjects:
                for o in objects:
                    phrases.add(f"{s} {p} {o}")
    return sorted(phrases)


SPLITS = [("train", "train2014"), ("restval", "val2014"), ("dev", "val2014"), ("test", "val2014")]


def coco(root):
    root = pathlib.Path(root)
    files = {}
    for d in ("train2014", "val2014"):
        data = json.load(open(root / "annotations" / f"captions_{d}.json", encoding="utf-8"))
        files[d] = ({i["id"]: i["file_name"] for i in data["images"]},
                    {a["id"]: (a["image_id"], a["caption"]) for a in data["annotations"]})
    out = {}
    for split, d in SPLITS:
        images, anns = files[d]
        for ann_id in np.load(root / "annotations" / f"coco_{split}_ids.npy"):
            image_id, caption = anns[int(ann_id)]
            e = out.setdefault(image_id, {"id": image_id, "path": str(root / d / images[image_id]), "captions": []})
            e["captions"].append(caption)
    return [out[k] for k in sorted(out)]


def coco_pycocotools(root):
    from pycocotools.coco import COCO

    root = pathlib.Path(root)
    out = {}
    for split, d in SPLITS:
        with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints progress
            api = COCO(str(root / "annotations" / f"captions_{d}.json"))
        ids = [int(x) for x in np.load(root / "annotations" / f"coco_{split}_ids.npy")]
        for ann in api.loadAnns(ids):
            img = api.loadImgs(ann["image_id"])[0]
            e = out.setdefault(img["id"], {"id": img["id"], "path": str(root / d / img["file_name"]), "captions": []})
            e["captions"].append(ann["caption"])
    return [out[k] for k in sorted(out)]


IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}


def braces(pattern):
    """Bash's brace expansion of {A..B} (zero-padded as A is) and {a,b}, left to right."""
    import re
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    body = m.group(1)
    if ".." in body:
        a, b = body.split("..")
        width = len(a) if a.startswith("0") else 0
        alts = [str(i).zfill(width) for i in range(int(a), int(b) + 1)]
    else:
        alts = body.split(",")
    head, tail = pattern[: m.start()], pattern[m.end():]
    return [head + x + t for x in alts for t in braces(tail)]


def source(kind, arg, root=None, splits=None):
    """The images of a source: [(id, path)] in the source's order."""
    if kind == "karpathy":
        keep = splits.split(",") if splits else None
        out = []
        for e in json.load(open(arg))["images"]:
            if keep is not None and e["split"] not in keep:
                continue
            d = pathlib.Path(root) / e["filepath"] if "filepath" in e else pathlib.Path(root)
            i = str(e["cocoid"]) if "cocoid" in e else pathlib.Path(e["filename"]).stem
            out.append((i, str(d / e["filename"])))
        return out
    if kind == "coco-json":
        return [(str(e["id"]), str(pathlib.Path(root) / e["file_name"])) for e in json.load(open(arg))["images"]]
    if kind == "folder":
        import os
        files = []
        for d, _, names in os.walk(arg, followlinks=True):
            files += [os.path.join(d, n) for n in names if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS]
        return [(pathlib.Path(f).stem, f) for f in sorted(files)]
    if kind == "list":
        base = pathlib.Path(arg).parent
        out = []
        for line in open(arg).read().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            i, _, f = line.rpartition("\t") if "\t" in line else (pathlib.Path(line).stem, "", line)
            out.append((i, str(base / f)))
        return out
    if kind == "wds":
        import tarfile
        out = []
        for shard in braces(arg):
            for m in tarfile.open(shard):
                key, _, ext = m.name.partition(".")
                if m.isfile() and "." + ext.lower() in IMAGE_EXTENSIONS:
                    out.append((key, f"{shard}/{m.name}"))
        return out
    raise SystemExit(f"unknown source kind {kind}")


def fixtures(out):
    out = pathlib.Path(out)
    ann = out / "coco" / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    caps = {
        "train2014": {
            "images": [{"id": i, "file_name": f"COCO_train2014_{i:012d}.jpg", "width": 640, "height": 480}
                       for i in (9, 25, 30, 34, 77)],
            "annotations": [
                {"id": 101, "image_id": 9, "caption": "A dog on a couch.\n"},
                {"id": 102, "image_id": 9, "caption": "  Two   spaces  and a tab\t"},
                {"id": 103, "image_id": 25, "caption": "Giraffe eating leaves"},
                {"id": 104, "image_id": 30, "caption": "Un café à Paris ☕"},
                {"id": 105, "image_id": 34, "caption": "zebra"},
                {"id": 106, "image_id": 77, "caption": "not listed in any split"},
            ],
        },
        "val2014": {
            "images": [{"id": i, "file_name": f"COCO_val2014_{i:012d}.jpg", "width": 500, "height": 375}
                       for i in (42, 73, 74, 133, 531912)],
            "annotations": [
                {"id": 201, "image_id": 42, "caption": "restval caption"},
                {"id": 202, "image_id": 73, "caption": "dev caption"},
                {"id": 203, "image_id": 74, "caption": "test caption"},
                {"id": 204, "image_id": 531912, "caption": "second split, one image"},
                {"id": 205, "image_id": 531912, "caption": "another caption\nwith a newline"},
                {"id": 206, "image_id": 133, "caption": "caption-file image with no listed annotation"},
            ],
        },
    }
    for d, data in caps.items():
        json.dump(data, open(ann / f"captions_{d}.json", "w", encoding="utf-8"), ensure_ascii=False)
        (out / "coco" / d).mkdir(exist_ok=True)
        for img in data["images"]:
            (out / "coco" / d / img["file_name"]).write_bytes(b"\xff\xd8\xff")
    for split, ids in (("train", [103, 101, 104, 102, 105]), ("restval", [201, 205]), ("dev", [202, 204]),
                       ("test", [203])):
        np.save(ann / f"coco_{split}_ids.npy", np.array(ids, dtype=np.int64))

    vgdir = out / "vg"
    vgdir.mkdir(parents=True, exist_ok=True)
    attributes = [
        {"image_id": 1, "attributes": [
            {"synsets": ["dog.n.01"], "attributes": ["White", " fluffy "], "names": ["dog"]},
            {"synsets": ["dog.n.01", "animal.n.01"], "attributes": ["small"]},  # new name shares
            {"synsets": ["animal.n.01"], "attributes": ["brown"]},
            {"synsets": [], "attributes": ["orphan"]},
            {"synsets": ["car.n.01"]},  # no attributes key
            {"attributes": ["red"]},  # no synsets key
            {"synsets": ["Tree.N.01"], "attributes": ["GREEN\u0007", "\u001ftall\u001c", "", "  "]},
            {"synsets": ["sign.n.02"], "attributes": ["Café", "ｆｕｌｌ"]},
            {"synsets": ["s.t.r.a.n.g.e", "person.n.01", "man.n.01"], "attributes": ["happy"]},
        ]},
        {"image_id": 2, "attributes": []},
        {"image_id": 3},
        {"image_id": 4, "attributes": [
            {"synsets": ["person.n.01"], "attributes": ["tall"]},  # shows up on man and s too
            {"synsets": ["ski.n.01", "pole.n.01"], "attributes": []},
            {"synsets": ["pole.n.01"], "attributes": ["metal"]},
        ]},
    ]
    long_predicate = " ".join(["very"] * 80) + " near"
    relationships = [
        {"image_id": 1, "relationships": [
            {"predicate": "ON", "subject": {"synsets": ["dog.n.01"]}, "object": {"synsets": ["sofa.n.01"]}},
            {"predicate": " riding ", "subject": {"synsets": ["man.n.01", "person.n.01"]},
             "object": {"synsets": ["horse.n.01", "horse.n.02"]}},
            {"predicate": "has", "subject": {"synsets": []}, "object": {"synsets": ["hat.n.01"]}},
            {"predicate": long_predicate, "subject": {"synsets": ["cat.n.01"]}, "object": {"synsets": ["mat.n.01"]}},
            {"predicate": "next\tto", "subject": {"synsets": ["tree.n.01"]}, "object": {"synsets": ["car.n.01"]}},
        ]},
        {"image_id": 2, "relationships": []},
        {"image_id": 3},
    ]
    json.dump(attributes, open(vgdir / "attributes.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    json.dump(relationships, open(vgdir / "relationships.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "fixtures":
        fixtures(sys.argv[2])
    elif cmd == "coco":
        json.dump(coco(sys.argv[2]), sys.stdout, ensure_ascii=False)
    elif cmd == "coco-pycocotools":
        json.dump(coco_pycocotools(sys.argv[2]), sys.stdout, ensure_ascii=False)
    elif cmd == "source":
        images = source(*sys.argv[2:])
        json.dump([{"id": i, "path": p} for i, p in images], sys.stdout, ensure_ascii=False)
    elif cmd == "vg":
        json.dump(vg(sys.argv[2], sys.argv[3]), sys.stdout, ensure_ascii=False)
    else:
        raise SystemExit(__doc__)
