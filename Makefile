# The README's two commands: `make demo` and `make test`. Each does its own set-up.
.PHONY: setup setup-test test demo lint doc build bench-io check-requirements wheel wheel-check gpu-dry-run

setup:
	@./scripts/setup.sh

# `make test`'s set-up adds the old-h5py venv its compatibility tests read files with.
setup-test:
	@./scripts/setup.sh --with-old-h5py

build: setup
	cargo build --release --workspace

lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

# The API docs, with broken intra-doc links as errors.
doc: setup
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

test: lint doc setup-test
	cargo test --workspace --all-features
	# Benches are linked in the dev profile, on the artifacts the tests just built: a release
	# build of every dependency would take another 3 GB of disk for a check of the same code.
	cargo bench --workspace --no-run --profile dev
	# The Python package (installed by setup) against h5py, on files our writers and h5py write.
	cargo build -q -p xmodal-py --bin xmodal-py-fixtures --bin xmodal-py-compact-fixtures
	.venv/bin/python -m pytest python/tests -q
	# The GPU machine's script at toy sizes on the CPU (about 1.5 min on 2 cores).
	$(MAKE) --no-print-directory gpu-dry-run

# The xmodal_ctx wheel (abi3: CPython 3.10+) in dist/, for users' own environments.
wheel: setup
	./scripts/python_package.sh wheel

# The wheel `setup` built, installed from PyPI's numpy into a fresh venv outside the repository
# per CPython 3.10+ on PATH, imported and read there (needs PyPI; CI runs it after `make test`).
wheel-check: setup
	./scripts/python_package.sh check

demo: setup
	./scripts/demo.sh

# Side-by-side ctx-store vs h5py benchmark (docs/benchmarks.md); IMAGES=20000 by default.
bench-io: setup
	./benches/ctx_store_vs_h5py.sh

# requirements.txt (and the old-h5py pins) resolve to wheels on Python 3.10 to 3.13: pip's
# dry run against PyPI, nothing installed (about 2 minutes; CI runs it).
check-requirements:
	./scripts/check_requirements.sh

# benches/gpu_check.sh at toy sizes on the CPU with the debug binaries (checks the script that a
# lent GPU machine runs; part of `make test`).
gpu-dry-run: setup
	cargo build -q -p xctx-bins --bins
	DEVICE=cpu SMALL=1 XCTX_PYTHON=$(CURDIR)/.venv/bin/python WORK=$(CURDIR)/target/gpu-dry-run \
		bash benches/gpu_check.sh target/gpu-dry-run/out

