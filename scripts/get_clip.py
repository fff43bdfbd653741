"""Fetch a CLIP checkpoint into the layout the steps read: config.json, model.safetensors,
tokenizer.json (and preprocessor_config.json when the source has one).

    .venv/bin/python scripts/get_clip.py SOURCE OUT_DIR

SOURCE is a Hugging Face Hub name (openai/clip-vit-base-patch32, openai/clip-vit-large-patch14),
downloaded with huggingface_hub, or a local checkpoint directory. Weights published only as
pytorch_model.bin are converted once to model.safetensors with transformers (same tensors).
"""

import shutil
import sys
from pathlib import Path

FILES = ("config.json", "tokenizer.json", "preprocessor_config.json", "model.safetensors",
         "pytorch_model.bin", "tokenizer_config.json", "vocab.json", "merges.txt",
         "special_tokens_map.json")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if Path(source).is_dir():
        for name in FILES:
            if (Path(source) / name).exists() and not (out / name).exists():
                shutil.copy2(Path(source) / name, out / name)
    else:
        from huggingface_hub import snapshot_download
        snapshot_download(source, local_dir=out, allow_patterns=list(FILES))
    if not (out / "config.json").exists():
        sys.exit(f"get_clip: {source}: no config.json; not a Hugging Face checkpoint")
    if not (out / "model.safetensors").exists():
        from transformers import CLIPModel
        print(f"get_clip: converting {out}/pytorch_model.bin to model.safetensors", file=sys.stderr)
        CLIPModel.from_pretrained(out).save_pretrained(out, safe_serialization=True)
    if not (out / "tokenizer.json").exists():
        from transformers import AutoTokenizer
        AutoTokenizer.from_pretrained(out).save_pretrained(out)
    (out / "pytorch_model.bin").unlink(missing_ok=True)
    print(out)


if __name__ == "__main__":
    main()
