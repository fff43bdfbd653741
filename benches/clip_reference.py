"""transformers' side of benches/clip_vs_transformers.sh.

    python clip_reference.py CKPT images|images-grid|texts|texts-clip N BATCH THREADS

Same work as clip-bench: random pixels (images: vision tower + projection + normalise;
images-grid: also every token's features, HAAV's grid) or the same phrases (texts: tokenizer +
text tower + projection + normalise; texts-clip: HAAV's, 77 tokens without attention mask, the
keys and the values before final_layer_norm), fp32 CPU, one warm-up batch. transformers has no
clip.tokenize; texts-clip pads and cuts its fast tokenizer's ids to 77 instead.
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


if mode in ("images", "images-grid"):
    s = model.config.vision_config.image_size
    pixels = torch.rand(batch, 3, s, s)

    def run(b):
        out = model.vision_model(pixel_values=pixels[:b])
        norm(model.visual_projection(out.pooler_output)).numpy()
        if mode == "images-grid":
            out.last_hidden_state.numpy()
elif mode == "texts-clip":
    tok = CLIPTokenizer.from_pretrained(ckpt)
    texts = phrases(batch)

    def run(b):
        ids = tok(texts[:b], padding="max_length", return_tensors="pt", truncation=True, max_length=77)["input_ids"]
        out = model.text_model(input_ids=ids, output_hidden_states=True)
        at = torch.arange(b), ids.argmax(dim=-1)
        out.hidden_states[-1][at].numpy()
        norm(model.text_projection(out.last_hidden_state[at])).numpy()
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
