"""Write a random-weight CLIP checkpoint in Hugging Face layout.

    python scripts/make_tiny_clip.py OUT_DIR [--preset a|b|l14|vit-b-32|vit-l-14] [--seed N]

OUT_DIR gets config.json, model.safetensors (transformers' own save_pretrained), tokenizer.json
built from CLIP's real BPE vocabulary (bpe_simple_vocab_16e6.txt.gz from the open-clip-torch
wheel, or the file XCTX_BPE_VOCAB names; the same 49,408-entry vocabulary as
openai/clip-vit-base-patch32), and a
preprocessor_config.json in the format of the openai checkpoints.

Presets differ in every size the model reads from its config (patch size, widths, heads, layers,
projection size, activation), so that tests catch a size read from the wrong key. `l14` has the
shape of openai/clip-vit-large-patch14 where it matters for the code (patch 14 at 224 px: 257
tokens; vision and text of different widths, a third width for the projection) with a few narrow
layers. `vit-b-32` and `vit-l-14` have the full shapes of openai/clip-vit-base-patch32 and
openai/clip-vit-large-patch14 (for benchmarks; vit-l-14 writes 1.7 GB). Weights are random: the
features mean nothing, but the arithmetic is the real model's.
"""

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

import torch
import transformers
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

PRESETS = {
    "a": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, patch_size=32, image_size=224),
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2),
        projection_dim=16, hidden_act="quick_gelu", layer_norm_eps=1e-5,
    ),
    "b": dict(
        vision=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3,
                    num_attention_heads=4, patch_size=16, image_size=64),
        text=dict(hidden_size=24, intermediate_size=40, num_hidden_layers=1,
                  num_attention_heads=3),
        projection_dim=20, hidden_act="gelu", layer_norm_eps=1e-6,
    ),
    "l14": dict(
        vision=dict(hidden_size=40, intermediate_size=72, num_hidden_layers=2,
                    num_attention_heads=5, patch_size=14, image_size=224),
        text=dict(hidden_size=28, intermediate_size=56, num_hidden_layers=2,
                  num_attention_heads=4),
        projection_dim=12, hidden_act="quick_gelu", layer_norm_eps=1e-5,
    ),
    "vit-b-32": dict(
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                    num_attention_heads=12, patch_size=32, image_size=224),
        text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                  num_attention_heads=8),
        projection_dim=512, hidden_act="quick_gelu", layer_norm_eps=1e-5,
    ),
    "vit-l-14": dict(
        vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                    num_attention_heads=16, patch_size=14, image_size=224),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12),
        projection_dim=768, hidden_act="quick_gelu", layer_norm_eps=1e-5,
    ),
}

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(n) for n in cs]))


def bpe_vocab_path():
    import importlib.util

    if os.environ.get("XCTX_BPE_VOCAB"):  # the file itself, where open-clip-torch is absent
        return Path(os.environ["XCTX_BPE_VOCAB"])

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("make_tiny_clip: open-clip-torch is not installed (run make setup)")
    return Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"


def clip_vocab_and_merges():
    """CLIP's vocabulary and merges, built as open_clip's SimpleTokenizer builds them."""
    lines = gzip.open(bpe_vocab_path()).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--preset", default="a", choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    p = PRESETS[args.preset]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(args.seed)
    common = dict(hidden_act=p["hidden_act"], layer_norm_eps=p["layer_norm_eps"])
    config = CLIPConfig(
        text_config=dict(**p["text"], **common, vocab_size=49408, max_position_embeddings=77),
        vision_config=dict(**p["vision"], **common),
        projection_dim=p["projection_dim"],
    )
    model = CLIPModel(config).eval()
    # Larger than the default init (std 0.02) so that every layer moves the output measurably.
    with torch.no_grad():
        for name, t in model.named_parameters():
            if name.endswith("weight") and t.dim() >= 2:
                t.normal_(0.0, 0.08)
            elif name.endswith("bias"):
                t.normal_(0.0, 0.02)
    model.save_pretrained(out, safe_serialization=True)

    vocab, merges = clip_vocab_and_merges()
    tok = CLIPTokenizer(vocab=vocab, merges=merges)
    tok.model_max_length = 77
    tok.save_pretrained(out)
    for extra in ("vocab.json", "merges.txt", "special_tokens_map.json"):
        if (out / extra).exists():
            os.remove(out / extra)

    size = p["vision"]["image_size"]
    (out / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": size, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": MEAN, "image_std": STD,
        "resample": 3, "size": size,
    }, indent=2) + "\n")
    print(json.dumps({"out": str(out), "preset": args.preset,
                      "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
