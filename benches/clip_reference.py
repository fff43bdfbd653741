"""transformers' side of benches/clip_vs_transformers.sh.

    python clip_reference.py CKPT images|texts N BATCH THREADS

Same work as clip-bench: random pixels (images: vision tower + projection + normalise) or the
same phrases (texts: tokenizer + text tower + projection + normalise), fp32 CPU, one warm-up batch.
"""
import json
import sys
import time

import torch
from transformers import CLIPModel, CLIPTokenizer

ckpt, mode, n, batch, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
model = CLIPModel.from_pretrained(ckpt).eval()
ADJ = ["white", "red", "wooden", "tall", "striped", "small", "green", "old"]
NOUN = ["dog", "bus", "table", "man", "shirt", "tree", "building"]
PRED = ["riding", "on", "next to", "holding"]


def phrases(n):
    return [f"{ADJ[i % 8]} {NOUN[(i // 8) % 7]} {PRED[i % 4]} {NOUN[(i // 3) % 7]}" if i % 3 == 2
            else f"{ADJ[i % 8]} {NOUN[(i // 8) % 7]}" for i in range(n)]


def norm(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


if mode == "images":
    s = model.config.vision_config.image_size
    pixels = torch.rand(batch, 3, s, s)

    def run(b):
        norm(model.visual_projection(model.vision_model(pixel_values=pixels[:b]).pooler_output)).numpy()
else:
    tok = CLIPTokenizer.from_pretrained(ckpt)
    texts = phrases(batch)

    def run(b):
        enc = tok(texts[:b], padding=True, return_tensors="pt", truncation=True, max_length=75)
        out = model.text_model(**enc).pooler_output
        norm(model.text_projection(out)).numpy()

with torch.inference_mode():
    run(batch)
    t = time.perf_counter()
    done = 0
    while done < n:
        b = min(batch, n - done)
        run(b)
        done += b
    secs = time.perf_counter() - t
print(json.dumps({"items_per_s": n / secs, "items": n, "batch": batch, "threads": torch.get_num_threads()}))
