//! HAAV's three files (GT-RIPL/HAAV), both ways: ctx-store reads what HAAV's `ctx/` scripts
//! write with h5py, and HAAV's training-code readers (`TxtCtxField`, `VisCtxField`) read what
//! our writers write. The h5py side is `haav_tool.py` beside this file.

use std::path::{Path, PathBuf};

use ctx_store::{
    CaptionDbWriter, CaptionLayout, CheckOptions, Error, FileKind, HaavCaptionDb,
    HaavCaptionDbWriter, HaavTxtCtxReader, HaavTxtCtxWriter, HaavVisCtxReader, HaavVisCtxWriter,
    Profile, Provenance, TxtCtxWriter, TxtEntry, View, ViewEntry, VisCtxWriter, check_with, detect,
    merge, schema, summarize,
};
use serde_json::{Value, json};
use test_support::{Rng, run_python, run_python_code, run_python_json};

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/haav_tool.py")
}

fn prov() -> Provenance {
    Provenance::new("haav-test", r#"{"profile": "haav"}"#)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn normalised(mut v: Vec<f32>, width: usize) -> Vec<f32> {
    for row in v.chunks_mut(width) {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= n);
    }
    v
}

const TEXTS: &[&str] = &["white dog", "café au lait ☕", "日本語", "", "line\nbreak", "a  b"];

// ---------------------------------------------------------------------------------------------
// Data, and the same data written by HAAV's calls (h5py) or by our writers.

/// vis_ctx content: per image a `(tokens, fdim_grid)` grid and an L2-normalised pooled vector.
struct Vis {
    ids: Vec<u64>,
    tokens: usize,
    fdim_grid: usize,
    fdim_pooled: usize,
    grid: Vec<f32>,
    pooled: Vec<f32>,
}

fn vis_data(seed: u64, ids: &[u64], tokens: usize, fdim_grid: usize, fdim_pooled: usize) -> Vis {
    let mut rng = Rng::new(seed);
    Vis {
        ids: ids.to_vec(),
        tokens,
        fdim_grid,
        fdim_pooled,
        grid: rng.vec_f32(ids.len() * tokens * fdim_grid),
        pooled: normalised(rng.vec_f32(ids.len() * fdim_pooled), fdim_pooled),
    }
}

impl Vis {
    fn grid_of(&self, i: usize) -> &[f32] {
        let n = self.tokens * self.fdim_grid;
        &self.grid[i * n..(i + 1) * n]
    }

    fn pooled_of(&self, i: usize) -> &[f32] {
        &self.pooled[i * self.fdim_pooled..(i + 1) * self.fdim_pooled]
    }

    fn batches(&self, batch: usize) -> Vec<std::ops::Range<usize>> {
        (0..self.ids.len()).step_by(batch).map(|s| s..(s + batch).min(self.ids.len())).collect()
    }

    fn spec(&self, batch: usize) -> Value {
        let batches: Vec<Value> = self
            .batches(batch)
            .into_iter()
            .map(|r| {
                r.map(|i| {
                    json!({"id": self.ids[i], "grid": bits(self.grid_of(i)),
                           "pooled": bits(self.pooled_of(i))})
                })
                .collect()
            })
            .collect();
        json!({"fdim_grid": self.fdim_grid, "fdim_pooled": self.fdim_pooled,
               "tokens": self.tokens, "batches": batches})
    }

    fn write_ours(&self, path: &Path, batch: usize) {
        let mut w =
            HaavVisCtxWriter::create(path, self.fdim_grid, self.fdim_pooled, &prov(), false)
                .unwrap();
        self.write_batches(&mut w, &self.batches(batch));
        w.finish().unwrap();
    }

    fn write_batches(&self, w: &mut HaavVisCtxWriter, batches: &[std::ops::Range<usize>]) {
        let (g, p) = (self.tokens * self.fdim_grid, self.fdim_pooled);
        for r in batches {
            let (grid, pooled) =
                (&self.grid[r.start * g..r.end * g], &self.pooled[r.start * p..r.end * p]);
            w.write_batch(&self.ids[r.clone()], self.tokens, grid, pooled).unwrap();
        }
    }
}

/// One batch of a caption database: keys, values, captions.
type Batch = (Vec<f32>, Vec<f32>, Vec<String>);

/// caption_db content.
struct Captions {
    key_dim: usize,
    value_dim: usize,
    batches: Vec<Batch>,
}

fn caption_data(seed: u64, sizes: &[usize], key_dim: usize, value_dim: usize) -> Captions {
    let mut rng = Rng::new(seed);
    let batches = sizes
        .iter()
        .enumerate()
        .map(|(b, &n)| {
            let keys = normalised(rng.vec_f32(n * key_dim), key_dim);
            let values = rng.vec_f32(n * value_dim);
            let captions = (0..n).map(|i| format!("{} {b}.{i}", TEXTS[rng.below(TEXTS.len())]));
            (keys, values, captions.collect())
        })
        .collect();
    Captions { key_dim, value_dim, batches }
}

impl Captions {
    fn spec(&self) -> Value {
        let batches: Vec<Value> = self
            .batches
            .iter()
            .map(|(k, v, c)| json!({"keys": bits(k), "values": bits(v), "captions": c}))
            .collect();
        json!({"key_dim": self.key_dim, "value_dim": self.value_dim, "batches": batches})
    }

    fn write_ours(&self, path: &Path) {
        let mut w = HaavCaptionDbWriter::create(path, self.key_dim, self.value_dim, &prov(), false)
            .unwrap();
        for (k, v, c) in &self.batches {
            w.write_batch(k, v, c).unwrap();
        }
        w.finish().unwrap();
    }
}

fn view_entry(rng: &mut Rng, crops: usize, k: usize, d: usize) -> ViewEntry {
    let mut scores = rng.vec_f32(crops * k);
    for row in scores.chunks_mut(k) {
        row.sort_by(|a, b| b.total_cmp(a));
    }
    ViewEntry {
        crops,
        k,
        d,
        features: rng.vec_f32(crops * k * d),
        scores,
        texts: (0..crops * k).map(|_| TEXTS[rng.below(TEXTS.len())].to_owned()).collect(),
    }
}

/// Images in HAAV's layout: 8k, 2k and k texts per crop of whole, five, nine.
fn txt_entries(seed: u64, ids: &[u64], k: usize, d: usize) -> Vec<TxtEntry> {
    let mut rng = Rng::new(seed);
    ids.iter()
        .map(|&id| TxtEntry {
            id: id.into(),
            whole: view_entry(&mut rng, 1, 8 * k, d),
            five: view_entry(&mut rng, 5, 2 * k, d),
            nine: view_entry(&mut rng, 9, k, d),
        })
        .collect()
}

fn txt_spec(entries: &[TxtEntry], fdim: usize, batch: usize) -> Value {
    let view = |v: &ViewEntry| {
        json!({"k": v.k, "d": v.d, "features": bits(&v.features), "scores": bits(&v.scores),
               "texts": v.texts})
    };
    let batches: Vec<Value> = entries
        .chunks(batch)
        .map(|b| {
            b.iter()
                .map(|e| {
                    json!({"id": e.id.as_u64(), "whole": view(&e.whole), "five": view(&e.five),
                           "nine": view(&e.nine)})
                })
                .collect()
        })
        .collect();
    json!({"fdim": fdim, "batches": batches})
}

fn write_ours_txt(path: &Path, entries: &[TxtEntry], fdim: usize, batch: usize) {
    let mut w = HaavTxtCtxWriter::create(path, fdim, &prov(), false).unwrap();
    for b in entries.chunks(batch) {
        w.write_batch(b).unwrap();
    }
    w.finish().unwrap();
}

/// Writes `spec` with HAAV's h5py calls into `dir/<name>`.
fn write_haav(dir: &Path, kind: &str, name: &str, spec: &Value) -> PathBuf {
    let spec_path = dir.join(format!("{name}.json"));
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = dir.join(name);
    run_python(&tool(), &[&"write-haav", &kind, &spec_path, &out]);
    out
}

fn dump(path: &Path) -> Value {
    run_python_json(&tool(), &[&"dump", &path])
}

/// The three files, the same content written by HAAV's calls and by ours.
struct Files {
    vis: Vis,
    captions: Captions,
    entries: Vec<TxtEntry>,
    /// HAAV's k of the txt_ctx files.
    k: usize,
    fdim: usize,
    haav: [PathBuf; 3],
    ours: [PathBuf; 3],
}

fn files(dir: &Path) -> Files {
    let (k, fdim) = (2, 6);
    let vis = vis_data(1, &[531912, 9, 42, 100_000, 7], 5, 8, 4);
    let captions = caption_data(2, &[4, 4, 3], 4, fdim);
    let entries = txt_entries(3, &[9, 531912, 42, 7], k, fdim);
    let haav = [
        write_haav(dir, "vis", "haav-vis_ctx.hdf5", &vis.spec(2)),
        write_haav(dir, "caption", "haav-caption_db.hdf5", &captions.spec()),
        write_haav(dir, "txt", "haav-txt_ctx.hdf5", &txt_spec(&entries, fdim, 3)),
    ];
    let ours = ["vis_ctx.hdf5", "caption_db.hdf5", "txt_ctx.hdf5"].map(|n| dir.join(n));
    vis.write_ours(&ours[0], 2);
    captions.write_ours(&ours[1]);
    write_ours_txt(&ours[2], &entries, fdim, 3);
    Files { vis, captions, entries, k, fdim, haav, ours }
}

fn assert_same_entry(got: &TxtEntry, want: &TxtEntry) {
    assert_eq!(got.id, want.id);
    for view in View::ALL {
        let (g, w) = (got.view(view), want.view(view));
        assert_eq!((g.crops, g.k, g.d), (w.crops, w.k, w.d), "{} {view}", want.id);
        assert_eq!(bits(&g.features), bits(&w.features), "{} {view} features", want.id);
        assert_eq!(bits(&g.scores), bits(&w.scores), "{} {view} scores", want.id);
        assert_eq!(g.texts, w.texts, "{} {view} texts", want.id);
    }
}

/// Checks that every reader returns the data of `f` from the files at `paths`.
fn assert_reads(f: &Files, paths: &[PathBuf; 3]) {
    let [vis, cap, txt] = paths;
    // vis_ctx
    let r = HaavVisCtxReader::open(vis).unwrap();
    assert_eq!((r.fdim_grid(), r.fdim_pooled()), (f.vis.fdim_grid, f.vis.fdim_pooled));
    let mut order: Vec<usize> = (0..f.vis.ids.len()).collect();
    order.sort_by_key(|&i| f.vis.ids[i]);
    let sorted: Vec<u64> = order.iter().map(|&i| f.vis.ids[i]).collect();
    assert_eq!(r.ids().unwrap(), sorted);
    for (i, &id) in f.vis.ids.iter().enumerate() {
        let e = r.get(id).unwrap();
        assert_eq!(e.tokens, f.vis.tokens);
        assert_eq!(bits(&e.grid), bits(f.vis.grid_of(i)), "{id} grid");
        assert_eq!(bits(&e.pooled), bits(f.vis.pooled_of(i)), "{id} pooled");
    }
    let all = r.preload().unwrap();
    let all_ids: Vec<u64> = all.ids.iter().filter_map(ctx_store::ImageId::as_u64).collect();
    assert_eq!((all_ids, all.tokens), (sorted, f.vis.tokens));
    for (row, &i) in order.iter().enumerate() {
        assert_eq!(bits(all.grid_row(row)), bits(f.vis.grid_of(i)));
        assert_eq!(bits(all.pooled_row(row)), bits(f.vis.pooled_of(i)));
    }
    // caption_db
    let db = HaavCaptionDb::open(cap).unwrap();
    let n: usize = f.captions.batches.iter().map(|b| b.2.len()).sum();
    assert_eq!((db.len(), db.batches()), (n, f.captions.batches.len()));
    assert_eq!((db.key_dim(), db.value_dim()), (f.captions.key_dim, f.captions.value_dim));
    let loaded = db.load().unwrap();
    let cat = |pick: fn(&Batch) -> &Vec<f32>| -> Vec<u32> {
        f.captions.batches.iter().flat_map(|b| bits(pick(b))).collect()
    };
    assert_eq!(bits(&loaded.keys), cat(|b| &b.0));
    assert_eq!(bits(&loaded.features), cat(|b| &b.1), "values");
    let texts: Vec<String> = f.captions.batches.iter().flat_map(|b| b.2.clone()).collect();
    assert_eq!(loaded.captions, texts);
    let c = db.get(5).unwrap(); // batch 1, row 1
    assert_eq!(
        (c.caption.as_str(), bits(&c.feature)),
        (texts[5].as_str(), bits(&f.captions.batches[1].1[6..12]))
    );
    assert!(db.get(n).is_err());
    // txt_ctx
    let r = HaavTxtCtxReader::open(txt).unwrap();
    assert_eq!(r.fdim(), f.fdim);
    for e in &f.entries {
        assert_same_entry(&r.get(&e.id).unwrap(), e);
        assert_eq!(r.view_rows(&e.id).unwrap(), [8 * f.k, 2 * f.k, f.k]);
        // f[f"{id}/five/features"][3, :2]
        let v = r.view(&e.id, View::Five, Some(3), Some(2)).unwrap();
        assert_eq!(bits(&v.features), bits(&e.five.features[3 * 2 * f.k * f.fdim..][..2 * f.fdim]));
    }
    let mut want: Vec<&TxtEntry> = f.entries.iter().collect();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    let all = r.preload().unwrap();
    assert_eq!(all.len(), want.len());
    all.iter().zip(want).for_each(|(g, w)| assert_same_entry(g, w));
}

// ---------------------------------------------------------------------------------------------

#[test]
fn files_written_by_haavs_scripts_read_identically() {
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    assert_reads(&f, &f.haav);
    let kinds = [FileKind::HaavVisCtx, FileKind::HaavCaptionDb, FileKind::HaavTxtCtx];
    for (p, kind) in f.haav.iter().zip(kinds) {
        assert_eq!(detect(p).unwrap(), kind, "{}", p.display());
        let s = summarize(p).unwrap();
        assert_eq!((s.kind, s.provenance), (kind, None));
    }
    let s = summarize(&f.haav[0]).unwrap();
    assert_eq!((s.count, s.tokens, s.fdim_grid, s.fdim_pooled), (5, Some(5), Some(8), Some(4)));
    assert_eq!(s.id_range, Some((7.into(), 531912.into())));
    let s = summarize(&f.haav[2]).unwrap();
    assert_eq!((s.count, s.fdim, s.k, s.d), (4, Some(f.fdim), Some(f.k), Some(f.fdim)));
    assert_eq!(s.view_rows, Some([16, 4, 2]));
    let s = summarize(&f.haav[1]).unwrap();
    assert_eq!((s.count, s.batches, s.key_dim, s.d), (11, Some(3), Some(4), Some(f.fdim)));
}

#[test]
fn our_files_read_identically_and_record_their_profile() {
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    assert_reads(&f, &f.ours);
    let kinds = [FileKind::HaavVisCtx, FileKind::HaavCaptionDb, FileKind::HaavTxtCtx];
    for (p, kind) in f.ours.iter().zip(kinds) {
        assert_eq!(detect(p).unwrap(), kind);
        assert_eq!(detect(p).unwrap().profile(), Profile::Haav);
        assert_eq!(summarize(p).unwrap().provenance, Some(prov()));
    }
}

/// Our dump without the `xctx_` attributes, which HAAV's files do not have; checks that they
/// are there, `xctx_kind` naming the HAAV kind.
fn without_xctx(mut v: Value, kind: &str) -> Value {
    let attrs = v["/"]["attrs"].as_object_mut().unwrap();
    let names: Vec<String> = attrs.keys().filter(|k| k.starts_with("xctx_")).cloned().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(attrs[schema::KIND]["value"]["strings"], json!([kind]));
    for n in names {
        attrs.remove(&n);
    }
    v
}

#[test]
fn h5py_sees_haavs_schema_in_our_files() {
    // Names, dtypes, string types, shapes, chunks, compression and values as h5py shows them.
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    let kinds = [schema::KIND_HAAV_VIS, schema::KIND_HAAV_CAPTION_DB, schema::KIND_HAAV_TXT];
    for ((ours, haav), kind) in f.ours.iter().zip(&f.haav).zip(kinds) {
        let (got, want) = (without_xctx(dump(ours), kind), dump(haav));
        assert_eq!(got, want, "{}", ours.display());
        // What the comparison covers, spelled out for one dataset of each file.
        let gz = |v: &Value| (v["compression"].clone(), v["compression_opts"].clone());
        let object = match kind {
            schema::KIND_HAAV_VIS => "531912/grid_features",
            schema::KIND_HAAV_TXT => "9/five/texts",
            _ => "1/values",
        };
        assert_eq!(gz(&got[object]), (json!("gzip"), json!(4)), "{object}");
        assert!(got[object]["chunks"].is_array(), "{object}");
    }
    let d = dump(&f.ours[2]);
    assert_eq!(d["/"]["attrs"]["fdim"]["dtype"], json!("int64"));
    assert_eq!(d["9/whole/features"]["shape"], json!([16, 6]));
    assert_eq!(d["9/nine/texts"]["string"], json!(["utf-8", null]));
}

/// At ViT-B/32's sizes (a 50 x 768 grid, 512 pooled; d = 768 and k = 16, so `whole` holds
/// 128 x 768 features) every dataset spans several chunks, partial at the edges: the native
/// writers (chunks compressed on rayon's threads, every byte written without HDF5), and the ones
/// through HDF5 (chunks compressed in parallel and copied in, or compressed by HDF5), give the
/// file h5py writes with HAAV's calls, as h5py sees it (values by digest).
#[test]
fn chunks_compressed_in_parallel_give_haavs_files_at_real_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let digest = |p: &Path| {
        let h5py_tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h5py_tool.py");
        run_python_json(&h5py_tool, &[&"digest", &p])
    };
    let vis = vis_data(11, &[531912, 9, 42], 50, 768, 512);
    let entries = txt_entries(12, &[9, 531912, 42], 16, 768);
    let want_vis = digest(&write_haav(dir.path(), "vis", "haav-vis.h5", &vis.spec(2)));
    let want_txt =
        digest(&write_haav(dir.path(), "txt", "haav-txt.h5", &txt_spec(&entries, 768, 2)));
    assert!(
        want_txt["531912/whole/features"]["chunks"] != json!([1, 128, 768]),
        "one chunk per dataset: not the case this test is for"
    );
    // The native writer, and the one through HDF5 with chunks compressed in parallel or by HDF5.
    for (what, hdf5, serial) in
        [("parallel", false, false), ("hdf5-parallel", true, false), ("hdf5-serial", true, true)]
    {
        let v = dir.path().join(format!("vis-{what}.h5"));
        let mut w = match hdf5 {
            true => HaavVisCtxWriter::create_through_hdf5(&v, 768, 512, &prov(), false).unwrap(),
            false => HaavVisCtxWriter::create(&v, 768, 512, &prov(), false).unwrap(),
        };
        w.set_serial_compression(serial);
        w.write_batch::<u64>(&[], 50, &[], &[]).unwrap();
        vis.write_batches(&mut w, &vis.batches(2));
        w.finish().unwrap();
        let t = dir.path().join(format!("txt-{what}.h5"));
        let mut w = match hdf5 {
            true => HaavTxtCtxWriter::create_through_hdf5(&t, 768, &prov(), false).unwrap(),
            false => HaavTxtCtxWriter::create(&t, 768, &prov(), false).unwrap(),
        };
        w.set_serial_compression(serial);
        w.write_batch(&[]).unwrap(); // an empty batch (every image already there) adds nothing
        for b in entries.chunks(2) {
            w.write_batch(b).unwrap();
        }
        w.finish().unwrap();
        let got = without_xctx(digest(&v), schema::KIND_HAAV_VIS);
        assert_eq!(got, want_vis, "{what} vis_ctx");
        let got = without_xctx(digest(&t), schema::KIND_HAAV_TXT);
        assert_eq!(got, want_txt, "{what} txt_ctx");
    }
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    // (No temporary file of a writer: they would be hidden, like the scratch files of chunks
    // that writers once made.)
    assert!(!left.iter().any(|n| n.to_string_lossy().starts_with('.')), "{left:?}");
    // And the files read back to the data written.
    let r = HaavTxtCtxReader::open(dir.path().join("txt-parallel.h5")).unwrap();
    let mut got = r.preload().unwrap();
    got.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want = entries.clone();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    for (g, w) in got.iter().zip(&want) {
        assert_same_entry(g, w);
    }
    let r = HaavVisCtxReader::open(dir.path().join("vis-parallel.h5")).unwrap();
    let all = r.preload().unwrap();
    for (i, id) in all.ids.iter().enumerate() {
        let j = vis.ids.iter().position(|x| id == x).unwrap();
        assert_eq!(bits(all.grid_row(i)), bits(vis.grid_of(j)), "grid of {id}");
        assert_eq!(bits(all.pooled_row(i)), bits(vis.pooled_of(j)), "pooled of {id}");
    }
}

/// What HAAV's `TxtCtxField(k).process` and `VisCtxField.process` return for `ids`, computed
/// from the data written: the first 8k / 2k / k texts of every crop, crop positions, ranks.
fn expected_fields(f: &Files, k: usize, ids: &[u64]) -> Value {
    let mut txt = serde_json::Map::new();
    for view in View::ALL {
        let n = view.haav_factor() * k;
        let rows = view.crops() * n;
        let mut embed = Vec::new();
        for id in ids {
            let e = f.entries.iter().find(|e| e.id == *id).unwrap().view(view);
            for c in 0..view.crops() {
                let start = (c * e.k) * e.d;
                embed.extend(bits(&e.features[start..start + n * e.d]));
            }
        }
        let pos: Vec<usize> = (0..ids.len()).flat_map(|_| (0..rows).map(|r| r / n)).collect();
        let rank: Vec<usize> = (0..ids.len()).flat_map(|_| (0..rows).map(|r| r % n)).collect();
        let b = ids.len();
        txt.insert(
            view.to_string(),
            json!({
                "embed": {"dtype": "torch.float32", "shape": [b, rows, f.fdim], "values": embed},
                "pos": {"dtype": "torch.int64", "shape": [b, rows], "values": pos},
                "rank": {"dtype": "torch.int64", "shape": [b, rows], "values": rank},
            }),
        );
    }
    let at = |id: &u64| f.vis.ids.iter().position(|x| x == id).unwrap();
    let grid: Vec<u32> = ids.iter().flat_map(|id| bits(f.vis.grid_of(at(id)))).collect();
    let pooled: Vec<u32> = ids.iter().flat_map(|id| bits(f.vis.pooled_of(at(id)))).collect();
    let (t, g, p) = (f.vis.tokens, f.vis.fdim_grid, f.vis.fdim_pooled);
    json!({
        "fdim": f.fdim, "fdim_grid": g, "fdim_pooled": p, "txt": txt,
        "vis": {
            "grid": {"dtype": "torch.float32", "shape": [ids.len(), t, g], "values": grid},
            "pooled": {"dtype": "torch.float32", "shape": [ids.len(), p], "values": pooled},
        },
    })
}

fn run_fields(txt: &Path, vis: &Path, k: usize, ids: &[u64]) -> Value {
    let mut args: Vec<String> = vec!["fields".into(), txt.display().to_string()];
    args.push(vis.display().to_string());
    args.push(k.to_string());
    args.extend(ids.iter().map(u64::to_string));
    let refs: Vec<&dyn AsRef<std::ffi::OsStr>> =
        args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>).collect();
    run_python_json(&tool(), &refs)
}

#[test]
fn haavs_training_readers_load_our_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    let ids = [531912, 7, 9];
    // The file's own k, and a smaller training k (HAAV trains with k = 8 on files of k = 16).
    for k in [f.k, 1] {
        let got = run_fields(&f.ours[2], &f.ours[0], k, &ids);
        let want = expected_fields(&f, k, &ids);
        for preload in ["no_preload", "preload"] {
            assert_eq!(got[preload], want, "k = {k}, {preload}");
        }
    }
}

#[cfg(feature = "tch")]
#[test]
fn tch_batches_equal_what_haavs_training_code_builds() {
    use ctx_store::{haav_txt_batch, haav_vis_batch};
    use tch::{Device, Kind, Tensor};

    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    let ids = [7u64, 531912, 42];
    let r = HaavTxtCtxReader::open(&f.ours[2]).unwrap();
    let entries = r.preload_ids(&ids).unwrap();
    let refs: Vec<&TxtEntry> = entries.iter().collect();
    let vis = HaavVisCtxReader::open(&f.ours[0]).unwrap().preload().unwrap();
    let rows: Vec<usize> =
        ids.iter().map(|id| vis.ids.iter().position(|x| x == id).unwrap()).collect();
    let as_json = |t: &Tensor| -> Value {
        let shape = t.size();
        let flat = t.flatten(0, -1);
        let values = match t.kind() {
            Kind::Float => json!(bits(&Vec::<f32>::try_from(&flat).unwrap())),
            Kind::Int64 => json!(Vec::<i64>::try_from(&flat).unwrap()),
            other => panic!("unexpected kind {other:?}"),
        };
        let dtype = if t.kind() == Kind::Float { "torch.float32" } else { "torch.int64" };
        json!({"dtype": dtype, "shape": shape, "values": values})
    };
    for k in [f.k, 1] {
        let python = run_fields(&f.ours[2], &f.ours[0], k, &ids)["preload"].clone();
        let b = haav_txt_batch(&refs, k, Device::Cpu).unwrap();
        for (name, v) in [("whole", &b.whole), ("five", &b.five), ("nine", &b.nine)] {
            let got = json!({"embed": as_json(&v.embed), "pos": as_json(&v.pos), "rank": as_json(&v.rank)});
            assert_eq!(got, python["txt"][name], "k = {k}, {name}");
        }
        let v = haav_vis_batch(&vis, &rows, Device::Cpu).unwrap();
        let got = json!({"grid": as_json(&v.grid), "pooled": as_json(&v.pooled)});
        assert_eq!(got, python["vis"], "k = {k}");
    }
    // More texts than an image holds: an error naming the image, not a short batch.
    let e = haav_txt_batch(&refs, f.k + 1, Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("7/whole/features") && e.to_string().contains("[:24]"), "{e}");
    assert!(haav_vis_batch(&vis, &[99], Device::Cpu).is_err());
}

#[test]
fn detection_tells_the_six_kinds_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = files(d);
    // Files with entries: HAAV's (its scripts and ours) and the original's (its h5py calls,
    // through h5py_tool.py, and ours).
    let mut cases: Vec<(PathBuf, FileKind)> = Vec::new();
    let haav_kinds = [FileKind::HaavVisCtx, FileKind::HaavCaptionDb, FileKind::HaavTxtCtx];
    for (p, kind) in f.haav.iter().chain(&f.ours).zip(haav_kinds.iter().cycle()) {
        cases.push((p.clone(), *kind));
    }
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h5py_tool.py");
    let write_original = |kind: &str, spec: Value| -> PathBuf {
        let spec_path = d.join(format!("original-{kind}.json"));
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let out = d.join(format!("original-{kind}.h5"));
        run_python(&original, &[&"write-original", &kind, &spec_path, &out]);
        out
    };
    let e = &f.entries[0];
    let same_k = |v: &ViewEntry, crops: usize| {
        json!({"crops": crops, "k": 2, "d": v.d, "features": bits(&v.features[..crops * 2 * v.d]),
               "scores": bits(&v.scores[..crops * 2]), "texts": v.texts[..crops * 2]})
    };
    cases.push((
        write_original(
            "txt",
            json!({"entries": [{"id": 5, "whole": same_k(&e.whole, 1), "five": same_k(&e.five, 5),
                                "nine": same_k(&e.nine, 9)}]}),
        ),
        FileKind::TxtCtx,
    ));
    cases.push((
        write_original(
            "vis",
            json!({"fdim": 3, "entries": [{"id": 5, "features": bits(&[1.0, 2.0, 3.0])}]}),
        ),
        FileKind::VisCtx,
    ));
    let (k, v, c) = &f.captions.batches[0];
    cases.push((
        write_original(
            "caption",
            json!({"key_dim": 4, "feature_dim": 6, "batches": [{"keys": bits(k), "features": bits(v), "captions": c}]}),
        ),
        FileKind::CaptionDb(CaptionLayout::Original),
    ));
    // Empty files of every kind, as our writers leave them (an empty shard).
    let empty = |name: &str| d.join(format!("empty-{name}.hdf5"));
    VisCtxWriter::create(empty("vis"), 8, &prov(), false).unwrap().finish().unwrap();
    TxtCtxWriter::create(empty("txt"), &prov(), false).unwrap().finish().unwrap();
    for (name, layout) in [("cap-o", CaptionLayout::Original), ("cap-c", CaptionLayout::Contiguous)]
    {
        CaptionDbWriter::create(empty(name), layout, 4, 6, &prov(), false)
            .unwrap()
            .finish()
            .unwrap();
    }
    HaavVisCtxWriter::create(empty("hvis"), 8, 4, &prov(), false).unwrap().finish().unwrap();
    HaavTxtCtxWriter::create(empty("htxt"), 6, &prov(), false).unwrap().finish().unwrap();
    HaavCaptionDbWriter::create(empty("hcap"), 4, 6, &prov(), false).unwrap().finish().unwrap();
    for (name, kind) in [
        ("vis", FileKind::VisCtx),
        ("txt", FileKind::TxtCtx),
        ("cap-o", FileKind::CaptionDb(CaptionLayout::Original)),
        ("cap-c", FileKind::CaptionDb(CaptionLayout::Contiguous)),
        ("hvis", FileKind::HaavVisCtx),
        ("htxt", FileKind::HaavTxtCtx),
        ("hcap", FileKind::HaavCaptionDb),
    ] {
        cases.push((empty(name), kind));
    }
    for (p, kind) in &cases {
        assert_eq!(detect(p).unwrap(), *kind, "{}", p.display());
        // Every kind summarises and checks clean, empty ones included.
        assert_eq!(summarize(p).unwrap().kind, *kind);
        let report = check_with(p, &CheckOptions::default()).unwrap();
        assert_eq!(report.violations, vec![], "{}", p.display());
    }
    let seen: std::collections::HashSet<String> =
        cases.iter().map(|(_, k)| format!("{k:?}")).collect();
    assert_eq!(seen.len(), FileKind::ALL.len());
}

#[test]
fn writers_refuse_what_haavs_layout_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("txt.hdf5");
    let mut w = HaavTxtCtxWriter::create(&p, 6, &prov(), false).unwrap();
    let mut e = txt_entries(1, &[1], 2, 6).remove(0);
    e.whole = e.nine.select(Some(0), None).unwrap(); // whole with k texts instead of 8k
    let err = w.write_batch(&[e]).unwrap_err();
    assert!(matches!(err, Error::Input { ref object, .. } if object == "1/whole"), "{err:?}");
    let err = w.write_batch(&txt_entries(1, &[2], 2, 5)).unwrap_err(); // d != fdim
    assert!(err.to_string().contains("fdim = 6"), "{err}");
    w.write_batch(&txt_entries(1, &[3], 2, 6)).unwrap();
    let err = w.write_batch(&txt_entries(1, &[4], 3, 6)).unwrap_err(); // another k
    assert!(err.to_string().contains("k = 2"), "{err}");
    w.finish().unwrap();

    let p = dir.path().join("vis.hdf5");
    let mut w = HaavVisCtxWriter::create(&p, 3, 2, &prov(), false).unwrap();
    assert!(w.write_batch(&[1], 4, &[0.0; 11], &[0.0; 2]).is_err());
    w.write_batch(&[1], 4, &[0.0; 12], &[0.6, 0.8]).unwrap();
    let err = w.write_batch(&[2], 5, &[0.0; 15], &[0.6, 0.8]).unwrap_err();
    assert!(err.to_string().contains("4"), "{err}");
    assert!(HaavVisCtxWriter::create(dir.path().join("v0.hdf5"), 0, 2, &prov(), false).is_err());
}

#[test]
fn writers_resume_and_shards_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = files(d);
    // vis_ctx: the first two batches, killed; a partial image left by a crash inside a flush.
    let part = d.join("part-vis.hdf5");
    let mut w = HaavVisCtxWriter::create(&part, f.vis.fdim_grid, f.vis.fdim_pooled, &prov(), false)
        .unwrap();
    let batches = f.vis.batches(2);
    f.vis.write_batches(&mut w, &batches[..2]);
    drop(w);
    run_python_code(
        "import sys, h5py, numpy as np\nwith h5py.File(sys.argv[1], 'a') as f:\n    f.create_group('7').create_dataset('pooled_features', data=np.zeros(4, 'f4'))\n",
        &[&part],
    );
    let (mut w, done) = HaavVisCtxWriter::append(&part).unwrap();
    let mut want_done: Vec<ctx_store::ImageId> = f.vis.ids[..4].iter().map(|&i| i.into()).collect();
    want_done.sort();
    assert_eq!(done, want_done, "the partial image 7 is removed");
    f.vis.write_batches(&mut w, &batches[2..]);
    w.finish().unwrap();
    assert_eq!(dump(&part), dump(&f.ours[0]));

    // txt_ctx and caption_db: resumed after each batch.
    let part = d.join("part-txt.hdf5");
    HaavTxtCtxWriter::create(&part, f.fdim, &prov(), false).unwrap().finish().unwrap();
    for b in f.entries.chunks(3) {
        let (mut w, _) = HaavTxtCtxWriter::append(&part).unwrap();
        w.write_batch(b).unwrap();
        w.finish().unwrap();
    }
    assert_eq!(dump(&part), dump(&f.ours[2]));
    let part = d.join("part-cap.hdf5");
    let c = &f.captions;
    HaavCaptionDbWriter::create(&part, c.key_dim, c.value_dim, &prov(), false)
        .unwrap()
        .finish()
        .unwrap();
    for (i, (k, v, t)) in c.batches.iter().enumerate() {
        let mut w = HaavCaptionDbWriter::append(&part).unwrap();
        assert_eq!(w.batches(), i);
        w.write_batch(k, v, t).unwrap();
        w.finish().unwrap();
    }
    assert_eq!(dump(&part), dump(&f.ours[1]));

    // Shards, an empty one among them, merge into the single run's file.
    let shard = |name: &str, i: usize| d.join(format!("{name}-{i}.hdf5"));
    let vis_shards = [0..2, 2..2, 2..5];
    for (i, r) in vis_shards.iter().enumerate() {
        let mut w = HaavVisCtxWriter::create(shard("vis", i), 8, 4, &prov(), false).unwrap();
        f.vis.write_batches(&mut w, std::slice::from_ref(r));
        w.finish().unwrap();
    }
    for (i, r) in [0..3, 3..3, 3..4].iter().enumerate() {
        write_ours_txt(&shard("txt", i), &f.entries[r.clone()], f.fdim, 3);
    }
    for (i, r) in [0..2, 2..2, 2..3].iter().enumerate() {
        let mut w =
            HaavCaptionDbWriter::create(shard("cap", i), 4, f.fdim, &prov(), false).unwrap();
        for (k, v, t) in &c.batches[r.clone()] {
            w.write_batch(k, v, t).unwrap();
        }
        w.finish().unwrap();
    }
    for (name, single) in [("vis", &f.ours[0]), ("txt", &f.ours[2]), ("cap", &f.ours[1])] {
        let inputs: Vec<PathBuf> = (0..3).map(|i| shard(name, i)).collect();
        let out = d.join(format!("merged-{name}.hdf5"));
        let m = merge(&inputs, &out, &prov(), false).unwrap();
        assert_eq!(m.kind, detect(single).unwrap());
        assert_eq!(dump(&out), dump(single), "{name}");
    }
    // Another fdim cannot join.
    let other = d.join("other-txt.hdf5");
    write_ours_txt(&other, &txt_entries(9, &[1234], 2, 5), 5, 1);
    let err =
        merge(&[f.ours[2].clone(), other.clone()], d.join("bad.hdf5"), &prov(), false).unwrap_err();
    assert!(matches!(err, Error::Merge { ref path, .. } if *path == other), "{err:?}");
}

/// Plants `code` (h5py statements on the HAAV-written file `f`, opened for appending).
fn plant(path: &Path, code: &str) {
    let script =
        format!("import sys, h5py, numpy as np\nwith h5py.File(sys.argv[1], 'a') as f:\n{code}");
    run_python_code(&script, &[&path]);
}

#[test]
fn check_applies_haavs_rules() {
    let dir = tempfile::tempdir().unwrap();
    let f = files(dir.path());
    let copy = |i: usize, name: &str| {
        let p = dir.path().join(name);
        std::fs::copy(&f.haav[i], &p).unwrap();
        p
    };
    let violations = |p: &Path, k: Option<usize>| {
        let r = check_with(p, &CheckOptions { haav_k: k }).unwrap();
        r.violations.iter().map(|v| format!("{}: {}", v.object, v.message)).collect::<Vec<_>>()
    };
    for p in f.haav.iter().chain(&f.ours) {
        assert_eq!(violations(p, None), Vec::<String>::new(), "{}", p.display());
    }
    let r = check_with(&f.haav[2], &CheckOptions::default()).unwrap();
    assert_eq!((r.kind, r.entries, r.haav_k), (FileKind::HaavTxtCtx, 4, Some(f.k)));
    // A training k the file cannot serve: every view of every image is short.
    let v = violations(&f.haav[2], Some(f.k + 1));
    assert_eq!(v.len(), 12, "{v:#?}");
    assert!(v[0].contains("texts per crop") && v[0].contains("[:24]"), "{v:#?}");
    assert_eq!(violations(&f.haav[2], Some(1)), Vec::<String>::new());

    // whole with fewer than 8k texts (one image), a NaN feature, features of the wrong width.
    let p = copy(2, "short-whole.hdf5");
    plant(
        &p,
        "    g = f['42/whole']\n    for n in ('features', 'scores', 'texts'):\n        d = g[n][:15]\n        del g[n]\n        g.create_dataset(n, data=d, compression='gzip')\n",
    );
    let v = violations(&p, None);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        v[0].starts_with("42/whole/features: 15 texts per crop") && v[0].contains("at least 16"),
        "{v:#?}"
    );
    let p = copy(2, "nan.hdf5");
    plant(
        &p,
        "    d = f['9/nine/features'][()]\n    d[3, 1, 2] = np.nan\n    del f['9/nine/features']\n    f['9/nine'].create_dataset('features', data=d, compression='gzip')\n",
    );
    assert_eq!(
        violations(&p, None),
        vec!["9/nine/features: 1 non-finite values (first: NaN at 44)"]
    );
    let p = copy(2, "fdim.hdf5");
    plant(&p, "    f.attrs['fdim'] = 7\n");
    let v = violations(&p, None);
    assert_eq!(v.len(), 12, "{v:#?}");
    assert!(v[0].contains("(root attribute fdim)"), "{v:#?}");

    // vis_ctx: a grid of another width, tokens that do not stack, a pooled vector not normalised.
    let p = copy(0, "vis.hdf5");
    plant(&p, "    f.attrs['fdim_grid'] = 9\n");
    assert_eq!(violations(&p, None).len(), 5);
    let p = copy(0, "vis2.hdf5");
    plant(
        &p,
        "    del f['9/grid_features']\n    f['9'].create_dataset('grid_features', data=np.zeros((6, 8), 'f4'), compression='gzip')\n    f['42/pooled_features'][0] = 3.0\n",
    );
    let v = violations(&p, None);
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(v.iter().any(|m| m.starts_with("9/grid_features: 6 tokens")), "{v:#?}");
    assert!(
        v.iter().any(|m| m.starts_with("42/pooled_features: it is not L2-normalised")),
        "{v:#?}"
    );
    let p = copy(0, "vis3.hdf5");
    plant(&p, "    del f.attrs['fdim_pooled']\n");
    assert_eq!(violations(&p, None), vec!["/: no object \"/@fdim_pooled\""]);

    // caption_db: a key not normalised, an infinite value.
    let p = copy(1, "cap.hdf5");
    plant(&p, "    f['1/keys'][2] = np.ones(4, 'f4')\n    f['2/values'][0, 0] = np.inf\n");
    let v = violations(&p, None);
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(v[0].starts_with("1/keys: 1 rows are not L2-normalised (first: row 2"), "{v:#?}");
    assert!(v[1].starts_with("2/values: 1 non-finite"), "{v:#?}");
}
