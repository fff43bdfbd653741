"""Files of every kind for the xmodal_ctx tests: written by ctx-store's writers (the fixture
binary of crates/xmodal-py) and by h5py with the original's and HAAV's calls (the tools of
crates/ctx-store/tests)."""

import os
import zlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "crates" / "ctx-store" / "tests"))
import h5py_tool  # noqa: E402  (the original's h5py calls)
import haav_tool  # noqa: E402  (HAAV's h5py calls)

FIXTURES = Path(os.environ.get("XMODAL_FIXTURES", ROOT / "target" / "debug" / "xmodal-py-fixtures"))

# (name, fixture-binary arguments after OUT): small sizes, k = 4 texts per crop.
OURS = {
    "ours-txt": ["txt", 6, 4, 8],
    "ours-vis": ["vis", 6, 12],
    "ours-haav-txt": ["haav-txt", 5, 2, 6],
    "ours-haav-vis": ["haav-vis", 5, 3, 4, 5],
    "ours-caption-original": ["caption", 9, 3, 5, "original"],
    "ours-caption-contiguous": ["caption", 9, 3, 5, "contiguous"],
    "ours-haav-caption": ["haav-caption", 9, 3, 5],
}
EMPTY = {
    "empty-txt": ["txt", 0, 4, 8],
    "empty-vis": ["vis", 0, 12],
    "empty-haav-txt": ["haav-txt", 0, 2, 6],
    "empty-haav-vis": ["haav-vis", 0, 3, 4, 5],
}
H5PY = ["h5py-txt", "h5py-vis", "h5py-caption", "haav-h5py-txt", "haav-h5py-vis", "haav-h5py-caption"]
KINDS = {
    "ours-txt": ("txt_ctx", "original"),
    "ours-vis": ("vis_ctx", "original"),
    "ours-haav-txt": ("txt_ctx", "haav"),
    "ours-haav-vis": ("vis_ctx", "haav"),
    "ours-caption-original": ("caption_db", "original"),
    "ours-caption-contiguous": ("caption_db", "original"),
    "ours-haav-caption": ("caption_db", "haav"),
    "h5py-txt": ("txt_ctx", "original"),
    "h5py-vis": ("vis_ctx", "original"),
    "h5py-caption": ("caption_db", "original"),
    "haav-h5py-txt": ("txt_ctx", "haav"),
    "haav-h5py-vis": ("vis_ctx", "haav"),
    "haav-h5py-caption": ("caption_db", "haav"),
}
WORDS = ["a dog", "café", "", "二匹の猫", "on a red bus", "x"]


def bits(rng, n):
    return rng.standard_normal(n).astype("<f4").view("<u4").tolist()


def words(rng, n):
    return [" ".join(rng.choice(WORDS, size=1 + i % 3)) for i in range(n)]


def txt_spec(rng, ids, rows, d, fdim=None):
    entries = []
    for id in ids:
        e = {"id": id}
        for view, crops in (("whole", 1), ("five", 5), ("nine", 9)):
            k = rows[view]
            scores = np.sort(rng.standard_normal((crops, k)).astype("<f4"), axis=1)[:, ::-1]
            e[view] = {
                "k": k,
                "d": d,
                "crops": crops,
                "features": bits(rng, crops * k * d),
                "scores": np.ascontiguousarray(scores).view("<u4").ravel().tolist(),
                "texts": words(rng, crops * k),
            }
        entries.append(e)
    return entries


def write_h5py(name, out):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    ids = [9, 25, 139, 531912, 1000]
    if name == "h5py-vis":
        spec = {"fdim": 7, "entries": [{"id": i, "features": bits(rng, 7)} for i in ids]}
        _write_original("vis", spec, out)
    elif name == "h5py-txt":
        spec = {"entries": txt_spec(rng, ids, {"whole": 4, "five": 4, "nine": 4}, 6)}
        _write_original("txt", spec, out)
    elif name == "h5py-caption":
        batches = [{"keys": bits(rng, n * 3), "features": bits(rng, n * 5), "captions": words(rng, n)} for n in (4, 4, 2)]
        _write_original("caption", {"key_dim": 3, "feature_dim": 5, "batches": batches}, out)
    elif name == "haav-h5py-vis":
        batch = lambda part: [{"id": i, "grid": bits(rng, 3 * 4), "pooled": bits(rng, 5)} for i in part]
        spec = {"fdim_grid": 4, "fdim_pooled": 5, "tokens": 3, "batches": [batch(ids[:3]), batch(ids[3:])]}
        haav_tool.write_vis(spec, out)
    elif name == "haav-h5py-txt":
        entries = txt_spec(rng, ids, {"whole": 16, "five": 4, "nine": 2}, 6)
        haav_tool.write_txt({"fdim": 6, "batches": [entries[:2], entries[2:]]}, out)
    elif name == "haav-h5py-caption":
        batches = [{"keys": bits(rng, n * 3), "values": bits(rng, n * 5), "captions": words(rng, n)} for n in (4, 3)]
        haav_tool.write_caption({"key_dim": 3, "value_dim": 5, "batches": batches}, out)
    else:
        raise ValueError(name)


def _write_original(kind, spec, out):
    import json

    spec_path = str(out) + ".json"
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    h5py_tool.write_original(kind, spec_path, str(out))


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    """name -> path of every test file."""
    d = tmp_path_factory.mktemp("ctx")
    out = {}
    if not FIXTURES.exists():
        pytest.fail(f"{FIXTURES}: not built (cargo build -p xmodal-py --bin xmodal-py-fixtures)")
    for name, args in {**OURS, **EMPTY}.items():
        path = d / f"{name}.h5"
        subprocess.run([str(FIXTURES), args[0], str(path), *map(str, args[1:])], check=True)
        out[name] = path
    for name in H5PY:
        path = d / f"{name}.h5"
        write_h5py(name, path)
        out[name] = path
    return out
