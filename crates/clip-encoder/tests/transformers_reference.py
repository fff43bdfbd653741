"""Reference outputs of transformers' CLIPModel for the golden tests (tests/golden.rs).

    python transformers_reference.py CKPT DIR

DIR/inputs.json: {"n": images, "ids": [[...]], "mask": [[...]]}; DIR/pixels.f32: raw float32
NCHW. Writes DIR/{pooled,image_embeds,features,keys}.f32 (float32, row-major) and prints JSON
with the versions and a self-check.

Text features are taken, as the original (transformers 4.17) did, at each row's largest token id;
today's transformers pools at the first end token instead, which is the same position whenever
the row has one. The script checks that too.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import CLIPModel

torch.set_num_threads(1)
ckpt, d = sys.argv[1], Path(sys.argv[2])
inp = json.loads((d / "inputs.json").read_text())
model = CLIPModel.from_pretrained(ckpt, attn_implementation="eager").eval()
vc = model.config.vision_config
n = inp["n"]
pixels = torch.from_numpy(np.fromfile(d / "pixels.f32", dtype="<f4").reshape(n, 3, vc.image_size, vc.image_size))
ids = torch.tensor(inp["ids"], dtype=torch.int64)
mask = torch.tensor(inp["mask"], dtype=torch.int64)


def norm(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


with torch.no_grad():
    pooled = model.vision_model(pixel_values=pixels).pooler_output
    image_embeds = norm(model.visual_projection(pooled))
    out = model.text_model(input_ids=ids, attention_mask=mask)
    last = out.last_hidden_state
    at = ids.argmax(dim=-1)
    features = last[torch.arange(last.shape[0]), at]
    keys = norm(model.text_projection(features))
    has_eos = (ids == 49407).any(dim=-1)
    pool_diff = float((out.pooler_output[has_eos] - features[has_eos]).abs().max()) if has_eos.any() else 0.0

for name, t in [("pooled", pooled), ("image_embeds", image_embeds), ("features", features), ("keys", keys)]:
    t.numpy().astype("<f4").tofile(d / f"{name}.f32")
print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                  "pooler_vs_argmax_max_diff": pool_diff}))
