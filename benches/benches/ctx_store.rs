//! Criterion: ctx-store writing and preloading a small txt_ctx (200 images, k = 16, d = 512).
//! The side-by-side comparison with h5py at 20,000 images is `benches/ctx_store_vs_h5py.sh`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ctx_store::{Provenance, TxtCtxReader, TxtCtxWriter};

const N: usize = 200;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let pool = xctx_benches::txt_pool(N, 16, 512);
    let path = dir.path().join("txt.h5");
    let mut g = c.benchmark_group("txt_ctx");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("write_200", |b| {
        b.iter(|| {
            let mut w = TxtCtxWriter::create(&path, &Provenance::default(), true).unwrap();
            for batch in pool.chunks(64) {
                w.write_batch(batch).unwrap();
            }
            w.finish().unwrap();
        })
    });
    g.bench_function("preload_200", |b| {
        let r = TxtCtxReader::open(&path).unwrap();
        b.iter(|| r.preload().unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
