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
  *)
    echo "usage: $0 wheel|install" >&2
    exit 2
    ;;
esac
