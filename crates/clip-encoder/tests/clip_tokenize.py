"""OpenAI CLIP's `clip.tokenize(texts, truncate=True)` (HAAV's tokenisation), for
tests/clip_tokenizer.rs.

    python clip_tokenize.py < texts.json > out.json
    python clip_tokenize.py --sweep > out.json

A line-for-line mirror of openai/CLIP's `clip/simple_tokenizer.py` and `clip.tokenize` (the
`clip` package is not installed here) with ftfy 5.8 and CLIP's BPE vocabulary
(`bpe_simple_vocab_16e6.txt.gz` from the open-clip-torch wheel, as scripts/make_tiny_clip.py
finds it). open_clip 3.3's `SimpleTokenizer` (clean='lower') runs the same algorithm with two
differences: its `whitespace_clean` is `" ".join(text.split())` (`str.split` also splits at
U+001C..U+001F, which `regex`'s `\\s` does not), and its special tokens are spelled
`<start_of_text>` / `<end_of_text>`. This script checks that the mirror equals open_clip's
tokenizer on every text where neither difference can show, and fails otherwise.

Prints {"fixed": [ftfy.fix_text(t)], "clean": [whitespace_clean(basic_clean(t)).lower()],
"ids": [[uncut ids, start and end included]], "tokens": [[77 ids of clip.tokenize]],
"open_clip_checked": n}. With --sweep the texts are made here and printed too ("texts"): every
code point below U+3000 and every 97th above it that this Python's `unicodedata` (Unicode 14.0
for Python 3.11) knows, surrogates left out, 48 to a text and 6 to a word. Code points assigned
later are left out: `regex` and Rust's tables are newer than Python's and than each other, and
classify or lower-case them differently (the tokenisation, not its Unicode version, is tested).
"""
import gzip
import html
import importlib.util
import json
import sys
import unicodedata
from pathlib import Path

import ftfy
import regex as re

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from make_tiny_clip import bpe_vocab_path, bytes_to_unicode  # noqa: E402

assert ftfy.__version__ == "5.8", ftfy.__version__


def basic_clean(text):
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    text = text.strip()
    return text


merges = gzip.open(bpe_vocab_path()).read().decode("utf-8").split("\n")
merges = merges[1 : 49152 - 256 - 2 + 1]
merges = [tuple(merge.split()) for merge in merges]
vocab = list(bytes_to_unicode().values())
vocab = vocab + [v + "</w>" for v in vocab]
for merge in merges:
    vocab.append("".join(merge))
vocab.extend(["<|startoftext|>", "<|endoftext|>"])
encoder = dict(zip(vocab, range(len(vocab))))
bpe_ranks = dict(zip(merges, range(len(merges))))
byte_encoder = bytes_to_unicode()
cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


def bpe(token):
    if token in cache:
        return cache[token]
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
                new_word.extend(word[i:j])
                i = j
            except ValueError:
                new_word.extend(word[i:])
                break
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
    word = " ".join(word)
    cache[token] = word
    return word


def encode(text):
    bpe_tokens = []
    text = whitespace_clean(basic_clean(text)).lower()
    for token in re.findall(pat, text):
        token = "".join(byte_encoder[b] for b in token.encode("utf-8"))
        bpe_tokens.extend(encoder[bpe_token] for bpe_token in bpe(token).split(" "))
    return bpe_tokens


def tokenize(texts, context_length=77, truncate=True):
    sot_token = encoder["<|startoftext|>"]
    eot_token = encoder["<|endoftext|>"]
    all_tokens = [[sot_token] + encode(text) + [eot_token] for text in texts]
    result = [[0] * context_length for _ in all_tokens]
    for i, tokens in enumerate(all_tokens):
        if len(tokens) > context_length:
            if truncate:
                tokens = tokens[:context_length]
                tokens[-1] = eot_token
            else:
                raise RuntimeError(f"Input {texts[i]} is too long for context length {context_length}")
        result[i][: len(tokens)] = tokens
    return all_tokens, result


def open_clip_tokenizer():
    """open_clip's SimpleTokenizer, loaded from its file (the package itself imports torchvision)."""
    path = Path(importlib.util.find_spec("open_clip").submodule_search_locations[0]) / "tokenizer.py"
    spec = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer(bpe_path=str(bpe_vocab_path()))


def sweep():
    points = [c for c in list(range(0x3000)) + list(range(0x3000, 0x110000, 97))
              if unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    chunks = [points[i : i + 48] for i in range(0, len(points), 48)]
    return [" ".join("".join(map(chr, ch[j : j + 6])) for j in range(0, len(ch), 6)) for ch in chunks]


if __name__ == "__main__":
    texts = sweep() if sys.argv[1:] == ["--sweep"] else json.load(sys.stdin)
    ids, tokens = tokenize(texts)
    clean = [whitespace_clean(basic_clean(t)).lower() for t in texts]
    other = open_clip_tokenizer()
    checked = 0
    for text, c, row in zip(texts, clean, ids):
        if "<|" in c or "_of_text>" in c or any(0x1C <= ord(ch) <= 0x1F for ch in basic_clean(text)):
            continue
        theirs = other.encode(text)
        assert theirs == row[1:-1], f"mirror and open_clip differ on {text!r}: {row[1:-1]} vs {theirs}"
        checked += 1
    json.dump({"texts": texts, "fixed": [ftfy.fix_text(t) for t in texts], "clean": clean, "ids": ids,
               "tokens": tokens, "open_clip_checked": checked}, sys.stdout)
