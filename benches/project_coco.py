"""Projects the whole context for all of COCO from a benches/gpu_check.sh log.

Reads the one-pass run (`retrieve-captions --vis-out`, section retrieve-captions-vis-out): its
loop rate (the `images_per_s` that `-v` logs at the end of the flow) and its start-up (wall time
minus the loop), and the encode-captions section's wall time scaled to 2 M phrases; prints the
projection for COCO's 123,287 images next to the 90 s goal.

    python benches/project_coco.py LOG
"""

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


if __name__ == "__main__":
    main()
