"""A Python mirror of the original pipeline (docs: docs/reference.md),
the reference side of bins/tests/pipeline_e2e.rs and benches/pipeline_vs_mirror.sh.

    python original_pipeline.py COCO_ROOT VG_DIR MODEL OUT [--k 16] [--steps vis,captions,txt]

Writes OUT/vis_ctx.hdf5, OUT/caption_db.hdf5 and OUT/txt_ctx.hdf5 with the original's h5py calls
and prints {"seconds": {step: s}, "images": n, "phrases": n} (model loading excluded).
Steps as the original: the Karpathy split (datasets mirror), Pillow + transformers 4.17
preprocessing (crops reference), CLIP from transformers (pooler output; text output at the
largest token id, the slow tokenizer mirror), the phrase database (datasets mirror). Retrieval is
an exact search (NumPy, ties to the lower id), not the original's approximate faiss IVF: the
tests compare against exact results.
"""
import argparse
import json
import pathlib
import sys
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


def main():
    ap = argparse.ArgumentParser()
    for a in ("coco", "vg", "model", "out"):
        ap.add_argument(a)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--steps", default="vis,captions,txt")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = args.steps.split(",")
    model = CLIPModel.from_pretrained(args.model).eval()
    pre.SIZE = model.config.vision_config.image_size
    images = mirror.coco(args.coco)
    seconds = {}
    res = {"images": len(images)}

    with torch.no_grad():
        if "vis" in steps:
            t = time.perf_counter()
            with h5py.File(out / "vis_ctx.hdf5", "w") as f:
                f.attrs["fdim"] = model.config.vision_config.hidden_size
                for i in range(0, len(images), 64):
                    batch = images[i:i + 64]
                    x = torch.stack([pixels(Image.open(e["path"]).convert("RGB")) for e in batch])
                    pooled = model.vision_model(pixel_values=x).pooler_output.numpy()
                    for e, v in zip(batch, pooled):
                        f.create_dataset(str(e["id"]), data=v)
            seconds["encode-images"] = time.perf_counter() - t

        if "captions" in steps:
            t = time.perf_counter()
            phrases = mirror.vg(pathlib.Path(args.vg) / "attributes.json", pathlib.Path(args.vg) / "relationships.json")
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
            seconds["encode-captions"] = time.perf_counter() - t

        if "txt" in steps:
            t = time.perf_counter()
            with h5py.File(out / "caption_db.hdf5", "r") as f:
                groups = sorted(f.keys(), key=int)
                keys = np.concatenate([f[g]["keys"][()] for g in groups])
                feats = np.concatenate([f[g]["features"][()] for g in groups])
                caps = [c.decode() for g in groups for c in f[g]["captions"][()]]
            k = min(args.k, len(caps))
            with h5py.File(out / "txt_ctx.hdf5", "w") as f:
                for e in images:
                    img = Image.open(e["path"]).convert("RGB")
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
    res["seconds"] = seconds
    print(json.dumps(res))


if __name__ == "__main__":
    main()
