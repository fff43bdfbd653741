#!/usr/bin/env bash
# The xmodal_ctx Python package (crates/xmodal-py: PyO3, one abi3 wheel for CPython 3.10+),
# built by maturin from the project's venv.
#
#   scripts/python_package.sh wheel     build the release wheel into dist/ (`make wheel`)
#   scripts/python_package.sh install   build it in cargo's dev profile (on the dependencies the
#                                       tests build anyway) and install it into .venv (`make
#                                       setup`); does nothing when the sources are those of the
#                                       last install. XMODAL_PROFILE=release installs the release
#                                       build (the benchmarks do).
#   scripts/python_package.sh check [WHEEL]
#                                       the wheel (default: the one `install` built) installs
#                                       with its dependencies from PyPI into a fresh venv in a
#                                       temporary folder outside the repository, imports there
#                                       and reads a txt_ctx; pip also resolves it for CPython
#                                       3.10 to 3.13 (its abi3 tag). Needs PyPI (CI runs it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${XMODAL_VENV:-$root/.venv}" # the project's venv (XMODAL_VENV: another, with maturin)
crate="$root/crates/xmodal-py"
dist="$root/dist"
stamp="$venv/.xmodal_ctx.sha256"

build_wheel() { # PROFILE OUT_DIR
  rm -f "$2"/xmodal_ctx-*.whl
  "$venv/bin/maturin" build --profile "$1" --quiet -m "$crate/Cargo.toml" \
    -i "$venv/bin/python" --out "$2" >&2
}

# Everything the package is built from: its crate, ctx-store, the workspace manifest and lock.
sources_hash() {
  (cd "$root" && find crates/xmodal-py crates/ctx-store/src crates/ctx-store/Cargo.toml \
    crates/ctx-store/build.rs Cargo.toml Cargo.lock -type f -not -name '*.pyc' -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

case "${1:-}" in
  wheel)
    build_wheel release "$dist"
    ls "$dist"/xmodal_ctx-*.whl
    ;;
  install)
    profile=${XMODAL_PROFILE:-dev}
    want="$profile $(sources_hash)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] ||
      ! "$venv/bin/python" -c 'import xmodal_ctx' 2>/dev/null; then
      echo "setup: building the xmodal_ctx wheel and installing it into $venv" >&2
      out="$root/target/wheels/$profile"
      build_wheel "$profile" "$out"
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
        --no-deps --force-reinstall "$out"/xmodal_ctx-*.whl
      echo "$want" >"$stamp"
    fi
    ;;
  check)
    wheel=${2:-$(ls "$root"/target/wheels/"${XMODAL_PROFILE:-dev}"/xmodal_ctx-*.whl)}
    wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
    case "$(basename "$wheel")" in
      *-cp310-abi3-*.whl) ;;
      *) echo "check: $wheel is not an abi3 wheel for CPython 3.10+" >&2 && exit 1 ;;
    esac
    fixtures="$root/target/debug/xmodal-py-fixtures"
    [ -x "$fixtures" ] || cargo build -q -p xmodal-py --bin xmodal-py-fixtures
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for v in 3.10 3.12 3.13; do
      "$venv/bin/python" -m pip install --dry-run --quiet --disable-pip-version-check \
        --ignore-installed --only-binary=:all: --python-version "$v" --target "$tmp/t-$v" "$wheel"
    done
    "$fixtures" txt "$tmp/txt_ctx.hdf5" 3 4 8
    # Every CPython 3.10+ on PATH (CI has 3.10 to 3.13), each in a venv of its own.
    ran=0
    for py in python3.10 python3.11 python3.12 python3.13 python3.14; do
      "$py" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null || continue
      "$py" -m venv "$tmp/venv-$py"
      "$tmp/venv-$py/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-cache-dir "$wheel"
      (cd "$tmp" && "$tmp/venv-$py/bin/python" - "$tmp" <<'PY'
import sys
import xmodal_ctx
assert xmodal_ctx.__file__.startswith(sys.argv[1]), xmodal_ctx.__file__
f = xmodal_ctx.open("txt_ctx.hdf5")
e = f[int(f.ids()[0])]
assert len(f) == 3 and e["five"]["features"].shape == (5, 4, 8), e["five"]["features"].shape
assert f.preload().arrays["nine/features"].shape == (3, 9, 4, 8)
print(f"check: {xmodal_ctx.__file__} on Python {sys.version.split()[0]}: reads {f.path}")
PY
      )
      ran=$((ran + 1))
    done
    [ "$ran" -gt 0 ] || { echo "check: no python3.10 or later on PATH" >&2 && exit 1; }
    ;;
  *)
    echo "usage: $0 wheel|install|check [WHEEL]" >&2
    exit 2
    ;;
esac
