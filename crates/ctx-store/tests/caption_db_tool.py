"""The h5py side of tests/caption_db_parallel.rs.

write SPEC.json OUT.h5 [shuffle]
    The original's caption database: per batch i, group str(i) with keys, features, captions,
    compression="gzip" (and shuffle=True with `shuffle`). SPEC names raw little-endian float32
    files for keys and features (all batches' rows one after the other) and holds the batch
    sizes, both widths and the captions.

chunk FILE DATASET INDEX
    Prints "byte_offset size" of chunk INDEX of DATASET, as HDF5 reports them.
"""
import json
import sys

import h5py
import numpy as np


def write(spec_path, out, shuffle):
    spec = json.load(open(spec_path, encoding="utf-8"))
    kd, fd = spec["key_dim"], spec["feature_dim"]
    keys = np.fromfile(spec["keys"], dtype="<f4").reshape(-1, kd)
    features = np.fromfile(spec["features"], dtype="<f4").reshape(-1, fd)
    row = 0
    with h5py.File(out, "w") as f:
        for i, n in enumerate(spec["sizes"]):
            g = f.create_group(str(i))
            g.create_dataset("keys", data=keys[row:row + n], compression="gzip", shuffle=shuffle)
            g.create_dataset("features", data=features[row:row + n], compression="gzip", shuffle=shuffle)
            g.create_dataset("captions", data=spec["captions"][row:row + n], compression="gzip")
            row += n


def chunk(path, dataset, index):
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(int(index))
        print(info.byte_offset, info.size)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "shuffle")
    elif sys.argv[1] == "chunk":
        chunk(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
