"""What the drop-in fields of ``m2`` and ``haav`` share: the file opened once per process (data
loader workers included, forked or spawned), and the base of the training code's fields."""

import os

import numpy as np


class RawField:
    """The training code's ``RawField``: keeps ``preprocessing`` and ``postprocessing``, which its
    context fields store and never call."""

    def __init__(self, preprocessing=None, postprocessing=None):
        self.preprocessing = preprocessing
        self.postprocessing = postprocessing


class CtxSource:
    """A context file read per image, or preloaded whole.

    Without preload the file is opened on first use in each process (a forked data loader
    worker opens its own); pickling keeps the paths only. With preload the arrays are read once,
    on all cores, before the training starts. ``caption_db``: the caption database a compact
    txt_ctx is joined with (``None``: the one it records, beside it).
    """

    def __init__(self, path, preload, k=None, caption_db=None):
        self.path = os.fspath(path)
        self.caption_db = None if caption_db is None else os.fspath(caption_db)
        self._file = self._open()
        self._pid = os.getpid()
        self.attrs = self._file.attrs
        self.kind, self.profile = self._file.kind, self._file.profile
        self.preloaded = self._file.preload(k=k, texts=False) if preload else None

    def _open(self):
        from . import open as _open

        return _open(self.path, caption_db=self.caption_db)

    def file(self):
        if self._file is None or self._pid != os.getpid():
            self._file, self._pid = self._open(), os.getpid()
        return self._file

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None
        return state


def positions(crops, k):
    """Crop index of every row of ``crops`` crops of ``k`` texts, flattened: ``0 0 .. 1 1 ..``."""
    return np.repeat(np.arange(crops, dtype=np.int64), k)


def ranks(crops, k):
    """Rank of every row of ``crops`` crops of ``k`` texts, flattened: ``0 1 .. k-1 0 1 ..``."""
    return np.tile(np.arange(k, dtype=np.int64), crops)


def check_k(source, k, factors):
    """``ValueError`` when a view holds fewer rows per crop than ``k`` times its factor."""
    f = source.file()
    ids = f.ids()
    if len(ids) == 0:
        return
    first = f[ids[0] if isinstance(ids[0], str) else int(ids[0])]
    for view, factor in factors.items():
        stored = first[view]["scores"].shape[-1]
        if stored < factor * k:
            raise ValueError(
                f"{source.path}: {view} holds {stored} texts per crop, fewer than "
                f"{factor} x k = {factor * k}"
            )
