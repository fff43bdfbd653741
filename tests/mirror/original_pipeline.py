"""A Python mirror of the original pipeline (docs: docs/reference.md),
the reference side of bins/tests/pipeline_e2e.rs and benches/pipeline_vs_mirror.sh.

    python original_pipeline.py COCO_ROOT VG_DIR MODEL OUT [--k 16] [--steps vis,captions,txt]
        [--images SOURCE [--image-root DIR] [--split S,..]] [--on-error skip]
        [--texts DB [--text-split S,..] [--max-tokens N] [--dedup]]

Writes OUT/vis_ctx.hdf5, OUT/caption_db.hdf5 and OUT/txt_ctx.hdf5 with the original's h5py calls
and prints {"seconds": {step: s}, "images": n, "phrases": n, "order": [id, ...]} (model loading
excluded; `order`, with --images: the images in the order they were processed).
Steps as the original: the Karpathy split (datasets mirror), Pillow + transformers 4.17
preprocessing (crops reference), CLIP from transformers (pooler output; text output at the
largest token id, the slow tokenizer mirror), the phrase database (datasets mirror). Retrieval is
an exact search (NumPy, ties to the lower id), not the original's approximate faiss IVF: the
tests compare against exact results.

Other datasets, as docs/datasets.md specifies them (the reference side of
bins/tests/sources_parity.rs; COCO_ROOT or VG_DIR may then be `-`):
  --images karpathy:FILE | coco-json:FILE (with --image-root DIR, --split for Karpathy's),
           folder:DIR | list:FILE | wds:PATTERN (tar members read from the shard, nothing
           unpacked), listed by the datasets mirror's `source`; `--on-error skip` leaves out the
           images Pillow cannot decode (the original has no such option: it stops).
  --texts FILE.txt (one text a line, blank lines skipped) | FILE.jsonl ({"text", "source"} a
          line) | karpathy:FILE (every `sentences[].raw` of the --text-split images, the image's
          id as source); --dedup: one of equal texts, sorted (the first one's source);
          --max-tokens N: texts of at most N tokens between the start and end markers. Sources
          are written as a `sources` dataset beside each batch's `captions`.
"""
import argparse
import io
import json
import pathlib
import sys
import tarfile
import time

root = pathlib.Path(__file__).resolve().parents[2]
for sub in ("crates/datasets/tests", "crates/crops/tests", "crates/clip-encoder/tests"):
    sys.path.insert(0, str(root / sub))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import CLIPModel  # noqa: E402

import mirror  # noqa: E402  (datasets)
import preprocess_reference as pre  # noqa: E402  (crops: five/nine boxes, 4.17 preprocessing)
import slow_tokenizer  # noqa: E402  (4.17 slow CLIPTokenizer)


def norm(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


def pixels(img):
    return torch.from_numpy(pre.clip_417(img)[1])


def open_image(path):
    """An image file, or a member of a tar shard (`SHARD.tar/MEMBER`, as the wds source names it)."""
    shard, sep, member = path.partition(".tar/")
    if not sep:
        return Image.open(path)
    with tarfile.open(shard + ".tar") as t:
        return Image.open(io.BytesIO(t.extractfile(member).read()))


def decoded(path, skip):
    """The image in RGB, or None where it does not decode and `skip` is set."""
    try:
        return open_image(path).convert("RGB")
    except (OSError, SyntaxError, ValueError):
        if not skip:
            raise
        return None


def images_of(args):
    """[{"id", "path"}] in the order the images are processed."""
    if not args.images:
        return mirror.coco(args.coco)
    kind, _, arg = args.images.partition(":")
    return [{"id": i, "path": p} for i, p in mirror.source(kind, arg, args.image_root, args.split)]


def text_database(args):
    """(texts, sources or None) of --texts, filtered and made unique as asked."""
    kind, _, arg = args.texts.partition(":")
    if kind == "karpathy":
        keep = args.text_split.split(",") if args.text_split else None
        rows = []
        for e in json.load(open(arg, encoding="utf-8"))["images"]:
            if keep is not None and e["split"] not in keep:
                continue
            i = str(e["cocoid"]) if "cocoid" in e else pathlib.Path(e["filename"]).stem
            rows += [(s["raw"], i) for s in e["sentences"]]
    elif args.texts.endswith(".jsonl"):
        rows = []
        for line in open(args.texts, encoding="utf-8").read().split("\n"):
            if line.strip():
                r = json.loads(line)
                rows.append((r["text"], str(r["source"]) if r.get("source") is not None else None))
    else:
        lines = open(args.texts, encoding="utf-8", newline="").read().split("\n")
        rows = [(t.removesuffix("\r"), None) for t in lines if t.strip()]
    if args.dedup:
        first = {}
        for t, src in rows:
            first.setdefault(t, src)
        rows = sorted(first.items(), key=lambda r: r[0].encode())
    if args.max_tokens is not None:
        rows = [r for r in rows if len(slow_tokenizer.slow_ids(r[0])) - 2 <= args.max_tokens]
    texts = [t for t, _ in rows]
    sources = [s or "" for _, s in rows] if any(s is not None for _, s in rows) else None
    return texts, sources


def main():
    ap = argparse.ArgumentParser()
    for a in ("coco", "vg", "model", "out"):
        ap.add_argument(a)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--steps", default="vis,captions,txt")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--images")
    ap.add_argument("--image-root")
    ap.add_argument("--split")
    ap.add_argument("--on-error", choices=("fail", "skip"), default="fail")
    ap.add_argument("--texts")
    ap.add_argument("--text-split")
    ap.add_argument("--max-tokens", type=int)
    ap.add_argument("--dedup", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = args.steps.split(",")
    model = CLIPModel.from_pretrained(args.model).eval()
    pre.SIZE = model.config.vision_config.image_size
    skip = args.on_error == "skip"
    images = images_of(args)
    seconds = {}
    res = {"images": len(images)}

    with torch.no_grad():
        if "vis" in steps:
            t = time.perf_counter()
            with h5py.File(out / "vis_ctx.hdf5", "w") as f:
                f.attrs["fdim"] = model.config.vision_config.hidden_size
                order = []
                for i in range(0, len(images), 64):
                    batch = [(e, decoded(e["path"], skip)) for e in images[i:i + 64]]
                    batch = [(e, img) for e, img in batch if img is not None]
                    if not batch:
                        continue
                    order += [e["id"] for e, _ in batch]
                    x = torch.stack([pixels(img) for _, img in batch])
                    pooled = model.vision_model(pixel_values=x).pooler_output.numpy()
                    for (e, _), v in zip(batch, pooled):
                        f.create_dataset(str(e["id"]), data=v)
            seconds["encode-images"] = time.perf_counter() - t
            if args.images:
                res["order"] = order

        if "captions" in steps:
            t = time.perf_counter()
            if args.texts:
                phrases, sources = text_database(args)
            else:
                vg = pathlib.Path(args.vg)
                phrases, sources = mirror.vg(vg / "attributes.json", vg / "relationships.json"), None
            res["phrases"] = len(phrases)
            with h5py.File(out / "caption_db.hdf5", "w") as f:
                for b, i in enumerate(range(0, len(phrases), 512)):
                    chunk = phrases[i:i + 512]
                    rows = [slow_tokenizer.slow_ids(p)[:75] for p in chunk]
                    n = max(len(r) for r in rows)
                    ids = torch.tensor([r + [0] * (n - len(r)) for r in rows])
                    mask = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
                    last = model.text_model(input_ids=ids, attention_mask=mask).last_hidden_state
                    feats = last[torch.arange(len(rows)), ids.argmax(dim=-1)]
                    keys = norm(model.text_projection(feats))
                    g = f.create_group(str(b))
                    g.create_dataset("keys", data=keys.numpy(), compression="gzip")
                    g.create_dataset("features", data=feats.numpy(), compression="gzip")
                    g.create_dataset("captions", data=chunk, compression="gzip")
                    if sources is not None:
                        g.create_dataset("sources", data=sources[i:i + 512], dtype=h5py.string_dtype(), compression="gzip")
            seconds["encode-captions"] = time.perf_counter() - t

        if "txt" in steps:
            t = time.perf_counter()
            with h5py.File(out / "caption_db.hdf5", "r") as f:
                groups = sorted(f.keys(), key=int)
                keys = np.concatenate([f[g]["keys"][()] for g in groups])
                feats = np.concatenate([f[g]["features"][()] for g in groups])
                caps = [c.decode() for g in groups for c in f[g]["captions"][()]]
            k = min(args.k, len(caps))
            order = []
            with h5py.File(out / "txt_ctx.hdf5", "w") as f:
                for e in images:
                    img = decoded(e["path"], skip)
                    if img is None:
                        continue
                    order.append(e["id"])
                    w, h = img.size
                    crops = [img] + [img.crop(b) for b in pre.five_boxes(w, h)] + [img.crop(b) for b in pre.nine_boxes(w, h)]
                    x = torch.stack([pixels(c) for c in crops])
                    q = norm(model.visual_projection(model.vision_model(pixel_values=x).pooler_output)).numpy()
                    scores = q @ keys.T
                    top = np.stack([np.lexsort((np.arange(len(caps)), -s))[:k] for s in scores])
                    g = f.create_group(str(e["id"]))
                    for view, rows in (("whole", [0]), ("five", range(1, 6)), ("nine", range(6, 15))):
                        idx = top[list(rows)]
                        sc = np.take_along_axis(scores[list(rows)], idx, axis=1)
                        ft = feats[idx]
                        tx = [[caps[j] for j in r] for r in idx]
                        if view == "whole":
                            idx, sc, ft, tx = idx[0], sc[0], ft[0], tx[0]
                        vg = g.create_group(view)
                        vg.create_dataset("features", data=ft)
                        vg.create_dataset("scores", data=sc)
                        vg.create_dataset("texts", data=tx)
            seconds["retrieve-captions"] = time.perf_counter() - t
            if args.images:
                res["order"] = order
    res["seconds"] = seconds
    print(json.dumps(res))


if __name__ == "__main__":
    main()
