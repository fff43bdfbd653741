"""Write one fixture of each image source and text database the steps read, from real photos
(the scikit-image wheel's), plus `manifest.json`: what a reader must find in each (ids and
paths in order, texts), worked out here independently of the Rust readers.

    python scripts/make_sources.py OUT

Deterministic: the same files every time (tar members carry a fixed mtime). Sources:
  karpathy_coco.json   Karpathy's split file, COCO style (filepath, cocoid), images under coco/
  karpathy_flickr.json Karpathy's split file, Flickr30k style (no filepath, no cocoid), flickr/
  image_info_test.json COCO-format image list (images[].id, file_name), images under test2014/
  folder/              nested folders, names that are not integers, upper-case extensions
  list.txt             a path a line and ID<TAB>PATH lines, relative to the list's folder
  wds/0000{0,1}.tar    webdataset shards as img2dataset writes them: KEY.jpg/.png with KEY.json
                       and KEY.txt beside; a sample with no image; a corrupt image
  texts.txt, texts.jsonl  text databases (one text a line; {"text", "source"} a line)
"""
import io
import json
import pathlib
import sys
import tarfile

import skimage
from PIL import Image

DATA = pathlib.Path(skimage.__file__).parent / "data"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png"]


def photo(n, size=(96, 72)):
    """Photo n (cycling), made smaller so that the fixtures stay light, in RGB."""
    img = Image.open(DATA / PHOTOS[n % len(PHOTOS)]).convert("RGB")
    return img.resize(size)


def save(img, path, fmt="JPEG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def encoded(img, fmt):
    b = io.BytesIO()
    img.save(b, format=fmt)
    return b.getvalue()


def karpathy_coco(out, manifest):
    # (cocoid, filepath, split, captions)
    entries = [
        (391895, "val2014", "test", ["A man with a red helmet on a small moped.", "A man riding a bike."]),
        (9, "train2014", "train", ["Closeup of bins of food.", "A meal in a lunch box."]),
        (522418, "val2014", "restval", ["A woman cutting a large cake."]),
        (318219, "val2014", "val", ["A computer monitor on a desk.", "A desk with a keyboard."]),
        (25, "train2014", "train", ["A giraffe eating leaves."]),
    ]
    images = []
    for n, (cocoid, fp, split, caps) in enumerate(entries):
        name = f"COCO_{fp}_{cocoid:012d}.jpg"
        save(photo(n), out / "coco" / fp / name)
        images.append({
            "filepath": fp, "sentids": list(range(len(caps))), "filename": name, "imgid": n,
            "split": split, "cocoid": cocoid,
            "sentences": [{"tokens": c.lower().split(), "raw": c, "imgid": n, "sentid": j}
                          for j, c in enumerate(caps)],
        })
    (out / "karpathy_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}))
    listed = [{"id": str(i["cocoid"]), "path": f"coco/{i['filepath']}/{i['filename']}", "split": i["split"]}
              for i in images]
    manifest["karpathy_coco"] = {"file": "karpathy_coco.json", "root": "coco", "images": listed}
    manifest["karpathy_coco_captions"] = [
        {"text": s["raw"], "image_id": str(i["cocoid"]), "split": i["split"]}
        for i in images for s in i["sentences"]]


def karpathy_flickr(out, manifest):
    entries = [
        ("1000092795.jpg", "train", ["Two young guys with shaggy hair look at their hands."]),
        ("10002456.jpg", "train", ["Several men in hard hats are operating a giant pulley system."]),
        ("1000268201.jpg", "val", ["A child in a pink dress is climbing up a set of stairs."]),
        ("1000344755.jpg", "test", ["Someone in a blue shirt and hat is standing on stairs."]),
    ]
    images = []
    for n, (name, split, caps) in enumerate(entries):
        save(photo(n + 1), out / "flickr" / name)
        images.append({
            "sentids": [n], "imgid": n, "split": split, "filename": name,
            "sentences": [{"tokens": c.lower().split(), "raw": c, "imgid": n, "sentid": n} for c in caps],
        })
    (out / "karpathy_flickr.json").write_text(json.dumps({"images": images, "dataset": "flickr30k"}))
    listed = [{"id": i["filename"].rsplit(".", 1)[0], "path": f"flickr/{i['filename']}", "split": i["split"]}
              for i in images]
    manifest["karpathy_flickr"] = {"file": "karpathy_flickr.json", "root": "flickr", "images": listed}


def coco_list(out, manifest):
    ids = [1, 57, 19, 2014000]  # the list's order, not sorted
    images = []
    for n, i in enumerate(ids):
        name = f"COCO_test2014_{i:012d}.jpg"
        save(photo(n + 2), out / "test2014" / name)
        images.append({"id": i, "file_name": name, "width": 96, "height": 72,
                       "license": 1, "coco_url": "", "date_captured": ""})
    doc = {"info": {}, "licenses": [], "categories": [], "images": images}
    (out / "image_info_test.json").write_text(json.dumps(doc))
    manifest["coco_json"] = {"file": "image_info_test.json", "root": "test2014",
                             "images": [{"id": str(i["id"]), "path": f"test2014/{i['file_name']}"} for i in images]}


def folder(out, manifest):
    files = ["beach.jpg", "cats/chelsea-01.png", "cats/nested/deeper/tabby_2.JPG", "z/last.jpeg",
             "a-first/photo.jpg", "a/zebra.jpg"]
    for n, f in enumerate(files):
        fmt = "PNG" if f.endswith(".png") else "JPEG"
        save(photo(n), out / "folder" / f, fmt)
    (out / "folder" / "notes.txt").write_text("not an image\n")
    (out / "folder" / "cats" / "captions.json").write_text("{}")
    ordered = sorted(files)  # by the path's text ("a-first/" before "a/"), as sorted() does
    manifest["folder"] = {"dir": "folder", "images": [
        {"id": pathlib.PurePosixPath(f).stem, "path": f"folder/{f}"} for f in ordered]}


def listing(out, manifest):
    # Paths relative to the list's folder; reuses the files written above.
    lines = ["# images of the list source", "folder/beach.jpg", "",
             "cat-7\tfolder/cats/chelsea-01.png", "flickr/10002456.jpg"]
    (out / "list.txt").write_text("\n".join(lines) + "\n")
    manifest["list"] = {"file": "list.txt", "images": [
        {"id": "beach", "path": "folder/beach.jpg"},
        {"id": "cat-7", "path": "folder/cats/chelsea-01.png"},
        {"id": "10002456", "path": "flickr/10002456.jpg"}]}


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def webdataset(out, manifest):
    (out / "wds").mkdir(parents=True, exist_ok=True)
    # (shard, key, image extension or None, image bytes kind)
    samples = [
        (0, "000000000", "jpg", "good"), (0, "000000001", "png", "good"),
        (0, "000000002", None, None),  # a caption alone: no image
        (0, "000000003", "jpg", "corrupt"),
        (1, "000010000", "jpg", "good"), (1, "000010001", "jpeg", "good"),
        (1, "000010002", "png", "good"),
    ]
    listed = []
    for shard in (0, 1):
        path = out / "wds" / f"{shard:05d}.tar"
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for n, (s, key, ext, kind) in enumerate(samples):
                if s != shard:
                    continue
                caption = f"sample {key}"
                meta = {"key": key, "caption": caption, "status": "success" if ext else "failed_to_download"}
                if ext:
                    fmt = "PNG" if ext == "png" else "JPEG"
                    data = encoded(photo(n), fmt)
                    if kind == "corrupt":
                        data = data[: len(data) // 3]  # cut mid-scan: no end-of-image marker
                    add(tar, f"{key}.{ext}", data)
                    listed.append({"id": key, "path": f"wds/{shard:05d}.tar/{key}.{ext}",
                                   "decodes": kind == "good"})
                add(tar, f"{key}.json", json.dumps(meta).encode())
                add(tar, f"{key}.txt", caption.encode())
    manifest["wds"] = {"pattern": "wds/{00000..00001}.tar", "images": listed}
    # A copy of shard 1 cut inside its last member's data (an interrupted copy).
    data = (out / "wds" / "00001.tar").read_bytes()
    with tarfile.open(out / "wds" / "00001.tar") as t:
        last = t.getmembers()[-1]
    (out / "truncated.tar").write_bytes(data[: last.offset_data + last.size // 2])
    manifest["truncated"] = {"file": "truncated.tar", "member": last.name}


def texts(out, manifest):
    lines = ["a cat on a sofa", "two dogs playing", "a cat on a sofa", "", "a red bus"]
    (out / "texts.txt").write_text("\n".join(lines) + "\n")
    records = [{"text": "a man riding a wave", "source": "391895"},
               {"text": "a plate of food", "source": "9"},
               {"text": "a man riding a wave", "source": "9"},
               {"text": "a bird on a branch"}]
    (out / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    manifest["texts_txt"] = {"file": "texts.txt", "texts": [t for t in lines if t]}
    manifest["texts_jsonl"] = {"file": "texts.jsonl", "texts": [r["text"] for r in records],
                               "sources": [r.get("source", "") for r in records]}


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    karpathy_coco(out, manifest)
    karpathy_flickr(out, manifest)
    coco_list(out, manifest)
    folder(out, manifest)
    listing(out, manifest)
    webdataset(out, manifest)
    texts(out, manifest)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
