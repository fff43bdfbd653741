"""Drop-in context fields for HAAV's training code (``haav/data/field.py``).

Change one import line::

    from xmodal_ctx.haav import TxtCtxField, VisCtxField

Same constructor arguments, same ``preprocess`` / ``process`` results; ``preload=True`` reads the
whole file on all cores into contiguous arrays, and items are views into them.
"""

import torch

from ._fields import CtxSource, RawField, check_k, positions, ranks

# Rows per crop of each view, as multiples of k (HAAV's retrieval keeps 8k, 2k and k).
_FACTORS = {"whole": 8, "five": 2, "nine": 1}
_CROPS = {"whole": 1, "five": 5, "nine": 9}


class TxtCtxField(RawField):
    """The retrieved texts' features of an image: the first 8k of ``whole``, 2k per crop of
    ``five``, k per crop of ``nine``, each with the crop (``pos``) and the rank (``rank``) of
    every row.

    ``preprocess(image_id)`` gives ``(whole_f, whole_p, whole_r, five_f, five_p, five_r, nine_f,
    nine_p, nine_r)``, features flattened to ``(crops * rows, fdim)``; ``process(batch)`` stacks
    them into ``{"whole"|"five"|"nine": {"embed", "pos", "rank"}}``. ``fdim`` is the file's root
    attribute. A ``k`` above the file's is refused (``ValueError``).

    ``caption_db`` (an argument the original's field does not have): the caption database of a
    compact txt_ctx kept elsewhere than beside it under the name it records.
    """

    def __init__(
        self,
        ctx_file,
        k=8,
        preload=False,
        preprocessing=None,
        postprocessing=None,
        caption_db=None,
    ):
        self.k = k
        self.preload = preload
        self.ctx = CtxSource(ctx_file, preload, k=k, caption_db=caption_db)
        check_k(self.ctx, k, _FACTORS)
        self.fdim = self.ctx.attrs["fdim"]
        self._index = {
            v: (
                torch.from_numpy(positions(_CROPS[v], _FACTORS[v] * k)),
                torch.from_numpy(ranks(_CROPS[v], _FACTORS[v] * k)),
            )
            for v in _FACTORS
        }
        super().__init__(preprocessing, postprocessing)

    def preprocess(self, x):
        if self.preload:
            e = self.ctx.preloaded[x]
            feats = {v: e[v]["features"] for v in _FACTORS}
        else:
            f = self.ctx.file()
            feats = {v: f.view(x, v, top_k=_FACTORS[v] * self.k)["features"] for v in _FACTORS}
        out = []
        for v in _FACTORS:
            a = feats[v]
            a = a.reshape(-1, a.shape[-1])
            p, r = self._index[v]
            out += [torch.from_numpy(a), p.clone(), r.clone()]
        return tuple(out)

    def process(self, batch, *args, **kwargs):
        cols = [torch.stack(c) for c in zip(*batch)]
        return {
            v: {"embed": cols[3 * i], "pos": cols[3 * i + 1], "rank": cols[3 * i + 2]}
            for i, v in enumerate(_FACTORS)
        }


class VisCtxField(RawField):
    """An image's ViT token features and pooled embedding: ``preprocess(image_id)`` gives
    ``(grid (tokens, fdim_grid), pooled (fdim_pooled,))``, ``process(batch)`` stacks them into
    ``{"grid", "pooled"}``; ``fdim_grid`` and ``fdim_pooled`` are the file's root attributes."""

    def __init__(self, ctx_file, preload=False, preprocessing=None, postprocessing=None):
        self.preload = preload
        self.ctx = CtxSource(ctx_file, preload)
        self.fdim_pooled = self.ctx.attrs["fdim_pooled"]
        self.fdim_grid = self.ctx.attrs["fdim_grid"]
        super().__init__(preprocessing, postprocessing)

    def preprocess(self, image_id):
        if self.preload:
            e = self.ctx.preloaded[image_id]
        else:
            e = self.ctx.file()[image_id]
        return torch.from_numpy(e["grid_features"]), torch.from_numpy(e["pooled_features"])

    def process(self, batch, *args, **kwargs):
        grid, pooled = list(zip(*batch))
        return {"grid": torch.stack(grid), "pooled": torch.stack(pooled)}
