"""Read the cross-modal context files (``vis_ctx.hdf5``, ``txt_ctx.hdf5``, ``caption_db.hdf5``,
the original pipeline's and HAAV's) at storage speed.

    import xmodal_ctx
    f = xmodal_ctx.open("txt_ctx.hdf5")        # any of the six kinds, told from the layout
    f[531912]["five"]["features"]              # what h5py's f["531912"] holds, as numpy arrays
    f.view(531912, "five", crop=2, top_k=4)    # f["531912/five/features"][2, :4], scores, texts
    p = f.preload(k=4)                         # every image on all cores, contiguous arrays
    p[531912]["five"]["features"]              # a view of p.arrays["five/features"], no copy

Every read runs with the GIL released. ``xmodal_ctx.m2`` and ``xmodal_ctx.haav`` hold drop-in
``TxtCtxField`` / ``VisCtxField`` classes for the original's M2 and for HAAV's training code.
"""

import os

from . import _native
from ._file import File
from ._preloaded import Preloaded

HDF5_VERSION = _native.HDF5_VERSION
"""The HDF5 C library the package was built with."""

__all__ = ["File", "HDF5_VERSION", "Preloaded", "open"]


def open(path, caption_db=None):  # noqa: A001 - the package's entry point, as h5py.File / builtins.open
    """Opens a context file of any of the six kinds.

    A txt_ctx of the compact layout (``retrieve-captions --txt-layout compact``) reads as the
    full layout, its features and texts joined from its caption database: ``caption_db``, or by
    default the file of the name it records, in the same directory.

    Raises ``FileNotFoundError`` when there is no such file (or no such caption database) and
    ``ValueError`` when it is not a context file (or the caption database is not the one the
    compact file was made with), with a one-line message naming the file(s).
    """
    db = None if caption_db is None else os.fspath(caption_db)
    return File(_native.open(os.fspath(path), db))
