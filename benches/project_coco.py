"""Projects the whole context for all of COCO from a benches/gpu_check.sh log, and lists the
issues' targets against what the log measured.

Reads the one-pass run (`retrieve-captions --vis-out`, section retrieve-captions-vis-out): its
loop rate (the `images_per_s` that `-v` logs at the end of the flow) and its start-up (wall time
minus the loop), and the encode-captions section's wall time scaled to 2 M phrases; prints the
projection for COCO's 123,287 images next to the 90 s goal. Then one line per target: the loop
rate, GPU busy, each stage's capacity (images per second of busy time), the same run normalised
on the host, the stand-in pipeline against its crops loop, crops per core and across the cores.

    python benches/project_coco.py LOG
"""

import json
import re
import sys

COCO_IMAGES = 123_287
PHRASES = 2_000_000


def section(log: str, name: str) -> str:
    m = re.search(rf"^=== {re.escape(name)}\n(.*?)^=== {re.escape(name)}: rc=(\d+) wall_s=(\d+)e-3",
                  log, re.S | re.M)
    if not m:
        raise SystemExit(f"project_coco: no section {name!r} in the log")
    return m.group(1), int(m.group(2)), int(m.group(3)) / 1000.0


def field(text: str, key: str) -> float:
    m = re.findall(rf"\b{key}=([0-9.eE+-]+)", text)
    if not m:
        raise SystemExit(f"project_coco: no {key}= in the log section")
    return float(m[-1])


def main() -> None:
    log = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    text, rc, wall = section(log, "retrieve-captions-vis-out")
    if rc != 0:
        raise SystemExit(f"project_coco: the one-pass run failed (rc={rc})")
    rate, loop_s = field(text, "images_per_s"), field(text, "loop_s")
    start_s = max(wall - loop_s, 0.0)
    ctext, crc, cwall = section(log, "encode-captions")
    phrases = field(ctext, "phrases")
    captions_s = cwall * PHRASES / max(phrases, 1.0)
    images_s = COCO_IMAGES / rate
    total = captions_s + start_s + images_s
    print(f"projection for COCO: encode-captions {captions_s:.1f} s (from {phrases:.0f} phrases), "
          f"retrieve-captions --vis-out start-up {start_s:.1f} s + {COCO_IMAGES} images at "
          f"{rate:.0f}/s = {images_s:.1f} s; total {total:.1f} s (goal 90 s)")
    targets(log, text, rate, total)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def json_line(log: str, name: str):
    """The last JSON line of section `name`, or None when the section is missing or failed."""
    try:
        text, rc, _ = section(log, name)
    except SystemExit:
        return None
    lines = [l for l in text.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if rc == 0 and lines else None


def targets(log: str, one_pass: str, rate: float, total: float) -> None:
    print("targets (issue 16: streaming pipeline; issue 17: crops):")
    print(f"  retrieve-captions --vis-out loop: {rate:.0f} images/s (>= 2,000: {verdict(rate >= 2000)})")
    m = re.search(r"GPU SM busy % \(mean over samples > 0\): ([0-9.]+)", log)
    if m:
        busy = float(m.group(1))
        print(f"  GPU SM busy during the one pass: {busy:.1f}% (>= 85%: {verdict(busy >= 85)})")
    else:
        print("  GPU SM busy: not sampled (no nvidia-smi)")
    print(f"  all of COCO: {total:.1f} s projected (<= 90 s: {verdict(total <= 90)})")
    written = field(one_pass, "written")
    stages = re.findall(r': stage stage="([^"]+)" busy_s=([0-9.eE+-]+)', one_pass)
    for name, busy in stages:
        cap = written / max(float(busy), 1e-9)
        print(f"  stage {name}: busy {float(busy):.2f} s, {cap:.0f} images/s of busy time "
              f"(keeps up with 2,000/s: {'yes' if cap >= 2000 else 'no'})")
    m = re.search(r"model stage.*", one_pass)
    if m:
        # The model thread per batch: queuing its work, waiting for its own marker, for input,
        # handing on, the rest; the device idles only where the last three exceed its time
        # per batch.
        print("  model stage per batch (ms): " + " ".join(
            f"{k.replace('_ms_per_batch', '')}={field(m.group(0), k):.2f}" for k in
            ("queue_ms_per_batch", "wait_ms_per_batch", "input_ms_per_batch",
             "hand_on_ms_per_batch", "rest_ms_per_batch")))
    m = re.search(r"searches and their second passes.*", one_pass)
    if m:
        line = m.group(0)
        print(f"  searches: {field(line, 'searches'):.0f} of {field(line, 'queries'):.0f} queries "
              f"(largest {field(line, 'largest'):.0f}); screened again "
              f"{field(line, 'screened_again'):.0f}, searched in f32 {field(line, 'searched_in_f32'):.0f}")
    c = json_line(log, "compare-cuda-cpu")
    if c:
        print(f"  encode-images CUDA (batch 1) / CPU: {c['images']} images, lowest cosine "
              f"{c['lowest_cosine']:.7f} (>= {c['min']}: {verdict(c['ok'])})")
    try:
        host, hrc, _ = section(log, "retrieve-captions-vis-out-host-normalise")
        if hrc == 0:
            hrate = field(host, "images_per_s")
            print(f"  normalised on the device / on the host: {rate:.0f} / {hrate:.0f} images/s "
                  f"= {rate / hrate:.2f}x")
    except SystemExit:
        pass
    try:
        m, mrc, _ = section(log, "retrieve-captions-measure-search")
        if mrc == 0:
            over = field(m, "over_bare")
            print(f"  searches over the bare products of the same searches: {over:.2f}x "
                  f"({field(m, 'calls'):.0f} calls, {field(m, 'queries'):.0f} queries; "
                  f"<= 1.3x: {verdict(over <= 1.3)})")
    except SystemExit:
        pass
    p = json_line(log, "pipeline-bench")
    if p:
        r = p["median_ratio"]
        print(f"  stand-in pipeline / crops loop at {p['threads']} threads ({p.get('element', 'f32')}): "
              f"median {r:.3f} (>= 0.9: {verdict(r >= 0.9)})")
    runs = {}
    for name in re.findall(r"^=== (crops-bench-\d+-\w+): rc=0", log, re.M):
        j = json_line(log, name)
        if j:
            runs[(j["threads"], name.rsplit("-", 1)[1])] = j["images_per_s"]
    for elem in ("f16", "u8"):
        one = runs.get((1, elem))
        many = [(t, v) for (t, e), v in runs.items() if e == elem and t > 1]
        if one:
            print(f"  crops {elem}: {one:.1f} images/s on one thread")
        for t, v in many:
            if one:
                print(f"  crops {elem} on {t} threads: {v:.1f} images/s = {v / one:.2f}x one thread "
                      f"(>= {0.8 * t:.1f}x: {verdict(v / one >= 0.8 * t)})")


if __name__ == "__main__":
    main()
