#!/usr/bin/env bash
# Packs what benches/gpu_check.sh needs on a GPU machine into .gpu/ (git-ignored): the release
# binaries and the CUDA test binaries (stripped, xz), CLIP's BPE vocabulary file. The tiny test
# checkpoints travel as target/xctx-fixtures (made by `make test`). See docs/benchmarks.md, "GPU".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
rm -rf .gpu && mkdir -p .gpu/bin
cargo build --release -q -p xctx-bins -p xctx-benches --bins
for b in encode-images encode-captions retrieve-captions ctx-inspect xctx-doctor clip-bench retrieval-bench pipeline-bench crops-bench; do
  cp "target/release/$b" .gpu/bin/
done
# The CUDA tests (ignored without a GPU), as cargo builds them for `make test`.
tests() { # package test-target -> path of the test executable
  cargo test -q -p "$1" --test "$2" --no-run --message-format=json 2>/dev/null |
    .venv/bin/python -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])'
}
cp "$(tests clip-encoder cuda)" .gpu/bin/test-clip-cuda
cp "$(tests retrieval search)" .gpu/bin/test-retrieval-search
cp "$(tests xctx-bins pipeline_e2e)" .gpu/bin/test-pipeline-e2e
strip .gpu/bin/*
xz -T2 -6 .gpu/bin/*
cp "$(echo .venv/lib/python3*/site-packages/open_clip/bpe_simple_vocab_16e6.txt.gz)" .gpu/
for p in a b; do [ -f "target/xctx-fixtures/tiny-clip-$p/model.safetensors" ] || { echo "target/xctx-fixtures/tiny-clip-$p missing: run make test first" >&2; exit 1; }; done
du -sh .gpu target/xctx-fixtures
