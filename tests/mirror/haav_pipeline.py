"""A Python mirror of HAAV's three context steps (GT-RIPL/HAAV ctx/, the CVPR 2023 follow-up of the
original; docs: docs/haav.md), the reference side of the HAAV profile's
pipeline tests.

    python haav_pipeline.py COCO_ROOT VG_DIR MODEL OUT [--vis-model MODEL_B] [--k 16]
        [--steps vis,captions,txt] [--threads N] [--plant original-crop|post-ln-values]

MODEL encodes the captions and the queries (HAAV: ViT-L/14), --vis-model (default MODEL) the
images of vis_ctx (HAAV: ViT-B/32). Writes OUT/vis_ctx.hdf5, OUT/caption_db.hdf5 and
OUT/txt_ctx.hdf5 with HAAV's h5py calls (as crates/ctx-store/tests/haav_tool.py: one
h5py.File(out, "a") per batch, same attributes, order and gzip) and prints {"seconds": {step: s},
"images": n, "phrases": n, "crop_rounding_differs": n} (model loading excluded; the last counts
the 15 * n query inputs whose torchvision centre crop sits elsewhere than CLIP 4.17's, null
without the txt step). The image list, phrases and crop boxes are the original's (datasets and
crops mirrors); the transform is clip.load's (Pillow resize, torchvision 0.11 CenterCrop: crops
mirror's random_reference.clip_417(torchvision=True)); tokens are clip.tokenize(truncate=True)
(clip-encoder's clip_tokenize.py). Differences from HAAV's own scripts: CLIP from transformers
(the same weights) instead of the `clip` package, and an exact search (NumPy, ties to the lower
id) instead of faiss IVF. --plant makes a known mistake, for tests that show a comparison can
fail: original-crop (CLIP 4.17's (d + 1) // 2 crop everywhere), post-ln-values (values after
final_layer_norm, the original's `features`).
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

import clip_tokenize  # noqa: E402  (clip-encoder: clip.tokenize(truncate=True))
import mirror  # noqa: E402  (datasets: image list, phrases)
import preprocess_reference as pre  # noqa: E402  (crops: five/nine boxes)
import random_reference as rnd  # noqa: E402  (crops: CLIP steps with either centre-crop rounding)


def norm(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


def crop_differs(w, h, size):
    """Whether torchvision's and CLIP 4.17's centre crops of a w x h input differ."""
    return any(int(round(d / 2.0)) != (d + 1) // 2 for d in (v - size for v in rnd.clip_size(w, h, size)))


def pixels(imgs, model, plant):
    size = model.config.vision_config.image_size
    return torch.stack([torch.from_numpy(rnd.clip_417(i, size, torchvision=plant != "original-crop")[1]) for i in imgs])


def fresh(path):
    path.unlink(missing_ok=True)  # HAAV appends ("a") batch by batch to a new file
    return path


def main():
    ap = argparse.ArgumentParser()
    for a in ("coco", "vg", "model", "out"):
        ap.add_argument(a)
    ap.add_argument("--vis-model")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--steps", default="vis,captions,txt")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--plant", choices=("none", "original-crop", "post-ln-values"), default="none")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = args.steps.split(",")
    model = CLIPModel.from_pretrained(args.model).eval()
    vis = model if args.vis_model in (None, args.model) else CLIPModel.from_pretrained(args.vis_model).eval()
    images = mirror.coco(args.coco)
    seconds = {}
    res = {"images": len(images)}
    differs = None

    with torch.no_grad():
        if "vis" in steps:  # encode_images.py
            t = time.perf_counter()
            path = fresh(out / "vis_ctx.hdf5")
            for i in range(0, len(images), 64):
                batch = images[i:i + 64]
                o = vis.vision_model(pixel_values=pixels([Image.open(e["path"]).convert("RGB") for e in batch], vis, args.plant))
                grid_features = o.last_hidden_state.numpy()  # every token, before post_layernorm
                pooled_features = norm(vis.visual_projection(o.pooler_output)).numpy()
                with h5py.File(path, "a") as f:
                    f.attrs["fdim_pooled"] = pooled_features.shape[-1]
                    f.attrs["fdim_grid"] = grid_features.shape[-1]
                    for e, p, g in zip(batch, pooled_features, grid_features):
                        grp = f.create_group(str(int(e["id"])))
                        grp.create_dataset("pooled_features", data=p, compression="gzip")
                        grp.create_dataset("grid_features", data=g, compression="gzip")
            seconds["encode-images"] = time.perf_counter() - t

        if "captions" in steps:  # encode_captions.py
            t = time.perf_counter()
            phrases = mirror.vg(pathlib.Path(args.vg) / "attributes.json", pathlib.Path(args.vg) / "relationships.json")
            res["phrases"] = len(phrases)
            path = fresh(out / "caption_db.hdf5")
            for b, i in enumerate(range(0, len(phrases), 512)):
                captions = phrases[i:i + 512]
                uncut, rows = clip_tokenize.tokenize(captions, 77, truncate=True)
                ids = torch.tensor(rows)
                # Id 0 is a real token ("!"), so the mask comes from the lengths. With CLIP's causal
                # mask the output at <end> does not depend on it (HAAV passes none).
                mask = torch.tensor([[1] * min(len(u), 77) + [0] * (77 - min(len(u), 77)) for u in uncut])
                o = model.text_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                eot = (torch.arange(len(rows)), ids.argmax(dim=-1))
                keys = norm(model.text_projection(o.last_hidden_state[eot])).numpy()
                values = (o.last_hidden_state if args.plant == "post-ln-values" else o.hidden_states[-1])[eot].numpy()
                with h5py.File(path, "a") as f:
                    g = f.create_group(str(b))
                    g.create_dataset("keys", data=keys, compression="gzip")
                    g.create_dataset("values", data=values, compression="gzip")
                    g.create_dataset("captions", data=captions, compression="gzip")
            seconds["encode-captions"] = time.perf_counter() - t

        if "txt" in steps:  # retrieve_captions.py
            t = time.perf_counter()
            with h5py.File(out / "caption_db.hdf5", "r") as f:
                groups = sorted(f.keys(), key=int)
                keys = np.concatenate([f[g]["keys"][()] for g in groups])
                values = np.concatenate([f[g]["values"][()] for g in groups])
                caps = [c.decode() for g in groups for c in f[g]["captions"][()]]
            res.setdefault("phrases", len(caps))
            n, size, differs = len(caps), model.config.vision_config.image_size, 0
            path = fresh(out / "txt_ctx.hdf5")
            for i in range(0, len(images), 64):
                with h5py.File(path, "a") as f:
                    for e in images[i:i + 64]:
                        img = Image.open(e["path"]).convert("RGB")
                        w, h = img.size
                        crops = [img] + [img.crop(b) for b in pre.five_boxes(w, h)] + [img.crop(b) for b in pre.nine_boxes(w, h)]
                        differs += sum(crop_differs(*c.size, size) for c in crops)
                        o = model.vision_model(pixel_values=pixels(crops, model, args.plant))
                        scores = norm(model.visual_projection(o.pooler_output)).numpy() @ keys.T
                        top = np.stack([np.lexsort((np.arange(n), -s))[:8 * args.k] for s in scores])
                        g1 = f.create_group(str(int(e["id"])))
                        f.attrs["fdim"] = values.shape[-1]
                        for view, rows, m in (("whole", [0], 8), ("five", range(1, 6), 2), ("nine", range(6, 15), 1)):
                            idx = top[list(rows), :min(n, m * args.k)]
                            sc = np.take_along_axis(scores[list(rows)], idx, axis=1)
                            ft, tx = values[idx], [[caps[j] for j in r] for r in idx]
                            if view == "whole":
                                sc, ft, tx = sc[0], ft[0], tx[0]
                            g = g1.create_group(view)
                            g.create_dataset("features", data=ft, compression="gzip")
                            g.create_dataset("scores", data=sc, compression="gzip")
                            g.create_dataset("texts", data=tx, compression="gzip")
            seconds["retrieve-captions"] = time.perf_counter() - t
    res["crop_rounding_differs"] = differs
    res["seconds"] = seconds
    print(json.dumps(res))


if __name__ == "__main__":
    main()
