#!/usr/bin/env bash
# Run by scripts/setup.sh: makes sure `nasm` is on PATH on x86 machines, so that cargo builds
# libjpeg-turbo's SIMD code (IDCT, chroma upsampling, colour conversion) into the `crops` JPEG
# decoder. The pixels are the same without it (libjpeg-turbo's C code paths); only the speed
# differs (docs/benchmarks.md). As root with apt-get, installs Debian's package; otherwise says
# how, and the build goes on without SIMD.
#   scripts/nasm.sh
set -euo pipefail
case "$(uname -m)" in
  x86_64 | i?86) ;;
  *) exit 0 ;; # ARM's SIMD is built from C and GNU assembler sources: no nasm needed
esac
if command -v nasm >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing nasm (libjpeg-turbo's SIMD for the JPEG decoder)" >&2
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nasm >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nasm >/dev/null 2>&1; }; then
    exit 0
  fi
  echo "setup: warning: apt-get could not install nasm" >&2
fi
echo "setup: warning: no nasm on PATH: JPEGs decode with libjpeg-turbo's C code, the same pixels" \
  "about 1.5-2x slower; install nasm (e.g. apt-get install nasm) and rebuild crops's mozjpeg-sys" \
  "(cargo clean -p mozjpeg-sys) for its SIMD" >&2
