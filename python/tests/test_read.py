"""xmodal_ctx reads every kind of context file as h5py does, value for value."""

import h5py
import numpy as np
import pytest
import torch

import xmodal_ctx
from conftest import EMPTY, KINDS

CAPTIONS = [n for n in KINDS if KINDS[n][0] == "caption_db"]
IMAGES = [n for n in KINDS if KINDS[n][0] != "caption_db"]
TXT = [n for n in KINDS if KINDS[n][0] == "txt_ctx"]


def h5py_tree(obj):
    """An h5py group as nested dicts of numpy arrays (a dataset: its array)."""
    if isinstance(obj, h5py.Dataset):
        return obj[()]
    return {name: h5py_tree(obj[name]) for name in obj}


def assert_same(ours, ref, where=""):
    """Equal structure, dtypes, shapes and values (floats bit for bit, texts as bytes)."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict), where
        assert sorted(ours) == sorted(ref), where
        for k in ref:
            assert_same(ours[k], ref[k], f"{where}/{k}")
    elif isinstance(ref, bytes):
        assert ours == ref, where
    else:
        ref = np.asarray(ref)
        assert isinstance(ours, np.ndarray), where
        assert ours.shape == ref.shape, where
        if ref.dtype == object:
            assert ours.dtype == object, where
            assert ours.ravel().tolist() == ref.ravel().tolist(), where
        else:
            assert ours.dtype == ref.dtype, where
            assert np.array_equal(ours.view(np.uint8), np.ascontiguousarray(ref).view(np.uint8)), where


def caption_rows(path):
    """A caption database's rows as h5py reads them, in row order."""
    with h5py.File(path, "r") as f:
        if "keys" in f:
            parts = [f]
        else:
            parts = [f[name] for name in sorted(f, key=int)]
        rows = []
        for g in parts:
            feats = "values" if "values" in g else "features"
            keys, values, captions = g["keys"][()], g[feats][()], g["captions"][()]
            rows += [{"keys": keys[i], feats: values[i], "captions": captions[i]} for i in range(len(keys))]
        return rows


@pytest.mark.parametrize("name", list(KINDS))
def test_kind_attrs_len_ids(files, name):
    f = xmodal_ctx.open(files[name])
    assert (f.kind, f.profile) == KINDS[name]
    with h5py.File(files[name], "r") as h:
        ref_attrs = {k: h.attrs[k] for k in h.attrs}
        keys = list(h)
    assert sorted(f.attrs) == sorted(ref_attrs)
    for k, v in ref_attrs.items():
        assert f.attrs[k] == v, k
    if f.kind == "caption_db":
        assert len(f) == len(caption_rows(files[name]))
        assert f.ids().tolist() == list(range(len(f)))
    else:
        ids = sorted(int(k) for k in keys)
        assert len(f) == len(ids) > 0
        assert f.ids().dtype == np.uint64 and f.ids().tolist() == ids
        for i in ids:
            assert i in f and str(i) in f and np.uint64(i) in f
        assert max(ids) + 1 not in f and "abc" not in f and -1 not in f and f"0{ids[0]}" not in f


@pytest.mark.parametrize("name", IMAGES)
def test_images_equal_h5py(files, name):
    f = xmodal_ctx.open(files[name])
    with h5py.File(files[name], "r") as h:
        for key in h:
            ref = h5py_tree(h[key])
            assert_same(f[int(key)], ref, key)
            assert_same(f[key], ref, key)


@pytest.mark.parametrize("name", CAPTIONS)
def test_caption_rows_equal_h5py(files, name):
    f = xmodal_ctx.open(files[name])
    rows = caption_rows(files[name])
    for i, row in enumerate(rows):
        assert_same(f[i], row, str(i))
    with pytest.raises(KeyError):
        f[len(rows)]
    p = f.preload()
    for i, row in enumerate(rows):
        assert_same(p[i], row, str(i))


@pytest.mark.parametrize("name", IMAGES)
def test_preload_equals_h5py(files, name):
    f = xmodal_ctx.open(files[name])
    p = f.preload()
    assert p.ids.tolist() == f.ids().tolist()
    with h5py.File(files[name], "r") as h:
        for key in h:
            assert_same(p[key], h5py_tree(h[key]), key)
            assert_same(p[int(key)], h5py_tree(h[key]), key)
    # Given ids, in the order given (a shard's worth), as strings or integers.
    some = f.ids().tolist()[::-2]
    q = f.preload(ids=[str(i) for i in some])
    assert q.ids.tolist() == some
    for i in some:
        assert_same(q[i], f[i], str(i))
    assert f.ids().tolist()[-2] not in q


@pytest.mark.parametrize("name", IMAGES)
def test_preload_is_contiguous_and_shared(files, name):
    f = xmodal_ctx.open(files[name])
    p = f.preload()
    for a in p.arrays.values():
        assert a.flags.c_contiguous and a.shape[0] == len(f)
    first_name, first = next(iter(p.arrays.items()))
    i = int(f.ids()[-1])
    row = p[i]
    leaf = row if isinstance(row, np.ndarray) else row[first_name.split("/")[0]]
    if isinstance(leaf, dict):
        leaf = leaf[first_name.split("/")[1]]
    assert np.shares_memory(leaf, first)
    t = torch.from_numpy(leaf)
    assert t.data_ptr() == leaf.ctypes.data


@pytest.mark.parametrize("name", TXT)
def test_view_and_top_k_equal_h5py_slices(files, name):
    f = xmodal_ctx.open(files[name])
    with h5py.File(files[name], "r") as h:
        for key in list(h)[:3]:
            for view, crop, top in (("five", 2, 3), ("nine", 8, 1), ("whole", None, 2), ("five", None, None)):
                got = f.view(int(key), view, crop=crop, top_k=top)
                for ds in ("features", "scores", "texts"):
                    a = h[f"{key}/{view}/{ds}"]
                    ref = a[:top] if view == "whole" else (a[crop, :top] if crop is not None else a[:, :top])
                    assert_same(got[ds], ref, f"{key}/{view}/{ds}")
        k = 1
        p = f.preload(k=k)
        factor = {"whole": 8, "five": 2, "nine": 1} if f.profile == "haav" else {"whole": 1, "five": 1, "nine": 1}
        for key in h:
            for view in ("whole", "five", "nine"):
                rows = factor[view] * k
                for ds in ("features", "scores", "texts"):
                    a = h[f"{key}/{view}/{ds}"]
                    ref = a[:rows] if view == "whole" else a[:, :rows]
                    assert_same(p[key][view][ds], ref, f"{key}/{view}/{ds} k={k}")
    with pytest.raises(ValueError):
        f.view(int(f.ids()[0]), "four")
    with pytest.raises(KeyError):
        f.view(int(f.ids()[0]), "five", crop=5)


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_files(files, name):
    f = xmodal_ctx.open(files[name])
    assert len(f) == 0 and f.ids().tolist() == [] and 7 not in f
    p = f.preload()
    assert len(p) == 0
    assert all(a.shape[0] == 0 for a in p.arrays.values())
    with pytest.raises(KeyError):
        f[7]


def test_errors_are_python_exceptions_naming_the_file(files, tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        xmodal_ctx.open(missing)
    text = tmp_path / "notes.txt"
    text.write_text("not HDF5")
    with pytest.raises(ValueError, match="notes.txt: not an HDF5 file"):
        xmodal_ctx.open(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h:
        h["weights"] = np.zeros(3)
    with pytest.raises(ValueError, match="other.h5: not a context file"):
        xmodal_ctx.open(other)
    f = xmodal_ctx.open(files["ours-txt"])
    for key in (8, "8", "abc", -1, "07"):
        with pytest.raises(KeyError):
            f[key]
    with pytest.raises(KeyError):
        f.preload(ids=[7, 8])
    with pytest.raises(TypeError):
        xmodal_ctx.open(files["ours-vis"]).view(7, "five")
