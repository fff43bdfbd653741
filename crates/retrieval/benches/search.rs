//! Criterion: exact top-16 of 256 queries among 20,000 and 100,000 random unit keys of 512, in
//! both precisions, on the CPU and, when libtorch sees one, on CUDA (skipped otherwise; the
//! clock stops after a synchronisation). `Precision::Fast` screens in the type the device
//! chooses (on the CPU: bf16 with AVX512-BF16/AMX-BF16, f32 otherwise; `XCTX_SCREENING` forces
//! one); the bench's name says which. The side-by-side comparison with faiss is
//! `benches/retrieval_vs_faiss.sh`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use retrieval::{Index, IndexOptions, Precision};
use tch::{Device, Kind, Tensor};

const DIM: i64 = 512;
const QUERIES: i64 = 256;
const K: usize = 16;

/// `n` random unit rows of [`DIM`] on `device`.
fn unit_rows(n: i64, seed: i64, device: Device) -> Tensor {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, DIM], (Kind::Float, device));
    let norm = x.norm_scalaropt_dim(2, [1], true);
    x / norm
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn bench_device(c: &mut Criterion, device: Device, name: &str) {
    let queries = unit_rows(QUERIES, 2, device);
    let mut g = c.benchmark_group(format!("{name}_exact_top{K}"));
    g.throughput(Throughput::Elements(QUERIES as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for n in [20_000i64, 100_000] {
        let keys = unit_rows(n, 1, device);
        for precision in [Precision::F32, Precision::Fast] {
            let opts = IndexOptions { device, precision, ..IndexOptions::default() };
            let index = Index::from_tensor(keys.shallow_clone(), &opts).expect("index");
            let label = match index.screening() {
                None => "f32".to_string(),
                Some(s) => format!("fast_{s:?}_screening").to_lowercase(),
            };
            let _ = index.search_on_device(&queries, K).expect("warm-up");
            g.bench_with_input(BenchmarkId::new(label, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    sync(device);
                    let t = Instant::now();
                    for _ in 0..iters {
                        let _ = std::hint::black_box(
                            index.search_on_device(&queries, K).expect("search"),
                        );
                    }
                    sync(device);
                    t.elapsed()
                })
            });
        }
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let _g = tch::no_grad_guard();
    bench_device(c, Device::Cpu, "cpu");
    if tch::Cuda::is_available() {
        bench_device(c, Device::Cuda(0), "cuda");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
