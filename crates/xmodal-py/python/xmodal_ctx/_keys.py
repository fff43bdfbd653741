"""Image ids as h5py's ``f[name]`` and ``xmodal_ctx`` take them: integers, their decimal
strings, or (files of sources without integer ids) the group names as they are."""

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


def name(key):
    """The group name ``key`` names, or ``None``: a string as it is (``"000010001"`` stays so),
    an integer >= 0 as ``str(int)`` writes it."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    if isinstance(key, str):
        return key
    id = parse(key)
    return None if id is None else str(id)
