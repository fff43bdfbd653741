"""A txt_ctx of the compact layout reads as its full twin, value for value, both profiles;
the wrong or a missing caption database is refused. The files come from the compact fixture
binary of crates/xmodal-py (the same entries written in both layouts)."""

import os
import pickle
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import xmodal_ctx
import xmodal_ctx.haav
import xmodal_ctx.m2
from conftest import ROOT
from test_read import assert_same

BINARY = Path(
    os.environ.get(
        "XMODAL_COMPACT_FIXTURES", ROOT / "target" / "debug" / "xmodal-py-compact-fixtures"
    )
)


@pytest.fixture(scope="module", params=["original", "haav"])
def twins(request, tmp_path_factory):
    if not BINARY.exists():
        pytest.fail(f"{BINARY}: not built (cargo build -p xmodal-py --bin xmodal-py-compact-fixtures)")
    d = tmp_path_factory.mktemp(f"compact-{request.param}")
    subprocess.run([str(BINARY), "write", str(d), request.param, "6", "2", "5", "40"], check=True)
    return request.param, d


def test_compact_reads_as_the_full_file(twins):
    profile, d = twins
    full, compact = xmodal_ctx.open(d / "full.hdf5"), xmodal_ctx.open(d / "compact.hdf5")
    assert (compact.kind, compact.profile) == ("txt_ctx", profile)
    assert list(compact.ids()) == list(full.ids()) and len(compact) == 6
    for i in full.ids():
        assert_same(compact[int(i)], full[int(i)], str(i))
        assert_same(compact.view(int(i), "five", crop=2, top_k=1), full.view(int(i), "five", crop=2, top_k=1))
    p, q = full.preload(), compact.preload()
    assert sorted(p.arrays) == sorted(q.arrays)
    for name, a in p.arrays.items():
        b = q.arrays[name]
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if a.dtype == object:
            assert a.ravel().tolist() == b.ravel().tolist(), name
        else:
            assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), name
    # What h5py sees: the compact datasets, no image groups.
    with h5py.File(d / "compact.hdf5", "r") as h:
        assert h.attrs["xctx_txt_layout"] == "compact-v1"
        assert h["whole/rows"].dtype == np.int32 and h["ids"].shape == (6,)
        assert str(int(full.ids()[0])) not in h


def test_the_caption_db_given_moved_or_wrong(twins, tmp_path):
    profile, d = twins
    moved = tmp_path / "compact.hdf5"
    shutil.copy(d / "compact.hdf5", moved)
    with pytest.raises(FileNotFoundError, match="caption_db.hdf5"):
        xmodal_ctx.open(moved)
    f = xmodal_ctx.open(moved, caption_db=d / "caption_db.hdf5")
    full = xmodal_ctx.open(d / "full.hdf5")
    i = int(full.ids()[-1])
    assert_same(f[i], full[i])
    # Another database of the same profile: refused, naming both files.
    other = tmp_path / "other"
    subprocess.run([str(BINARY), "write", str(other), profile, "1", "2", "5", "41"], check=True)
    with pytest.raises(ValueError) as e:
        xmodal_ctx.open(moved, caption_db=other / "caption_db.hdf5")
    assert str(moved) in str(e.value) and str(other / "caption_db.hdf5") in str(e.value)


@pytest.mark.parametrize("preload", [False, True])
def test_the_fields_take_the_caption_db(twins, tmp_path, preload):
    profile, d = twins
    moved = tmp_path / "compact.hdf5"
    shutil.copy(d / "compact.hdf5", moved)
    field = xmodal_ctx.m2.TxtCtxField if profile == "original" else xmodal_ctx.haav.TxtCtxField
    k = 2 if profile == "original" else 1
    with pytest.raises(FileNotFoundError, match="caption_db.hdf5"):
        field(moved, k=k, preload=preload)
    got = field(moved, k=k, preload=preload, caption_db=d / "caption_db.hdf5")
    want = field(d / "full.hdf5", k=k, preload=preload)
    ids = [int(i) for i in xmodal_ctx.open(d / "full.hdf5").ids()]
    a = got.process([got.preprocess(i) for i in ids])
    b = want.process([want.preprocess(i) for i in ids])
    assert a.keys() == b.keys()
    for view in a:
        for name, t in a[view].items():
            assert torch.equal(t, b[view][name]), (view, name)
    # A data loader worker opens the file again, with the same caption database.
    again = pickle.loads(pickle.dumps(got))
    assert torch.equal(again.preprocess(ids[0])[0], want.preprocess(ids[0])[0])


@pytest.fixture(scope="module", params=["original", "haav"])
def named_twins(request, tmp_path_factory):
    """Both layouts of images named as a folder's stems: integers and names mixed."""
    if not BINARY.exists():
        pytest.fail(f"{BINARY}: not built (cargo build -p xmodal-py --bin xmodal-py-compact-fixtures)")
    d = tmp_path_factory.mktemp(f"compact-named-{request.param}")
    args = [str(BINARY), "write", str(d), request.param, "7", "2", "5", "40", "named"]
    subprocess.run(args, check=True)
    return request.param, d


def test_named_compact_ids_are_the_full_files_names(named_twins):
    profile, d = named_twins
    full, compact = xmodal_ctx.open(d / "full.hdf5"), xmodal_ctx.open(d / "compact.hdf5")
    ids = list(compact.ids())
    assert ids == list(full.ids()) and len(ids) == 7
    assert all(isinstance(i, str) for i in ids)
    assert "000000002" in ids and "img_1" in ids and "7" in ids and "2" not in ids
    assert "000000002" in compact and 7 in compact and "img_1" in compact
    for i in ids:
        assert_same(compact[i], full[i], i)
        assert_same(compact.view(i, "nine", crop=8, top_k=1), full.view(i, "nine", crop=8, top_k=1), i)
    with pytest.raises(KeyError):
        compact["2"]
    p, q = full.preload(), compact.preload()
    assert list(q.ids) == list(p.ids)
    for name, a in p.arrays.items():
        b = q.arrays[name]
        assert a.shape == b.shape, name
        if a.dtype == object:
            assert a.ravel().tolist() == b.ravel().tolist(), name
        else:
            assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), name
    assert_same(q["img_1"], p["img_1"])
    # h5py sees the names as UTF-8 strings.
    with h5py.File(d / "compact.hdf5", "r") as h:
        assert h5py.check_string_dtype(h["ids"].dtype).encoding == "utf-8"
        assert sorted(h["ids"].asstr()[:]) == sorted(ids)
