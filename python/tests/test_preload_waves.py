"""A txt_ctx of enough images that the preload reads them in several waves of parallel tasks
(each appending its texts to a buffer of its own, shifted into place after the wave): every
image equal to h5py's, whole and cut to fewer texts, in the file's order and in a given one."""

import subprocess

import h5py
import numpy as np
import xmodal_ctx

from conftest import FIXTURES


def h5py_view(h, key, view, k=None):
    out = {}
    for ds in ("features", "scores", "texts"):
        a = h[f"{key}/{view}/{ds}"]
        out[ds] = a[()] if k is None else (a[:k] if view == "whole" else a[:, :k])
    return out


def assert_view(got, ref, where):
    for ds in ("features", "scores"):
        assert got[ds].dtype == ref[ds].dtype and got[ds].shape == ref[ds].shape, where
        assert np.array_equal(got[ds].view("<u4"), ref[ds].view("<u4")), f"{where}/{ds}"
    assert got["texts"].shape == ref["texts"].shape, where
    assert got["texts"].ravel().tolist() == ref["texts"].ravel().tolist(), f"{where}/texts"


def test_preload_of_many_images_equals_h5py(tmp_path):
    path = tmp_path / "many.h5"
    subprocess.run([str(FIXTURES), "txt", str(path), "700", "3", "4"], check=True)
    f = xmodal_ctx.open(path)
    full, cut = f.preload(), f.preload(k=2)
    some = f.ids().tolist()[::-3]
    given = f.preload(ids=some, k=1)
    assert len(full) == len(f) == 700
    assert full.arrays["five/features"].shape == (700, 5, 3, 4)
    assert cut.arrays["nine/scores"].shape == (700, 9, 2)
    offsets = full._texts["nine/texts"][1]
    assert offsets[0] == 0 and np.all(np.diff(offsets.astype(np.int64)) >= 0)
    assert offsets[-1] == len(full._texts["nine/texts"][0])
    with h5py.File(path, "r") as h:
        for key in h:
            for view in ("whole", "five", "nine"):
                assert_view(full[key][view], h5py_view(h, key, view), f"{key}/{view}")
                assert_view(cut[key][view], h5py_view(h, key, view, 2), f"{key}/{view} k=2")
        assert given.ids.tolist() == some
        for key in some:
            for view in ("whole", "five", "nine"):
                assert_view(given[key][view], h5py_view(h, str(key), view, 1), f"{key} k=1")
