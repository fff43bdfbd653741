"""The drop-in fields give what the original's M2 fields and HAAV's fields give.

The references below re-state, operation for operation, what ``TxtCtxField`` and
``VisCtxField`` of the original's ``m2/data/field.py`` and HAAV's ``haav/data/field.py`` do with
h5py (preload through a thread pool over ``f.keys()``, or one ``h5py.File`` per item)."""

from multiprocessing.pool import ThreadPool

import h5py
import numpy as np
import pytest
import torch

import xmodal_ctx.haav
import xmodal_ctx.m2


def _preload_with_pool(path, load):
    f = h5py.File(path, "r")
    pool = ThreadPool(4)
    results = {key: pool.apply_async(load, args=(f, key)) for key in f.keys()}
    out = {key: r.get() for key, r in results.items()}
    pool.close()
    f.close()
    return out


class M2TxtReference:
    def __init__(self, ctx_file, k=4, preload=False):
        self.k, self.preload = k, preload
        self.ctx = _preload_with_pool(ctx_file, self._load) if preload else ctx_file

    def _load(self, ctx, key):
        k = self.k
        whole = ctx[f"{key}/whole/features"][:k]
        five = ctx[f"{key}/five/features"][:, :k].reshape((5 * k, -1))
        five_p = np.tile(np.arange(5)[:, None], (1, k)).reshape((5 * k,))
        nine = ctx[f"{key}/nine/features"][:, :k].reshape((9 * k, -1))
        nine_p = np.tile(np.arange(9)[:, None], (1, k)).reshape((9 * k,))
        return whole, five, five_p, nine, nine_p

    def preprocess(self, x):
        if self.preload:
            data = self.ctx[str(x)]
        else:
            f = h5py.File(self.ctx, "r")
            data = self._load(f, x)
            f.close()
        w, f5, p5, f9, p9 = data
        return (torch.FloatTensor(w), torch.FloatTensor(f5), torch.LongTensor(p5),
                torch.FloatTensor(f9), torch.LongTensor(p9))

    def process(self, batch):
        w, f5, p5, f9, p9 = list(zip(*batch))
        w, f5, f9 = torch.stack(w), torch.stack(f5), torch.stack(f9)
        wp = torch.zeros((len(w), len(w[0])), dtype=torch.long)
        return {"whole": {"embed": w, "pos": wp}, "five": {"embed": f5, "pos": torch.stack(p5)},
                "nine": {"embed": f9, "pos": torch.stack(p9)}}


class M2VisReference:
    def __init__(self, ctx_file, preload=False):
        self.preload = preload
        self.ctx = (_preload_with_pool(ctx_file, lambda f, key: f[str(key)][:]) if preload
                    else h5py.File(ctx_file, "r"))
        with h5py.File(ctx_file, "r") as f:
            self.fdim = f.attrs["fdim"]

    def preprocess(self, image_id):
        ctx = self.ctx[str(image_id)] if self.preload else self.ctx[str(image_id)][:]
        return torch.FloatTensor(ctx)

    def process(self, batch):
        return torch.stack(batch)


class HaavTxtReference:
    def __init__(self, ctx_file, k=8, preload=False):
        self.k, self.preload = k, preload
        self.ctx = _preload_with_pool(ctx_file, self._load) if preload else ctx_file
        with h5py.File(ctx_file, "r") as f:
            self.fdim = f.attrs["fdim"]

    def _load(self, ctx, key):
        k = self.k
        w = ctx[f"{key}/whole/features"][:8 * k]
        wp = np.zeros((len(w),), dtype=np.int64)
        wr = np.arange(8 * k)
        f5 = ctx[f"{key}/five/features"][:, :2 * k].reshape((5 * 2 * k, -1))
        p5 = np.tile(np.arange(5)[:, None], (1, 2 * k)).reshape((5 * 2 * k,))
        r5 = np.tile(np.arange(2 * k)[None, :], (5, 1)).reshape((5 * 2 * k,))
        f9 = ctx[f"{key}/nine/features"][:, :k].reshape((9 * k, -1))
        p9 = np.tile(np.arange(9)[:, None], (1, k)).reshape((9 * k,))
        r9 = np.tile(np.arange(k)[None, :], (9, 1)).reshape((9 * k,))
        return w, wp, wr, f5, p5, r5, f9, p9, r9

    def preprocess(self, x):
        if self.preload:
            data = self.ctx[str(x)]
        else:
            f = h5py.File(self.ctx, "r")
            data = self._load(f, x)
            f.close()
        return tuple(torch.FloatTensor(a) if i % 3 == 0 else torch.LongTensor(a)
                     for i, a in enumerate(data))

    def process(self, batch):
        cols = [torch.stack(c) for c in zip(*batch)]
        return {v: {"embed": cols[3 * i], "pos": cols[3 * i + 1], "rank": cols[3 * i + 2]}
                for i, v in enumerate(("whole", "five", "nine"))}


class HaavVisReference:
    def __init__(self, ctx_file, preload=False):
        self.preload = preload
        load = lambda f, key: {"grid_features": f[f"{key}/grid_features"][:],
                               "pooled_features": f[f"{key}/pooled_features"][:]}
        self.ctx = _preload_with_pool(ctx_file, load) if preload else h5py.File(ctx_file, "r")
        with h5py.File(ctx_file, "r") as f:
            self.fdim_pooled, self.fdim_grid = f.attrs["fdim_pooled"], f.attrs["fdim_grid"]

    def preprocess(self, image_id):
        if self.preload:
            g, p = self.ctx[str(image_id)]["grid_features"], self.ctx[str(image_id)]["pooled_features"]
        else:
            g, p = self.ctx[f"{image_id}/grid_features"][:], self.ctx[f"{image_id}/pooled_features"][:]
        return torch.FloatTensor(g), torch.FloatTensor(p)

    def process(self, batch):
        g, p = list(zip(*batch))
        return {"grid": torch.stack(g), "pooled": torch.stack(p)}


def assert_tensors_equal(ours, ref, where=""):
    if isinstance(ref, (dict, tuple, list)):
        items = ref.items() if isinstance(ref, dict) else enumerate(ref)
        assert len(ours) == len(ref), where
        for k, r in items:
            assert_tensors_equal(ours[k], r, f"{where}/{k}")
    else:
        assert ours.dtype == ref.dtype and ours.shape == ref.shape, where
        assert torch.equal(ours, ref), where


def ids_of(path):
    with h5py.File(path, "r") as f:
        return [int(k) for k in f]


def run(field, ids):
    items = [field.preprocess(i) for i in ids]
    return items, field.process(items)


@pytest.mark.parametrize("name", ["ours-txt", "h5py-txt"])
@pytest.mark.parametrize("k", [4, 2, 1])
@pytest.mark.parametrize("preload", [False, True])
def test_m2_txt_field(files, name, k, preload):
    path, ids = files[name], ids_of(files[name])[::-1]
    ours = xmodal_ctx.m2.TxtCtxField(path, k=k, preload=preload)
    ref = M2TxtReference(str(path), k=k, preload=preload)
    assert_tensors_equal(run(ours, ids), run(ref, ids))


@pytest.mark.parametrize("name", ["ours-vis", "h5py-vis"])
@pytest.mark.parametrize("preload", [False, True])
def test_m2_vis_field(files, name, preload):
    path, ids = files[name], ids_of(files[name])
    ours = xmodal_ctx.m2.VisCtxField(path, preload=preload)
    ref = M2VisReference(str(path), preload=preload)
    assert ours.fdim == ref.fdim
    assert_tensors_equal(run(ours, ids), run(ref, ids))


@pytest.mark.parametrize("name,k", [("ours-haav-txt", 2), ("ours-haav-txt", 1), ("haav-h5py-txt", 2), ("haav-h5py-txt", 1)])
@pytest.mark.parametrize("preload", [False, True])
def test_haav_txt_field(files, name, k, preload):
    path, ids = files[name], ids_of(files[name])
    ours = xmodal_ctx.haav.TxtCtxField(path, k=k, preload=preload)
    ref = HaavTxtReference(str(path), k=k, preload=preload)
    assert ours.fdim == ref.fdim
    assert_tensors_equal(run(ours, ids), run(ref, ids))


@pytest.mark.parametrize("name", ["ours-haav-vis", "haav-h5py-vis"])
@pytest.mark.parametrize("preload", [False, True])
def test_haav_vis_field(files, name, preload):
    path, ids = files[name], ids_of(files[name])
    ours = xmodal_ctx.haav.VisCtxField(path, preload=preload)
    ref = HaavVisReference(str(path), preload=preload)
    assert (ours.fdim_grid, ours.fdim_pooled) == (ref.fdim_grid, ref.fdim_pooled)
    assert_tensors_equal(run(ours, ids), run(ref, ids))


def test_k_above_the_files_is_refused(files):
    with pytest.raises(ValueError, match="fewer than"):
        xmodal_ctx.m2.TxtCtxField(files["ours-txt"], k=5)
    with pytest.raises(ValueError, match="fewer than"):
        xmodal_ctx.haav.TxtCtxField(files["ours-haav-txt"], k=3)


def test_fields_survive_pickling_for_data_loader_workers(files):
    import pickle

    f = xmodal_ctx.m2.TxtCtxField(files["ours-txt"], k=2)
    g = pickle.loads(pickle.dumps(f))
    assert_tensors_equal(g.preprocess(7), f.preprocess(7))
