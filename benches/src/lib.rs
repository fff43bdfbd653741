//! Synthetic context data shared by the benches: the same pool of images for every run, so that
//! the side-by-side scripts compare like with like; and crops-bench's loop ([`crops_loop`]).

use ctx_store::{TxtEntry, ViewEntry};
use test_support::Rng;

mod cpu_time;
mod crops_loop;

pub use cpu_time::cpu_seconds;
pub use crops_loop::{crops_loop, jpegs};

const WORDS: &[&str] = &[
    "white", "dog", "man", "riding", "horse", "red", "car", "parked", "street", "tree", "green",
    "grass", "woman", "holding", "umbrella", "black", "cat", "sitting", "table", "plate",
];

fn phrase(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect::<Vec<_>>().join(" ")
}

fn view(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    ctx_store::testing::random_view(rng, crops, k, d, Rng::f32, |rng, _| phrase(rng))
}

/// `pool` random images of `k` texts and `d`-sized features; image `i` of a run is
/// `pool[i % pool.len()]` with id `i`.
pub fn txt_pool(pool: usize, k: usize, d: usize) -> Vec<TxtEntry> {
    let mut rng = Rng::new(7);
    (0..pool as u64)
        .map(|id| TxtEntry {
            id: id.into(),
            whole: view(&mut rng, 1, k, d),
            five: view(&mut rng, 5, k, d),
            nine: view(&mut rng, 9, k, d),
        })
        .collect()
}

/// [`txt_pool`] in HAAV's layout: 8k, 2k and k texts per crop of whole, five and nine.
pub fn haav_txt_pool(pool: usize, k: usize, d: usize) -> Vec<TxtEntry> {
    let mut rng = Rng::new(8);
    (0..pool as u64)
        .map(|id| TxtEntry {
            id: id.into(),
            whole: view(&mut rng, 1, 8 * k, d),
            five: view(&mut rng, 5, 2 * k, d),
            nine: view(&mut rng, 9, k, d),
        })
        .collect()
}

/// Bytes of payload an entry holds in memory (features, scores, text bytes).
pub fn payload_bytes(e: &TxtEntry) -> usize {
    [&e.whole, &e.five, &e.nine]
        .iter()
        .map(|v| {
            v.features.len() * 4
                + v.scores.len() * 4
                + v.texts.iter().map(String::len).sum::<usize>()
        })
        .sum()
}

const ADJ: [&str; 8] = ["white", "red", "wooden", "tall", "striped", "small", "green", "old"];
const NOUN: [&str; 7] = ["dog", "bus", "table", "man", "shirt", "tree", "building"];
const PRED: [&str; 4] = ["riding", "on", "next to", "holding"];

/// `n` Visual-Genome-like phrases; benches/clip_reference.py builds the same list.
pub fn phrases(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (a, o) = (ADJ[i % 8], NOUN[(i / 8) % 7]);
            if i % 3 == 2 {
                format!("{a} {o} {} {}", PRED[i % 4], NOUN[(i / 3) % 7])
            } else {
                format!("{a} {o}")
            }
        })
        .collect()
}
