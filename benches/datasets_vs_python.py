"""datasets::phrase_database against the Python mirror of the original on the same synthetic
full-scale Visual Genome files: wall time and peak memory of each process, and whether the phrase
lists are identical. Usage: datasets_vs_python.py VG_DIR (files from benches/make_vg.py).
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

root = pathlib.Path(__file__).resolve().parent.parent
vg = pathlib.Path(sys.argv[1])
a, r = vg / "attributes.json", vg / "relationships.json"


def measure(name, cmd, out_path):
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(p.pid, 0)
        secs = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{name} failed: {status}")
    peak = usage.ru_maxrss * 1024
    print(json.dumps({"tool": name, "seconds": round(secs, 2), "peak_rss_bytes": peak}))
    return secs, peak


with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    rs, rm = measure("datasets (Rust)", [str(root / "target/release/vg-bench"), str(a), str(r)], tmp / "rust.json")
    ps, pm = measure("python mirror", [sys.executable, str(root / "crates/datasets/tests/mirror.py"), "vg", str(a), str(r)],
                     tmp / "py.json")
    same = json.load(open(tmp / "rust.json", encoding="utf-8")) == json.load(open(tmp / "py.json", encoding="utf-8"))
    n = len(json.load(open(tmp / "rust.json", encoding="utf-8")))
print(f"phrases: {n}, identical: {same}")
print(f"speed-up {ps / rs:.2f}x, peak memory {rm / 2**20:.0f} MiB vs {pm / 2**20:.0f} MiB ({rm / pm:.3f} of the mirror's)")
sys.exit(0 if same else 1)
