//! A fuzz target for the native parser, driven by `arbitrary` on stable Rust (no libFuzzer): for
//! a fixed time, inputs drawn from seeded random bytes are turned into files (bytes of their own
//! behind a superblock, or seed files written by our writer and by h5py with structured
//! mutations: flips, zeroed and copied ranges, swaps, truncations, fields of the structures
//! the parser reads set to edge values), and every native read runs on each: [`validate`]'s
//! checks, [`parse::read`] and the native `txt_ctx` reader over every image. Each must end in
//! `Ok` or an error; a panic fails the test, an input still running after [`HANG`] aborts it,
//! and an allocation beyond what the file's length justifies is reported with its input.
//!
//! `XCTX_FUZZ_SECS` sets the time (default 30 s), `XCTX_FUZZ_SEED` the seed; a failing input is
//! written to `target/fuzz-native/` and named in the failure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use test_support::Rng;

use super::parse::{self, Reader};
use super::read::{NativeIndex, NativeTxtFile};
use super::txt::NativeTxt;
use super::validate::{self, Collection, Later};
use crate::entry::{TxtEntry, ViewEntry};
use crate::schema::View;

/// One input: a file to read.
#[derive(Arbitrary, Debug)]
enum Input {
    /// A superblock whose root object header lies at `root` within `bytes`, which follow it.
    Raw { root: u16, bytes: Vec<u8> },
    /// Seed file `seed` (modulo their number), mutated.
    Mutated { seed: u8, mutations: Vec<Mutation> },
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    Flip {
        at: u32,
        mask: u8,
    },
    Zero {
        at: u32,
        len: u16,
    },
    Copy {
        from: u32,
        to: u32,
        len: u16,
    },
    Swap {
        a: u32,
        b: u32,
        len: u16,
    },
    Truncate {
        keep: u32,
    },
    /// A field `offset` bytes into the `structure`-th structure of the file (a signature's
    /// place, or the root object header) set to `value`.
    Field {
        structure: u16,
        offset: u8,
        width: Width,
        value: Value,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Width {
    One,
    Two,
    Four,
    Eight,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Value {
    Zero,
    Max,
    FileLen,
    /// The structure's own address: a cycle.
    Itself,
    Small(u8),
    Other(u64),
}

/// Where the structures the parser reads lie: their signatures, and the root's header.
fn structures(bytes: &[u8]) -> Vec<usize> {
    const SIGNATURES: [&[u8; 4]; 6] = [b"TREE", b"SNOD", b"HEAP", b"GCOL", b"OHDR", b"OCHK"];
    let mut at: Vec<usize> = (0..bytes.len().saturating_sub(4))
        .filter(|&i| SIGNATURES.iter().any(|s| bytes[i..i + 4] == s[..]))
        .collect();
    if bytes.len() >= 72 {
        at.push(parse::u64_at(bytes, 64) as usize);
    }
    at
}

fn apply(b: &mut Vec<u8>, m: &Mutation, places: &[usize]) {
    let len = b.len();
    if len == 0 {
        return;
    }
    let pos = |x: u32| x as usize % len;
    match *m {
        Mutation::Flip { at, mask } => b[pos(at)] ^= mask.max(1),
        Mutation::Zero { at, len: n } => {
            let at = pos(at);
            let end = (at + usize::from(n)).min(len);
            b[at..end].fill(0);
        }
        Mutation::Copy { from, to, len: n } => {
            let (from, to) = (pos(from), pos(to));
            let n = usize::from(n).min(len - from).min(len - to);
            b.copy_within(from..from + n, to);
        }
        Mutation::Swap { a, b: c, len: n } => {
            let (x, y) = (pos(a).min(pos(c)), pos(a).max(pos(c)));
            let n = usize::from(n).min(y - x).min(len - y);
            let (lo, hi) = b.split_at_mut(y);
            lo[x..x + n].swap_with_slice(&mut hi[..n]);
        }
        Mutation::Truncate { keep } => b.truncate(pos(keep)),
        Mutation::Field { structure, offset, width, value } => {
            let Some(&base) = places.get(usize::from(structure) % places.len().max(1)) else {
                return;
            };
            let at = base.saturating_add(usize::from(offset));
            let v = match value {
                Value::Zero => 0,
                Value::Max => u64::MAX,
                Value::FileLen => len as u64,
                Value::Itself => base as u64,
                Value::Small(s) => u64::from(s),
                Value::Other(o) => o,
            };
            let w = match width {
                Width::One => 1,
                Width::Two => 2,
                Width::Four => 4,
                Width::Eight => 8,
            };
            if let Some(field) = b.get_mut(at..at + w) {
                field.copy_from_slice(&v.to_le_bytes()[..w]);
            }
        }
    }
}

/// The file an input makes.
fn file_of(input: &Input, seeds: &[Vec<u8>]) -> Vec<u8> {
    match input {
        Input::Raw { root, bytes } => {
            let mut b = seeds[0][..96].to_vec();
            b.extend_from_slice(bytes);
            let len = b.len() as u64;
            b[40..48].copy_from_slice(&len.to_le_bytes());
            let root = 96 + u64::from(*root) % (bytes.len().max(1) as u64);
            b[64..72].copy_from_slice(&root.to_le_bytes());
            b
        }
        Input::Mutated { seed, mutations } => {
            let mut b = seeds[usize::from(*seed) % seeds.len()].clone();
            let places = structures(&b);
            for m in mutations {
                apply(&mut b, m, &places);
            }
            b
        }
    }
}

/// Every native read of the file at `path`; errors are what damaged files should give. Returns
/// the views read whole.
fn read_natively(path: &Path, bytes: &[u8]) -> usize {
    let raw = std::fs::File::open(path).unwrap();
    let len = raw.metadata().unwrap().len();
    if let Ok(Later::Members(members)) = validate::check(path, &raw, len) {
        let mut r = Reader::new(path, &raw, len);
        for (name, e) in members.iter().take(16) {
            if let super::encode::Addr::Abs(at) = e.header {
                let _ = validate::member(&mut r, at, name);
            }
        }
    }
    let _ = parse::read(path, &raw);
    let mut r = Reader::new(path, &raw, len);
    for at in structures(bytes).into_iter().take(64) {
        let _ = validate::dataset_chunk_index(&mut r, at as u64, "fuzz");
        let _ = Collection::read(&raw, at as u64, len);
    }
    let Ok(Some(index)) = NativeIndex::read(path, &raw) else { return 0 };
    let Ok(file) = NativeTxtFile::new(path, &raw, &index) else { return 0 };
    let mut reader = file.reader();
    let mut whole = 0;
    for id in index.ids().iter().take(64) {
        let _ = reader.member_names(id.as_str());
        for view in View::ALL {
            whole += usize::from(matches!(reader.load_view(id.as_str(), view), Ok(Some(_))));
        }
    }
    whole
}

thread_local! {
    /// Bytes one allocation of the thread reading may take (unlimited elsewhere).
    static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The largest allocation over the limit seen, 0 if none.
static OVER: AtomicU64 = AtomicU64::new(0);

/// The system allocator, noting allocations over the reading thread's [`LIMIT`] (and refusing
/// those over 1 GiB, which abort the test).
struct Limited;

// SAFETY: forwards to `System`, only refusing some requests (a null return, which callers
// handle as an allocation failure).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT.with(Cell::get) {
            OVER.fetch_max(layout.size() as u64, Ordering::Relaxed);
            if layout.size() > 1 << 30 {
                return std::ptr::null_mut();
            }
        }
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Limited = Limited;

/// An input still reading after this long is a hang.
const HANG: Duration = Duration::from_secs(10);

fn view(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    ViewEntry {
        crops,
        k,
        d,
        features: rng.vec_f32(crops * k * d),
        scores: rng.vec_f32(crops * k),
        texts: (0..crops * k).map(|i| format!("phrase {i} {}", rng.below(1000))).collect(),
    }
}

/// Seed files: a `txt_ctx` of our native writer (two batches), and h5py's `txt_ctx`, `vis_ctx`
/// and HAAV's gzip-chunked `txt_ctx`.
fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    ours(dir);
    test_support::run_python_code(H5PY_SEEDS, &[&dir]);
    ["ours", "txt", "vis", "haav_txt"]
        .iter()
        .map(|n| std::fs::read(dir.join(format!("{n}.h5"))).unwrap())
        .collect()
}

/// The first seed, `ours.h5` in `dir`: a `txt_ctx` of our native writer (two batches).
fn ours(dir: &Path) -> Vec<u8> {
    let mut rng = Rng::new(5);
    let ours = dir.join("ours.h5");
    let mut w = NativeTxt::create(&ours, &[("xctx_kind", "txt_ctx")], true).unwrap();
    for ids in [[17u64, 3], [42, 9]] {
        let entries: Vec<TxtEntry> = ids
            .iter()
            .map(|&id| TxtEntry {
                id: id.into(),
                whole: view(&mut rng, 1, 3, 4),
                five: view(&mut rng, 5, 2, 4),
                nine: view(&mut rng, 9, 1, 4),
            })
            .collect();
        w.write_batch(&entries).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(ours).unwrap()
}

const H5PY_SEEDS: &str = r#"
import sys, h5py, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(4)
f32 = lambda *s: rng.standard_normal(s).astype('f4')
texts = lambda n: ['phrase %d %d' % (i, rng.integers(1000)) for i in range(n)]
for name, gz in (('txt', None), ('haav_txt', 'gzip')):
    with h5py.File(out + '/' + name + '.h5', 'w') as f:
        for i in (7, 31):
            for view, crops in (('whole', 1), ('five', 5), ('nine', 9)):
                shape = (2,) if crops == 1 else (crops, 2)
                g = f.create_group('%d/%s' % (i, view))
                g.create_dataset('features', data=f32(*shape, 4), compression=gz)
                g.create_dataset('scores', data=f32(*shape), compression=gz)
                t = texts(crops * 2)
                t = t if crops == 1 else [t[c * 2:(c + 1) * 2] for c in range(crops)]
                g.create_dataset('texts', data=t, compression=gz)
with h5py.File(out + '/vis.h5', 'w') as f:
    f.attrs['fdim'] = 4
    for i in range(20):
        f.create_dataset(str(i), data=f32(4))
"#;

/// [`read_natively`] of the file at `path` (holding `bytes`), caught if it panics, with the
/// largest allocation beyond what the file's length justifies (0 if none): a copy of the file a
/// few times over, and 1 MiB.
fn read_limited(path: &Path, bytes: &[u8]) -> (std::thread::Result<usize>, u64) {
    let limit = 4 * bytes.len() + (1 << 20);
    OVER.store(0, Ordering::Relaxed);
    LIMIT.with(|l| l.set(limit));
    let outcome = std::panic::catch_unwind(|| read_natively(path, bytes));
    LIMIT.with(|l| l.set(usize::MAX));
    (outcome, OVER.swap(0, Ordering::Relaxed))
}

fn budget() -> Duration {
    let secs = std::env::var("XCTX_FUZZ_SECS").ok().and_then(|s| s.parse().ok());
    Duration::from_secs_f64(secs.unwrap_or(30.0))
}

#[test]
fn native_parser_ends_every_input_in_ok_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds(dir.path());
    let seed = std::env::var("XCTX_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(31);
    let mut rng = Rng::new(seed);
    let keep = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-native");
    let path = dir.path().join("input.h5");
    let started = Instant::now();
    let (mut inputs, mut views, mut failures) = (0usize, 0usize, Vec::new());
    // The reading thread reports each input's start; a watchdog aborts on a hang.
    let current = std::sync::Arc::new(std::sync::Mutex::new((0usize, Instant::now())));
    let watched = current.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = done.clone();
    let keep_for_watchdog = keep.clone();
    let watchdog = std::thread::spawn(move || {
        while !finished.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let (n, since) = *watched.lock().unwrap();
            if since.elapsed() > HANG {
                eprintln!("input {n} hangs: see {}", keep_for_watchdog.display());
                std::process::abort();
            }
        }
    });
    while started.elapsed() < budget() {
        let raw: Vec<u8> = (0..rng.below(4096) + 1).map(|_| rng.below(256) as u8).collect();
        let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(&raw)) else { continue };
        let bytes = file_of(&input, &seeds);
        std::fs::write(&path, &bytes).unwrap();
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::write(keep.join("current.h5"), &bytes).unwrap();
        *current.lock().unwrap() = (inputs, Instant::now());
        let (outcome, over) = read_limited(&path, &bytes);
        views += outcome.as_ref().map_or(0, |n| *n);
        if outcome.is_err() || over > 0 {
            let kept = keep.join(format!("failure-{}.h5", failures.len()));
            std::fs::write(&kept, &bytes).unwrap();
            let what = if over > 0 { format!("allocated {over} bytes") } else { "panic".into() };
            failures.push(format!("{}: {what} ({input:?})", kept.display()));
        }
        inputs += 1;
    }
    done.store(true, Ordering::Relaxed);
    watchdog.join().unwrap();
    let _ = std::fs::remove_file(keep.join("current.h5"));
    #[allow(clippy::print_stderr)] // how far the inputs went
    {
        eprintln!("{inputs} inputs in {:?}, {views} views read whole", started.elapsed());
    }
    assert!(inputs > 100, "only {inputs} inputs in {:?}", budget());
    assert!(
        failures.is_empty(),
        "{} of {inputs} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// An input the fuzzer found: a swap puts a root object header claiming 65535 messages into a
/// 52 KB file, whose reading must allocate for the messages the file can hold, not the count.
#[test]
fn a_header_claiming_more_messages_than_the_file_holds_allocates_for_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = Input::Mutated {
        seed: 0,
        mutations: vec![Mutation::Swap { a: 636_916_702, b: 1_620_378_176, len: 37_813 }],
    };
    let bytes = file_of(&input, &[ours(dir.path())]);
    let path = dir.path().join("input.h5");
    std::fs::write(&path, &bytes).unwrap();
    let root = parse::u64_at(&bytes, 64);
    let claimed = parse::u16_at(&bytes[root as usize..], 2);
    assert_eq!(claimed, u16::MAX, "the root object header's message count, as the fuzzer left it");
    let (outcome, over) = read_limited(&path, &bytes);
    assert!(outcome.is_ok(), "a panic");
    assert_eq!(over, 0, "allocated {over} bytes for a file of {}", bytes.len());
}
