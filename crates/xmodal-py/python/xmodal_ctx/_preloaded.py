"""``xmodal_ctx.Preloaded``: a file's images in contiguous numpy arrays."""

import numpy as np

from . import _keys


class Preloaded:
    """What ``File.preload`` returns.

    ``ids``: the images, in the order read (uint64; a list of ``str`` for a file whose images
    are named otherwise than by integers). ``arrays``: one array per dataset and
    view, the image along the first axis (``"five/features"`` ``(n, 5, k, d)``, a vis_ctx's
    ``"features"`` ``(n, fdim)``, HAAV's ``"grid_features"`` ``(n, tokens, width)``, a caption
    database's ``"keys"``). ``p[id]`` has the layout of ``File.__getitem__`` with views into
    these arrays (no copy; ``torch.from_numpy`` shares them too); texts are decoded on demand.
    No Python object is made per image.
    """

    def __init__(self, loaded, kind):
        self.kind = kind
        self.ids = loaded["ids"]
        self.arrays = loaded["arrays"]
        self._texts = loaded["texts"]
        if isinstance(self.ids, np.ndarray):
            self._names = None
            self._order = np.argsort(self.ids, kind="stable")
            self._sorted = self.ids[self._order]
        else:
            self._names = {n: i for i, n in enumerate(self.ids)}

    def __len__(self):
        return len(self.ids)

    def row(self, key):
        """The row of image ``key`` in the arrays (``KeyError`` if it was not preloaded)."""
        if self._names is not None:
            row = self._names.get(_keys.name(key))
            if row is None:
                raise KeyError(f"{key!r}: not preloaded")
            return row
        id = _keys.parse(key)
        if id is not None and len(self._sorted):
            i = int(np.searchsorted(self._sorted, np.uint64(id)))
            if i < len(self._sorted) and int(self._sorted[i]) == id:
                return int(self._order[i])
        raise KeyError(f"{key!r}: not preloaded")

    def __contains__(self, key):
        try:
            self.row(key)
        except KeyError:
            return False
        return True

    def texts(self, key, name):
        """The texts ``name`` (``"five/texts"``, ``"captions"``) of one image, as h5py gives
        them: an object array of ``bytes`` (a caption's: one ``bytes``)."""
        return self._texts_at(self.row(key), name)

    def _texts_at(self, row, name):
        buf, offsets, shape = self._texts[name]
        m = int(np.prod(shape, dtype=np.int64))
        if not shape:
            return buf[offsets[row] : offsets[row + 1]].tobytes()
        o = offsets[row * m : (row + 1) * m + 1]
        items = [buf[o[i] : o[i + 1]].tobytes() for i in range(m)]
        out = np.empty(m, dtype=object)
        out[:] = items
        return out.reshape(shape)

    def __getitem__(self, key):
        row = self.row(key)
        if self.kind == "vis_ctx" and list(self.arrays) == ["features"]:
            return self.arrays["features"][row]
        out = {}
        for name, a in self.arrays.items():
            _put(out, name, a[row])
        for name in self._texts:
            _put(out, name, self._texts_at(row, name))
        return out


def _put(out, name, value):
    head, _, tail = name.partition("/")
    if tail:
        out.setdefault(head, {})[tail] = value
    else:
        out[head] = value
