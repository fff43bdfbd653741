//! The caption database's parallel paths: the original layout's chunks compressed on rayon's
//! threads (the file h5py sees must be the original's), and the load that reads and inflates
//! chunks outside HDF5 (equal to HDF5's own reading, falling back to it where it must).

use std::path::{Path, PathBuf};

use ctx_store::{CaptionDb, CaptionDbWriter, CaptionLayout, Captions, Provenance, schema};
use serde_json::{Value, json};
use test_support::{Rng, run_python, run_python_json, write_f32_file};

fn tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Rows of keys and features and one phrase per row (multi-byte UTF-8 and empty ones too).
struct Db {
    kd: usize,
    fd: usize,
    sizes: Vec<usize>,
    keys: Vec<f32>,
    features: Vec<f32>,
    captions: Vec<String>,
}

fn db(seed: u64, sizes: &[usize], kd: usize, fd: usize) -> Db {
    let mut rng = Rng::new(seed);
    let n: usize = sizes.iter().sum();
    let texts = ["white dog", "café au lait ☕", "日本語", "", "man riding horse"];
    Db {
        kd,
        fd,
        sizes: sizes.to_vec(),
        // Floats of a few distinct values compress, as real features partly do; random ones not.
        keys: (0..n * kd).map(|i| if i % 3 == 0 { 0.5 } else { rng.f32() }).collect(),
        features: rng.vec_f32(n * fd),
        captions: (0..n)
            .map(|i| match i % 7 {
                0 => String::new(),
                _ => format!("{} {i}", texts[rng.below(texts.len())]),
            })
            .collect(),
    }
}

impl Db {
    /// Writes with ctx-store, batch by batch.
    fn write(&self, path: &Path, layout: CaptionLayout, serial: bool) {
        let prov = Provenance::new("caption_db_parallel", "{}");
        // Serial: the HDF5 library's writer compressing on the calling thread, the reference;
        // otherwise the native writer.
        let mut w = if serial {
            CaptionDbWriter::create_through_hdf5(path, layout, self.kd, self.fd, &prov, false)
        } else {
            CaptionDbWriter::create(path, layout, self.kd, self.fd, &prov, false)
        }
        .unwrap();
        w.set_serial_compression(serial);
        let mut row = 0;
        for &n in &self.sizes {
            let (k, f) = (&self.keys[row * self.kd..], &self.features[row * self.fd..]);
            w.write_batch(&k[..n * self.kd], &f[..n * self.fd], &self.captions[row..row + n])
                .unwrap();
            row += n;
        }
        w.finish().unwrap();
    }

    /// Writes with h5py, as the original does.
    fn write_h5py(&self, dir: &Path, shuffle: bool) -> PathBuf {
        let (keys, features) = (dir.join("keys.f32"), dir.join("features.f32"));
        write_f32_file(&keys, &self.keys);
        write_f32_file(&features, &self.features);
        let spec = json!({"key_dim": self.kd, "feature_dim": self.fd, "sizes": self.sizes,
                          "keys": keys, "features": features, "captions": self.captions});
        let spec_path = dir.join("spec.json");
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let out = dir.join(if shuffle { "h5py-shuffle.h5" } else { "h5py.h5" });
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"write", &spec_path, &out];
        if shuffle {
            args.push(&"shuffle");
        }
        run_python(&tool("caption_db_tool.py"), &args);
        out
    }

    fn assert_loaded(&self, got: &Captions, what: &str) {
        assert_eq!((got.key_dim, got.feature_dim), (self.kd, self.fd), "{what}");
        assert!(bits(&got.keys) == bits(&self.keys), "{what}: keys differ");
        assert!(bits(&got.features) == bits(&self.features), "{what}: features differ");
        assert_eq!(got.captions, self.captions, "{what}");
    }
}

/// What h5py sees, values as digests; without our provenance attributes.
fn seen_by_h5py(path: &Path) -> Value {
    let mut v = run_python_json(&tool("h5py_tool.py"), &[&"digest", &path]);
    let attrs = v["/"]["attrs"].as_object_mut().unwrap();
    for name in [
        schema::PROVENANCE_TOOL,
        schema::PROVENANCE_VERSION,
        schema::PROVENANCE_ARGUMENTS,
        schema::KIND,
    ] {
        attrs.remove(name);
    }
    v
}

#[test]
fn original_layout_compressed_in_parallel_is_the_originals_file() {
    let dir = tempfile::tempdir().unwrap();
    // 1024-wide keys: 128 chunks of (32, 128) per batch, two B-tree levels; 100-wide features:
    // chunks cut at the right edge; a last batch of 37 rows: chunks cut at the bottom.
    let data = db(1, &[512, 512, 37], 1024, 100);
    let original = data.write_h5py(dir.path(), false);
    let (ours, serial) = (dir.path().join("ours.h5"), dir.path().join("serial.h5"));
    data.write(&ours, CaptionLayout::Original, false);
    data.write(&serial, CaptionLayout::Original, true);

    let want = seen_by_h5py(&original);
    assert_eq!(want["0/keys"]["chunks"], json!([32, 128]), "the B-tree case this test is for");
    assert_eq!(want["0/keys"]["compression_opts"], json!(4));
    assert_eq!(seen_by_h5py(&ours), want, "h5py's view of the parallel writer's file");
    assert_eq!(seen_by_h5py(&serial), want, "h5py's view of the serial writer's file");
    // Nothing left beside the output.
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    // (No temporary file of a writer: they would be hidden, like the scratch files of chunks
    // that writers once made.)
    assert!(!left.iter().any(|n| n.to_string_lossy().starts_with('.')), "{left:?}");

    for path in [&original, &ours, &serial] {
        let db = CaptionDb::open(path).unwrap();
        assert_eq!(db.layout(), CaptionLayout::Original);
        data.assert_loaded(&db.load().unwrap(), &format!("load of {path:?}"));
        data.assert_loaded(&db.load_serial().unwrap(), &format!("serial load of {path:?}"));
    }
}

#[test]
fn contiguous_load_reads_every_chunk() {
    let dir = tempfile::tempdir().unwrap();
    // 5000 rows: two full chunks of 2048 rows and a partial one.
    let data = db(2, &[2048, 1000, 1952], 8, 6);
    let path = dir.path().join("contiguous.h5");
    data.write(&path, CaptionLayout::Contiguous, false);
    let db = CaptionDb::open(&path).unwrap();
    assert_eq!(db.layout(), CaptionLayout::Contiguous);
    data.assert_loaded(&db.load().unwrap(), "load");
    data.assert_loaded(&db.load_serial().unwrap(), "serial load");
}

#[test]
fn other_filters_are_read_through_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let data = db(3, &[512, 100], 16, 12);
    let shuffled = data.write_h5py(dir.path(), true);
    data.assert_loaded(&CaptionDb::open(&shuffled).unwrap().load().unwrap(), "shuffle + gzip");
}

#[test]
fn a_damaged_chunk_is_an_error_naming_its_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let data = db(4, &[512, 512], 64, 64);
    let path = data.write_h5py(dir.path(), false);
    let out = run_python(&tool("caption_db_tool.py"), &[&"chunk", &path, &"1/features", &"3"]);
    let offset: u64 = out.split_whitespace().next().unwrap().parse().unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0xff; 64], offset + 8).unwrap();
    }
    let err = CaptionDb::open(&path).unwrap().load().unwrap_err().to_string();
    assert!(err.contains("1/features"), "{err}");
}
