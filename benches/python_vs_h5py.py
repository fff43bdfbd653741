"""xmodal_ctx's preload and random access against ctx-store's Rust preload and against h5py
doing what the original's M2 training code does, on one txt_ctx, in one run
(benches/python_vs_h5py.sh drives it; figures in docs/benchmarks.md).

    python_vs_h5py.py all FILE              every measurement below, each in a fresh process
                                            (peak memory is per process), then the ratios
    python_vs_h5py.py rust FILE             ctx-store's Rust preload (TxtCtxReader::preload,
                                            called through the package, nothing handed to Python)
    python_vs_h5py.py xmodal FILE           xmodal_ctx.open(FILE).preload()
    python_vs_h5py.py m2-xmodal FILE K      xmodal_ctx.m2.TxtCtxField(FILE, k=K, preload=True)
    python_vs_h5py.py m2-h5py FILE K        the M2 TxtCtxField's preload: a pool of 128 threads
                                            over f.keys(), each slicing [:k] of the three views
    python_vs_h5py.py floor FILE            the file's bytes read into one fresh buffer on all
                                            cores (os.preadv, 64 MiB pieces): what no reader
                                            of the whole file can beat
    python_vs_h5py.py random FILE N         N images in random order, one at a time, without
                                            preload: xmodal_ctx f[id] against h5py's
                                            f[str(id)] read whole, and the M2 fields' preprocess
"""
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(**kw):
    print(json.dumps(kw), flush=True)


def rust(path):
    from xmodal_ctx import _native

    before = rss_bytes()
    secs, payload = _native._bench_rust_preload(path)
    emit(op="rust-preload", seconds=secs, payload_bytes=payload,
         peak_rss_over_start_bytes=peak_rss_bytes() - before)


def xmodal(path):
    import xmodal_ctx

    before = rss_bytes()
    t = time.perf_counter()
    p = xmodal_ctx.open(path).preload()
    secs = time.perf_counter() - t
    payload = sum(a.nbytes for a in p.arrays.values())
    payload += sum(b.nbytes + o.nbytes for b, o, _ in p._texts.values())
    emit(op="xmodal-preload", images=len(p), seconds=secs, payload_bytes=payload,
         peak_rss_over_start_bytes=peak_rss_bytes() - before)


def floor(path):
    from multiprocessing.pool import ThreadPool

    size = os.path.getsize(path)
    piece = 64 << 20
    before = rss_bytes()
    t = time.perf_counter()
    buf = np.empty(size, dtype=np.uint8)  # pages come from the kernel as they are written
    view = memoryview(buf)
    fd = os.open(path, os.O_RDONLY)

    def read(at):
        end = min(at + piece, size)
        while at < end:
            at += os.preadv(fd, [view[at:end]], at)

    with ThreadPool(os.cpu_count()) as pool:
        pool.map(read, range(0, size, piece))
    os.close(fd)
    secs = time.perf_counter() - t
    emit(op="floor", seconds=secs, bytes=size, peak_rss_over_start_bytes=peak_rss_bytes() - before)


def m2_xmodal(path, k):
    import xmodal_ctx.m2

    before = rss_bytes()
    t = time.perf_counter()
    f = xmodal_ctx.m2.TxtCtxField(path, k=k, preload=True)
    secs = time.perf_counter() - t
    payload = sum(a.nbytes for a in f.ctx.preloaded.arrays.values())
    emit(op="m2-xmodal-preload", k=k, images=len(f.ctx.preloaded), seconds=secs,
         payload_bytes=payload, peak_rss_over_start_bytes=peak_rss_bytes() - before)


def m2_h5py(path, k):
    from multiprocessing.pool import ThreadPool

    import h5py

    def load(ctx, key):
        whole = ctx[f"{key}/whole/features"][:k]
        five = ctx[f"{key}/five/features"][:, :k].reshape((5 * k, -1))
        five_p = np.tile(np.arange(5)[:, None], (1, k)).reshape((5 * k,))
        nine = ctx[f"{key}/nine/features"][:, :k].reshape((9 * k, -1))
        nine_p = np.tile(np.arange(9)[:, None], (1, k)).reshape((9 * k,))
        return {"whole": {"features": whole}, "five": {"features": five, "positions": five_p},
                "nine": {"features": nine, "positions": nine_p}}

    before = rss_bytes()
    t = time.perf_counter()
    f = h5py.File(path, "r")
    pool = ThreadPool(128)
    results = {key: pool.apply_async(load, args=(f, key)) for key in f.keys()}
    ctx = {key: r.get() for key, r in results.items()}
    f.close()
    secs = time.perf_counter() - t
    pool.close()
    emit(op="m2-h5py-preload", k=k, images=len(ctx), seconds=secs,
         peak_rss_over_start_bytes=peak_rss_bytes() - before)


def random_access(path, n):
    import h5py
    import xmodal_ctx
    import xmodal_ctx.m2

    f = xmodal_ctx.open(path)
    ids = np.random.default_rng(0).permutation(f.ids())[:n].tolist()

    def tree(g):
        return g[()] if isinstance(g, h5py.Dataset) else {k: tree(g[k]) for k in g}

    t = time.perf_counter()
    for i in ids:
        f[i]
    ours = (time.perf_counter() - t) / len(ids)
    with h5py.File(path, "r") as h:
        t = time.perf_counter()
        for i in ids:
            tree(h[str(i)])
        theirs = (time.perf_counter() - t) / len(ids)
    field = xmodal_ctx.m2.TxtCtxField(path, k=4)
    t = time.perf_counter()
    for i in ids:
        field.preprocess(i)
    ours_field = (time.perf_counter() - t) / len(ids)
    t = time.perf_counter()
    for i in ids:  # M2's preprocess without preload: a new h5py.File per item
        with h5py.File(path, "r") as h:
            h[f"{i}/whole/features"][:4]
            h[f"{i}/five/features"][:, :4].reshape((20, -1))
            h[f"{i}/nine/features"][:, :4].reshape((36, -1))
    theirs_field = (time.perf_counter() - t) / len(ids)
    emit(op="random", images=len(ids), xmodal_image_s=ours, h5py_image_s=theirs,
         m2_xmodal_item_s=ours_field, m2_h5py_item_s=theirs_field)


def run(*args):
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    line = out.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


def cat(path):
    with open(path, "rb") as f:  # the same warm page cache for every reader
        while f.read(1 << 24):
            pass


def all_(path):
    me = [sys.executable, os.path.abspath(__file__)]
    k_file = None
    import xmodal_ctx

    f = xmodal_ctx.open(path)
    k_file = f.view(int(f.ids()[0]), "whole")["scores"].shape[0]
    del f
    cat(path)
    low = run(*me, "floor", path)
    cat(path)
    rust = run(*me, "rust", path)
    cat(path)
    py = run(*me, "xmodal", path)
    cat(path)
    m2x = run(*me, "m2-xmodal", path, str(k_file))
    cat(path)
    m2h = run(*me, "m2-h5py", path, str(k_file))
    rnd = run(*me, "random", path, "1000")
    print(f"floor: the file's {low['bytes'] / 1e9:.2f} GB read into fresh memory on all cores "
          f"{low['seconds']:.2f} s; h5py's M2 preload / floor: {m2h['seconds'] / low['seconds']:.1f}x")
    print(f"preload {py['images']} images: xmodal_ctx {py['seconds']:.2f} s, ctx-store (Rust) "
          f"{rust['seconds']:.2f} s: {py['seconds'] / rust['seconds']:.2f}x Rust's")
    print(f"  peak memory over the start / payload: xmodal_ctx "
          f"{py['peak_rss_over_start_bytes'] / py['payload_bytes']:.3f}, Rust "
          f"{rust['peak_rss_over_start_bytes'] / rust['payload_bytes']:.3f}")
    print(f"M2 TxtCtxField(k={k_file}, preload=True): xmodal_ctx.m2 {m2x['seconds']:.2f} s, h5py "
          f"{m2h['seconds']:.2f} s: {m2h['seconds'] / m2x['seconds']:.1f}x faster; peak memory "
          f"over the start / payload {m2x['peak_rss_over_start_bytes'] / m2x['payload_bytes']:.3f}"
          f" (h5py's dict: {m2h['peak_rss_over_start_bytes'] / m2x['payload_bytes']:.3f})")
    print(f"random access, one image at a time: xmodal_ctx {rnd['xmodal_image_s'] * 1e3:.3f} ms, "
          f"h5py {rnd['h5py_image_s'] * 1e3:.3f} ms ({rnd['h5py_image_s'] / rnd['xmodal_image_s']:.1f}x); "
          f"M2 preprocess without preload: {rnd['m2_xmodal_item_s'] * 1e3:.3f} ms against "
          f"{rnd['m2_h5py_item_s'] * 1e3:.3f} ms ({rnd['m2_h5py_item_s'] / rnd['m2_xmodal_item_s']:.1f}x)")


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "all":
        all_(*rest)
    elif cmd == "rust":
        rust(rest[0])
    elif cmd == "xmodal":
        xmodal(rest[0])
    elif cmd == "m2-xmodal":
        m2_xmodal(rest[0], int(rest[1]))
    elif cmd == "m2-h5py":
        m2_h5py(rest[0], int(rest[1]))
    elif cmd == "floor":
        floor(rest[0])
    elif cmd == "random":
        random_access(rest[0], int(rest[1]))
    else:
        raise SystemExit(__doc__)
