"""The h5py side of ctx-store's compatibility tests (tests/h5py_compat.rs).

write-original KIND SPEC.json OUT.h5
    Writes OUT.h5 from SPEC.json with exactly the calls of the Python original:
    vis:     f.attrs["fdim"] = fdim; f.create_dataset(str(id), data=feat)
    txt:     f.create_group(str(id)).create_group(view).create_dataset(name, data=...)
             with texts as a list (or list of lists) of str
    caption: per batch i, group str(i) with keys/features/captions, compression="gzip"
    Floats travel as their float32 bit patterns, so values are bit-identical.

dump FILE
    Prints, as JSON, everything h5py shows of FILE: every object's type, dtype, string
    encoding, shape, chunks, compression and values (floats as bit patterns, strings as
    h5py returns them: bytes, decoded here as UTF-8), and every attribute's dtype and value.

digest FILE
    Like dump, with each dataset's values replaced by the SHA-256 of their bytes (strings:
    of their UTF-8 bytes, each with its length), for files too large to dump.

root-edit FILE COPY_FROM NEW DROP
    Lists the root group's members (h5py's iteration order), then, opened for writing, copies
    group COPY_FROM to NEW and deletes DROP (HDF5 changing the file's B-tree and heaps), and
    lists them again. Prints {"before": [...], "after": [...]}.

root-keys FILE
    Prints the root group's members in h5py's iteration order, and the texts of the first.
"""
import hashlib
import json
import sys

import h5py
import numpy as np


def f32(bits, shape):
    return np.asarray(bits, dtype="<u4").view("<f4").reshape(shape)


def write_original(kind, spec_path, out):
    spec = json.load(open(spec_path, encoding="utf-8"))
    with h5py.File(out, "w") as f:
        if kind == "vis":
            f.attrs["fdim"] = spec["fdim"]
            for e in spec["entries"]:
                f.create_dataset(str(e["id"]), data=f32(e["features"], (spec["fdim"],)))
        elif kind == "txt":
            for e in spec["entries"]:
                g = f.create_group(str(e["id"]))
                for view in ("whole", "five", "nine"):
                    v = e[view]
                    k, d = v["k"], v["d"]
                    shape = (k,) if view == "whole" else (v["crops"], k)
                    vg = g.create_group(view)
                    vg.create_dataset("features", data=f32(v["features"], shape + (d,)))
                    vg.create_dataset("scores", data=f32(v["scores"], shape))
                    texts = v["texts"]
                    if view != "whole":
                        texts = [texts[c * k:(c + 1) * k] for c in range(v["crops"])]
                    vg.create_dataset("texts", data=texts)
        elif kind == "caption":
            for i, b in enumerate(spec["batches"]):
                n = len(b["captions"])
                g = f.create_group(str(i))
                g.create_dataset("keys", data=f32(b["keys"], (n, spec["key_dim"])), compression="gzip")
                g.create_dataset(
                    "features", data=f32(b["features"], (n, spec["feature_dim"])), compression="gzip"
                )
                g.create_dataset("captions", data=b["captions"], compression="gzip")
        else:
            raise SystemExit(f"unknown kind {kind}")


def value(x):
    if isinstance(x, (str, bytes)):  # scalar string attributes come back as str
        x = np.array([x], dtype=object)
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if a.dtype.itemsize == 4:
            return {"f32bits": a.astype("<f4").view("<u4").ravel().tolist()}
        return {"float": a.ravel().tolist()}
    if a.dtype.kind == "O":
        items = a.ravel().tolist()
        return {
            "strings": [s.decode("utf-8") if isinstance(s, bytes) else s for s in items],
            "types": sorted({type(s).__name__ for s in items}),
        }
    if a.dtype.kind in "iu":
        return {"int": a.ravel().tolist()}
    return {"other": repr(a)}


def describe_dtype(dt):
    info = h5py.check_string_dtype(dt)
    return {"dtype": str(dt), "string": None if info is None else [info.encoding, info.length]}


def digest_value(x):
    a = np.asarray(x)
    h = hashlib.sha256(f"{a.dtype.str} {a.shape}".encode())
    if a.dtype.kind == "O":
        for item in a.ravel().tolist():
            b = item if isinstance(item, bytes) else item.encode("utf-8")
            h.update(len(b).to_bytes(8, "little") + b)
    else:
        h.update(np.ascontiguousarray(a).tobytes())
    return {"sha256": h.hexdigest()}


def dump(path, values=value):
    out = {}
    with h5py.File(path, "r") as f:

        def attrs(obj):
            res = {}
            for k in sorted(obj.attrs.keys()):
                aid = obj.attrs.get_id(k)
                res[k] = {**describe_dtype(aid.dtype), "shape": list(aid.shape), "value": value(obj.attrs[k])}
            return res

        out["/"] = {"type": "group", "attrs": attrs(f), "members": list(f.keys())}

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                out[name] = {"type": "group", "attrs": attrs(obj), "members": list(obj.keys())}
            else:
                out[name] = {
                    "type": "dataset",
                    **describe_dtype(obj.dtype),
                    "shape": list(obj.shape),
                    "chunks": None if obj.chunks is None else list(obj.chunks),
                    "compression": obj.compression,
                    "compression_opts": obj.compression_opts,
                    "attrs": attrs(obj),
                    "value": values(obj[()]),
                }

        f.visititems(visit)
    json.dump(out, sys.stdout, ensure_ascii=False, sort_keys=True)


def root_edit(path, copy_from, new, drop):
    with h5py.File(path, "r") as f:
        before = list(f.keys())
    with h5py.File(path, "r+") as f:
        f.copy(f[copy_from], new)
        del f[drop]
    with h5py.File(path, "r") as f:
        after = list(f.keys())
    json.dump({"before": before, "after": after}, sys.stdout)


def root_keys(path):
    with h5py.File(path, "r") as f:
        keys = list(f.keys())
        texts = [t.decode() for t in f[f"{keys[0]}/whole/texts"][()]] if keys else []
    json.dump({"keys": keys, "texts": texts}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "write-original":
        write_original(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif sys.argv[1] == "digest":
        dump(sys.argv[2], digest_value)
    elif sys.argv[1] == "root-edit":
        root_edit(*sys.argv[2:6])
    elif sys.argv[1] == "root-keys":
        root_keys(sys.argv[2])
    else:
        raise SystemExit(__doc__)
