# The README's two commands: `make demo` and `make test`. Each does its own set-up.
.PHONY: setup test demo lint build bench-io

setup:
	@./scripts/setup.sh

build: setup
	cargo build --release --workspace

lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

test: lint
	cargo test --workspace --all-features
	# Benches are linked in the dev profile, on the artifacts the tests just built: a release
	# build of every dependency would take another 3 GB of disk for a check of the same code.
	cargo bench --workspace --no-run --profile dev

demo: setup
	./scripts/demo.sh

# Side-by-side ctx-store vs h5py benchmark (docs/benchmarks.md); IMAGES=20000 by default.
bench-io: setup
	./benches/ctx_store_vs_h5py.sh
