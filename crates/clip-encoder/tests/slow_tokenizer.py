"""Token ids of the original's tokenizer for the golden tests (tests/tokenizer.rs).

    python slow_tokenizer.py CKPT < texts.json > ids.json

Prints {"slow": [[ids]...], "fast": [[ids]...]}:
- slow: a line-for-line mirror of transformers 4.17's slow CLIPTokenizer (ftfy 5.8 fix_text,
  whitespace_clean, lower, CLIP's regex with IGNORECASE, byte-level BPE), the tokenizer the
  original ran, built from the same vocabulary as the checkpoint;
- fast: transformers' own CLIPTokenizer (tokenizers-backed) loaded from CKPT/tokenizer.json.
"""
import json
import sys
from functools import lru_cache
from pathlib import Path

import ftfy
import regex as re

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from make_tiny_clip import bytes_to_unicode, clip_vocab_and_merges  # noqa: E402
from transformers import CLIPTokenizer  # noqa: E402

vocab, merges = clip_vocab_and_merges()
bpe_ranks = dict(zip(merges, range(len(merges))))
byte_encoder = bytes_to_unicode()
pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


@lru_cache(maxsize=None)
def bpe(token):
    word = tuple(token[:-1]) + (token[-1] + "</w>",)
    pairs = get_pairs(word)
    if not pairs:
        return token + "</w>"
    while True:
        bigram = min(pairs, key=lambda pair: bpe_ranks.get(pair, float("inf")))
        if bigram not in bpe_ranks:
            break
        first, second = bigram
        new_word = []
        i = 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new_word.extend(word[i:])
                break
            else:
                new_word.extend(word[i:j])
                i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        if len(word) == 1:
            break
        pairs = get_pairs(word)
    return " ".join(word)


def whitespace_clean(text):
    return re.sub(r"\s+", " ", text).strip()


def slow_ids(text):
    text = whitespace_clean(ftfy.fix_text(text)).lower()
    out = [vocab["<|startoftext|>"]]
    for token in re.findall(pat, text):
        token = "".join(byte_encoder[b] for b in token.encode("utf-8"))
        out.extend(vocab[t] for t in bpe(token).split(" "))
    return out + [vocab["<|endoftext|>"]]


if __name__ == "__main__":
    texts = json.load(sys.stdin)
    fast = CLIPTokenizer.from_pretrained(sys.argv[1])
    print(json.dumps({"slow": [slow_ids(t) for t in texts],
                      "fast": [fast(t)["input_ids"] for t in texts]}))
