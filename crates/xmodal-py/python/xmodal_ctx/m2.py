"""Drop-in context fields for the original's M2 training code (``m2/data/field.py``).

Change one import line::

    from xmodal_ctx.m2 import TxtCtxField, VisCtxField

Same constructor arguments, same ``preprocess`` / ``process`` results; ``preload=True`` reads the
whole file on all cores into contiguous arrays, and items are views into them.
"""

import torch

from ._fields import CtxSource, RawField, check_k, positions


class TxtCtxField(RawField):
    """The retrieved texts' features of an image: ``k`` per crop of ``whole``, ``five``, ``nine``.

    ``preprocess(image_id)`` gives ``(whole (k, d), five (5k, d), five positions (5k,), nine
    (9k, d), nine positions (9k,))``, the positions being the crop of each row;
    ``process(batch)`` stacks them into ``{"whole": {"embed", "pos"}, "five": ..., "nine":
    ...}``, ``whole``'s ``pos`` all zeros. A ``k`` above the file's is refused (``ValueError``).

    ``caption_db`` (an argument the original's field does not have): the caption database of a
    compact txt_ctx kept elsewhere than beside it under the name it records.
    """

    def __init__(
        self,
        ctx_file,
        k=4,
        preload=False,
        preprocessing=None,
        postprocessing=None,
        caption_db=None,
    ):
        self.k = k
        self.preload = preload
        self.ctx = CtxSource(ctx_file, preload, k=k, caption_db=caption_db)
        check_k(self.ctx, k, {"whole": 1, "five": 1, "nine": 1})
        self._five_p = torch.from_numpy(positions(5, k))
        self._nine_p = torch.from_numpy(positions(9, k))
        super().__init__(preprocessing, postprocessing)

    def preprocess(self, x):
        k = self.k
        if self.preload:
            e = self.ctx.preloaded[x]
            whole, five, nine = (e[v]["features"] for v in ("whole", "five", "nine"))
        else:
            f = self.ctx.file()
            whole, five, nine = (
                f.view(x, v, top_k=k)["features"] for v in ("whole", "five", "nine")
            )
        d = whole.shape[-1]
        return (
            torch.from_numpy(whole),
            torch.from_numpy(five.reshape(5 * k, d)),
            self._five_p.clone(),
            torch.from_numpy(nine.reshape(9 * k, d)),
            self._nine_p.clone(),
        )

    def process(self, batch, *args, **kwargs):
        whole_f, five_f, five_p, nine_f, nine_p = list(zip(*batch))
        whole_f = torch.stack(whole_f)
        return {
            "whole": {
                "embed": whole_f,
                "pos": torch.zeros(whole_f.shape[:2], dtype=torch.long),
            },
            "five": {"embed": torch.stack(five_f), "pos": torch.stack(five_p)},
            "nine": {"embed": torch.stack(nine_f), "pos": torch.stack(nine_p)},
        }


class VisCtxField(RawField):
    """The CLIP image feature of an image: ``preprocess(image_id)`` gives its ``(fdim,)`` tensor,
    ``process(batch)`` stacks them; ``fdim`` is the file's root attribute."""

    def __init__(self, ctx_file, preload=False, preprocessing=None, postprocessing=None):
        self.preload = preload
        self.ctx = CtxSource(ctx_file, preload)
        self.fdim = self.ctx.attrs["fdim"]
        super().__init__(preprocessing, postprocessing)

    def preprocess(self, image_id):
        if self.preload:
            return torch.from_numpy(self.ctx.preloaded[image_id])
        return torch.from_numpy(self.ctx.file()[image_id])

    def process(self, batch, *args, **kwargs):
        return torch.stack(batch)
