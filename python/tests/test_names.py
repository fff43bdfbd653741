"""Files whose images are named otherwise than by integers (a folder's ``dog_01``, webdataset's
zero-padded ``000010001``), written by h5py as the original writes ``f[str(id)]``: read by name,
listed as ``str`` by ``ids()``, preloaded and indexed by name. ``000010001`` and ``10001`` are two
images: a reader that parsed names as integers would mix them up."""

import h5py
import numpy as np
import pytest
import xmodal_ctx

NAMES = ["dog_01", "000010001", "10001", "7"]
ORDER = ["7", "10001", "000010001", "dog_01"]  # integers first, then by name


def _vis(path):
    with h5py.File(path, "w") as f:
        f.attrs["fdim"] = 3
        for i, name in enumerate(NAMES):
            f.create_dataset(name, data=np.full(3, i, "f4"))


def _txt(path, k=2, d=3):
    with h5py.File(path, "w") as f:
        for i, name in enumerate(NAMES):
            g = f.create_group(name)
            for view, crops in (("whole", 1), ("five", 5), ("nine", 9)):
                shape = (k,) if view == "whole" else (crops, k)
                vg = g.create_group(view)
                vg.create_dataset("features", data=np.full(shape + (d,), i, "f4"))
                vg.create_dataset("scores", data=np.full(shape, -i, "f4"))
                vg.create_dataset("texts", data=np.full(shape, f"text of {name}", dtype=object),
                                  dtype=h5py.string_dtype())


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    d = tmp_path_factory.mktemp("names")
    vis, txt = d / "vis.h5", d / "txt.h5"
    _vis(vis)
    _txt(txt)
    return {"vis": vis, "txt": txt}


def test_vis_names_read_as_h5py_reads_them(named):
    f = xmodal_ctx.open(named["vis"])
    assert f.kind == "vis_ctx" and len(f) == 4
    assert f.ids() == ORDER
    assert list(f) == ORDER
    with h5py.File(named["vis"], "r") as h:
        for name in NAMES:
            assert name in f
            np.testing.assert_array_equal(f[name], h[name][()])
    np.testing.assert_array_equal(f["000010001"], np.full(3, 1, "f4"))
    np.testing.assert_array_equal(f["10001"], np.full(3, 2, "f4"))
    np.testing.assert_array_equal(f[10001], np.full(3, 2, "f4"))
    np.testing.assert_array_equal(f[7], f["7"])
    assert "dog_02" not in f and 10002 not in f
    with pytest.raises(KeyError, match="dog_02"):
        f["dog_02"]


def test_txt_names_and_views(named):
    f = xmodal_ctx.open(named["txt"])
    assert f.ids() == ORDER
    e = f["000010001"]
    assert e["five"]["features"].shape == (5, 2, 3)
    assert (e["whole"]["features"] == 1).all()
    assert e["nine"]["texts"][0, 0] == b"text of 000010001"
    v = f.view("dog_01", "five", crop=2, top_k=1)
    assert v["features"].shape == (1, 3) and (v["features"] == 0).all()


@pytest.mark.parametrize("kind", ["vis", "txt"])
def test_preload_indexes_names(named, kind):
    f = xmodal_ctx.open(named[kind])
    p = f.preload()
    assert p.ids == ORDER
    for name in NAMES:
        assert name in p
        want, got = f[name], p[name]
        if kind == "vis":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_array_equal(got["five"]["features"], want["five"]["features"])
            assert got["whole"]["texts"].tolist() == want["whole"]["texts"].tolist()
    assert p.row("000010001") != p.row(10001)
    assert p.row(7) == p.row("7")
    # Given names, in the order given (a shard's worth).
    q = f.preload(ids=["dog_01", "000010001"])
    assert q.ids == ["dog_01", "000010001"]
    assert "10001" not in q and 10001 not in q
    assert q.row("000010001") == 1


def test_integer_files_keep_uint64_ids(tmp_path):
    path = tmp_path / "vis.h5"
    with h5py.File(path, "w") as h:
        h.attrs["fdim"] = 2
        for i in (25, 9):
            h.create_dataset(str(i), data=np.full(2, i, "f4"))
    f = xmodal_ctx.open(path)
    assert f.ids().dtype == np.uint64 and f.ids().tolist() == [9, 25]
    assert "009" not in f and "9" in f
    assert f.preload().ids.tolist() == [9, 25]
