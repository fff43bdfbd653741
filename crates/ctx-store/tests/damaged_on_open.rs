//! Structures the HDF5 library reads when an object is opened, which the checks at a file's open
//! leave to that moment: the members of a root group too large to walk whole (h5py's
//! `vis_ctx` of more than 4,096 images, past the first image) and the chunk B-trees of files in
//! HDF5's newer format (our writers' gzip datasets). Damage there is [`Error::Damaged`] before
//! the library reads it; the objects around it read as before.

use std::path::Path;

use ctx_store::{
    CaptionDb, CaptionDbWriter, CaptionLayout, Error, HaavVisCtxReader, HaavVisCtxWriter,
    Provenance, VisCtxReader,
};
use test_support::{Rng, run_python_code};

fn damaged(e: &Error) -> bool {
    matches!(e, Error::Damaged { .. })
}

/// An h5py `vis_ctx` of `n` images (fdim 4, image `i` all `i`); prints the header address of
/// image `probe`.
const H5PY_VIS: &str = r#"
import sys, h5py, numpy as np
path, n, probe = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with h5py.File(path, 'w') as f:
    f.attrs['fdim'] = 4
    for i in range(n):
        f.create_dataset(str(i), data=np.full(4, i, 'f4'))
    print(h5py.h5o.get_info(f[probe].id).addr)
"#;

fn h5py_vis(path: &Path, n: usize, probe: u64) -> u64 {
    let out = run_python_code(H5PY_VIS, &[&path, &n.to_string(), &probe.to_string()]);
    out.trim().parse().unwrap()
}

#[test]
fn a_damaged_image_past_the_first_of_a_large_h5py_file_is_damage_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vis_ctx.h5");
    let (n, probe) = (4100, 4050u64);
    let at = h5py_vis(&path, n, probe) as usize;
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes[at], 1, "a version 1 object header at {at}");
    // The header's message count and its chunk's size: past anything the file holds.
    bytes[at + 2..at + 4].copy_from_slice(&u16::MAX.to_le_bytes());
    bytes[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();

    let r = VisCtxReader::open(&path).unwrap();
    assert_eq!(r.ids().unwrap().len(), n);
    assert_eq!(r.get(4049).unwrap(), vec![4049.0; 4]);
    let e = r.get(probe).unwrap_err();
    assert!(damaged(&e), "{e}");
    assert!(e.to_string().contains(&probe.to_string()), "names the image: {e}");
    // Reported again on the next read (a damaged image is not remembered as checked).
    assert!(damaged(&r.get(probe).unwrap_err()));
    assert!(damaged(&r.preload().unwrap_err()));
}

/// The chunk B-tree nodes (signature `TREE`, node type 1) of `bytes`.
fn chunk_nodes(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len() - 6).filter(|&i| &bytes[i..i + 4] == b"TREE" && bytes[i + 4] == 1).collect()
}

fn haav_vis(path: &Path) {
    let mut rng = Rng::new(9);
    let prov = Provenance::new("damaged_on_open", "{}");
    let mut w = HaavVisCtxWriter::create(path, 8, 4, &prov, true).unwrap();
    w.write_batch(&[5, 6], 3, &rng.vec_f32(2 * 3 * 8), &rng.vec_f32(2 * 4)).unwrap();
    w.finish().unwrap();
}

#[test]
fn damaged_chunk_b_trees_of_our_gzip_datasets_are_damage_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haav_vis_ctx.h5");
    haav_vis(&path);
    let bytes = std::fs::read(&path).unwrap();
    // Superblock 0 and version-1 object headers, as h5py writes HAAV's files: nothing of them
    // is checksummed, the chunk indexes are checked before HDF5 reads them.
    assert_eq!(bytes[8], 0, "superblock version 0");
    let nodes = chunk_nodes(&bytes);
    assert!(nodes.len() >= 4, "a chunk B-tree per dataset: {nodes:?}");
    let whole = HaavVisCtxReader::open(&path).unwrap().preload().unwrap();

    // Per node: its signature zeroed; its first chunk's size (the first key's first field)
    // past the file's end; its child count beyond any node's capacity.
    type Damage = fn(&mut [u8], usize);
    let damages: [(&str, Damage); 3] = [
        ("signature", |b, at| b[at..at + 4].fill(0)),
        ("chunk size", |b, at| b[at + 24..at + 28].copy_from_slice(&u32::MAX.to_le_bytes())),
        ("entries", |b, at| b[at + 6..at + 8].copy_from_slice(&u16::MAX.to_le_bytes())),
    ];
    for (what, damage) in damages {
        for &node in &nodes {
            let mut b = bytes.clone();
            damage(&mut b, node);
            let p = dir.path().join(format!("{what}-{node}.h5"));
            std::fs::write(&p, &b).unwrap();
            let errors: Vec<Error> = match HaavVisCtxReader::open(&p) {
                // A file in h5py's default format is checked whole as it is opened.
                Err(e) => vec![e],
                Ok(r) => [5, 6].iter().filter_map(|&id| r.get(id).err()).collect(),
            };
            assert_eq!(errors.len(), 1, "{what} of the node at {node}: one image fails");
            assert!(damaged(&errors[0]), "{what} of the node at {node}: {}", errors[0]);
            assert!(errors[0].to_string().contains("chunk index"), "{}", errors[0]);
        }
    }
    // The file as written reads as before.
    let again = HaavVisCtxReader::open(&path).unwrap().preload().unwrap();
    assert_eq!(again.pooled, whole.pooled);
}

#[test]
fn damaged_chunk_b_trees_of_our_caption_database_are_damage_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caption_db.h5");
    let mut rng = Rng::new(10);
    let prov = Provenance::new("damaged_on_open", "{}");
    let mut w =
        CaptionDbWriter::create(&path, CaptionLayout::Contiguous, 4, 8, &prov, true).unwrap();
    let captions: Vec<String> = (0..20).map(|i| format!("a phrase {i}")).collect();
    w.write_batch(&rng.vec_f32(20 * 4), &rng.vec_f32(20 * 8), &captions).unwrap();
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let nodes = chunk_nodes(&bytes);
    assert!(nodes.len() >= 3, "keys, features and captions are chunked: {nodes:?}");
    assert_eq!(CaptionDb::open(&path).unwrap().load().unwrap().captions, captions);
    for &node in &nodes {
        let mut b = bytes.clone();
        b[node..node + 4].fill(0);
        let p = dir.path().join(format!("signature-{node}.h5"));
        std::fs::write(&p, &b).unwrap();
        // Opening the database reads its first rows already.
        let e = CaptionDb::open(&p).and_then(|db| db.load()).unwrap_err();
        assert!(damaged(&e) && e.to_string().contains("chunk index"), "node at {node}: {e}");
    }
}
