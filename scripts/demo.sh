#!/usr/bin/env bash
# `make demo`: what runs today on the bundled sample. The three pipeline steps (encode-images,
# encode-captions, retrieve-captions) are issue 7 and not built yet; until then the demo writes a
# sample of the three context files exactly as the Python original does (h5py, random features)
# and shows what ctx-store reads from them through ctx-inspect: summaries, the README's snippet
# `f["531912/five/..."][2, :4]` as a command, and a full schema check.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${OUT:-outputs/sample}
cargo build --release -q -p xctx-bins
.venv/bin/python scripts/make_sample_ctx.py "$out"
inspect=target/release/ctx-inspect
for f in vis_ctx txt_ctx caption_db; do
  echo; echo "== ctx-inspect $out/$f.hdf5"
  "$inspect" "$out/$f.hdf5"
done
echo; echo "== ctx-inspect $out/txt_ctx.hdf5 --id 531912 --view five --crop 2 --top-k 4"
"$inspect" "$out/txt_ctx.hdf5" --id 531912 --view five --crop 2 --top-k 4
echo; echo "== ctx-inspect $out/vis_ctx.hdf5 --id 531912"
"$inspect" "$out/vis_ctx.hdf5" --id 531912
echo; echo "== ctx-inspect --check"
for f in vis_ctx txt_ctx caption_db; do "$inspect" "$out/$f.hdf5" --check; done
echo; echo "(random features: the phrases mean nothing; see README.md for the real pipeline's status)"
