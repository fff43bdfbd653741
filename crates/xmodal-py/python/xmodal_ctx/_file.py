"""``xmodal_ctx.File``: an open context file."""

from ._preloaded import Preloaded


class File:
    """A context file opened by ``xmodal_ctx.open``.

    ``kind`` is ``vis_ctx``, ``txt_ctx`` or ``caption_db``; ``profile`` is ``original`` or
    ``haav``; ``attrs`` the root attributes (h5py's ``dict(f.attrs)``); ``len(f)`` the images
    (a caption database's rows); ``f.ids()`` the image ids ascending; ``id in f`` and ``f[id]``
    take integers and decimal strings, and the names of images whose ids are not integers
    (``f["dog_01"]``, ``f["000010001"]``: a name is taken as it is).
    """

    def __init__(self, native):
        self._f = native

    @property
    def kind(self):
        return self._f.kind

    @property
    def profile(self):
        return self._f.profile

    @property
    def description(self):
        return self._f.description

    @property
    def path(self):
        return self._f.path

    @property
    def attrs(self):
        return self._f.attrs

    def __len__(self):
        return len(self._f)

    def __contains__(self, key):
        return key in self._f

    def __getitem__(self, key):
        """What h5py's ``f[str(key)]`` holds, as numpy arrays (``KeyError`` if absent).

        vis_ctx: the ``(fdim,)`` features; txt_ctx: ``{"whole"|"five"|"nine": {"features",
        "scores", "texts"}}`` (texts as h5py gives them: an object array of ``bytes``); HAAV's
        vis_ctx: ``{"grid_features", "pooled_features"}``; a caption database: row ``key``,
        ``{"keys", "features" (HAAV: "values"), "captions"}``.
        """
        return self._f[key]

    def __iter__(self):
        ids = self.ids()
        return iter(ids.tolist() if hasattr(ids, "tolist") else ids)

    def __repr__(self):
        return repr(self._f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        """Nothing to do (kept for code written for h5py.File): the file closes when dropped."""

    def ids(self):
        """Image ids ascending, a uint64 array (a caption database: its row numbers); for a file
        whose images are not all named by integers (a folder's ``dog_01``, webdataset's
        ``000010001``), the group names as a list of ``str``, integers first."""
        return self._f.ids()

    def view(self, id, view, crop=None, top_k=None):
        """One view of a txt_ctx image: h5py's ``f[f"{id}/{view}/features"][crop, :top_k]``, and
        the same slice of ``scores`` and ``texts``, as ``{"features", "scores", "texts"}``."""
        return self._f.view(id, view, crop, top_k)

    def preload(self, ids=None, k=None, texts=True):
        """Reads every image (or those of ``ids``, in that order) on all cores into contiguous
        arrays; see :class:`xmodal_ctx.Preloaded`.

        ``k`` keeps the first ``k`` texts per crop of a txt_ctx (HAAV's: 8k, 2k and k rows of
        whole, five and nine, as its training code slices them); ``texts=False`` leaves the
        texts out.
        """
        if ids is not None:
            ids = list(ids)
        return Preloaded(self._f.preload(ids, k, texts), self.kind)
