#!/usr/bin/env bash
# Checks that requirements.txt (and the old-h5py check venv's pins) resolve to wheels on every
# supported Python version, without installing anything: pip's --dry-run against PyPI with
# --python-version. Needs only PyPI access (`make check-requirements`; CI runs it).
#   scripts/check_requirements.sh [PYTHON_VERSION...]   (default: 3.10 3.11 3.12 3.13)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/old_h5py.sh
. "$root/scripts/old_h5py.sh"
python=${PYTHON:-python3}
if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; fi
versions=("$@")
if [ ${#versions[@]} -eq 0 ]; then versions=(3.10 3.11 3.12 3.13); fi
# Published as source archives only (pure Python): checked without --only-binary, alone.
sdist_only=(ftfy)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pattern=$(printf '^%s[=<> ]|' "${sdist_only[@]}")
grep -Ev "${pattern%|}" "$root/requirements.txt" >"$tmp/wheels.txt"
pip=("$python" -m pip install --dry-run --quiet --disable-pip-version-check --ignore-installed)
failed=0
for v in "${versions[@]}"; do
  before=$failed
  failed=0
  target=(--python-version "$v" --target "$tmp/target-$v")
  if ! "${pip[@]}" "${target[@]}" --only-binary=:all: -r "$tmp/wheels.txt"; then
    echo "check_requirements: requirements.txt has no wheels for Python $v" >&2
    failed=1
  fi
  for name in "${sdist_only[@]}"; do
    spec=$(grep -E "^$name[=<> ]" "$root/requirements.txt")
    if ! "${pip[@]}" "${target[@]}" --no-deps "$spec"; then
      echo "check_requirements: $spec does not install on Python $v" >&2
      failed=1
    fi
  done
  # shellcheck disable=SC2046 # two requirement words
  if ! pins=$(old_h5py_pins "$v") || ! "${pip[@]}" "${target[@]}" --only-binary=:all: $pins; then
    echo "check_requirements: no old-h5py pins with wheels for Python $v" >&2
    failed=1
  fi
  if [ "$failed" = 0 ]; then echo "check_requirements: Python $v resolves" >&2; fi
  failed=$((failed | before))
done
exit "$failed"
