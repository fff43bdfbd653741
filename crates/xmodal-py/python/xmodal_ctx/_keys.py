"""Image ids as h5py's ``f[str(id)]`` and ``xmodal_ctx`` take them: integers or decimal strings."""

import numbers


def parse(key):
    """The id ``key`` names, or ``None``: an integer >= 0, or its canonical decimal string."""
    if isinstance(key, bytes):
        key = key.decode("ascii", "replace")
    if isinstance(key, str):
        if not key.isdecimal() or not key.isascii() or str(int(key)) != key:
            return None
        return int(key)
    if isinstance(key, bool) or not isinstance(key, numbers.Integral):
        return None
    key = int(key)
    return key if key >= 0 else None
