"""Reference outputs of transformers' CLIPModel for the golden tests (tests/golden.rs).

    python transformers_reference.py CKPT DIR

DIR/inputs.json: {"n": images, "ids": [[...]], "mask": [[...]], "clip_ids": [[77 ids]]};
DIR/pixels.f32: raw float32 NCHW. Writes float32 row-major files DIR/NAME.f32:

- the original's outputs: pooled (vision pooler_output), image_embeds (visual_projection of it,
  L2-normalised), features (text output at the largest token id after final_layer_norm) and keys
  (text_projection of features, L2-normalised), from `ids` with `mask`;
- HAAV's: grid (vision_model(...).last_hidden_state, every token before post_layernorm) and, from
  `clip_ids` as clip.tokenize pads them (77 ids, no attention mask, as HAAV's encode_text runs),
  clip_values (text_model(..., output_hidden_states=True).hidden_states[-1] at the largest token
  id, before final_layer_norm) and clip_keys;
- what a mistake would give instead, so that the test can show its data tells them apart:
  grid_post (post_layernorm applied to the grid) and clip_features (clip_values after
  final_layer_norm).

Prints JSON with the versions and self-checks: text features are taken, as the original
(transformers 4.17) did, at each row's largest token id; today's transformers pools at the first
end token instead, the same position whenever the row has one; hidden_states[-1] after
final_layer_norm is last_hidden_state.
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
clip_ids = torch.tensor(inp["clip_ids"], dtype=torch.int64)


def norm(x):
    return x / x.norm(p=2, dim=-1, keepdim=True)


def at_end(x, ids):
    return x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]


with torch.no_grad():
    vis = model.vision_model(pixel_values=pixels)
    pooled, grid = vis.pooler_output, vis.last_hidden_state
    image_embeds = norm(model.visual_projection(pooled))
    grid_post = model.vision_model.post_layernorm(grid)
    out = model.text_model(input_ids=ids, attention_mask=mask)
    features = at_end(out.last_hidden_state, ids)
    keys = norm(model.text_projection(features))
    has_eos = (ids == 49407).any(dim=-1)
    pool_diff = float((out.pooler_output[has_eos] - features[has_eos]).abs().max()) if has_eos.any() else 0.0

    cout = model.text_model(input_ids=clip_ids, output_hidden_states=True)
    clip_values = at_end(cout.hidden_states[-1], clip_ids)
    clip_features = at_end(cout.last_hidden_state, clip_ids)
    clip_keys = norm(model.text_projection(clip_features))
    ln_diff = float((model.text_model.final_layer_norm(clip_values) - clip_features).abs().max())

outputs = dict(pooled=pooled, image_embeds=image_embeds, features=features, keys=keys, grid=grid,
               grid_post=grid_post, clip_values=clip_values, clip_keys=clip_keys,
               clip_features=clip_features)
for name, t in outputs.items():
    t.contiguous().numpy().astype("<f4").tofile(d / f"{name}.f32")
print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                  "pooler_vs_argmax_max_diff": pool_diff,
                  "final_layer_norm_of_hidden_states_vs_last_hidden_state": ln_diff}))
