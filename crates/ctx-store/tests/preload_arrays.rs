//! `TxtCtxReader::preload_arrays` (floats read into place, texts packed per view) against the
//! images as `preload_ids` reads them: every view, all texts and the first few, the file's
//! order and a given one, with and without texts; a shorter image is a shape error, a text
//! that is not UTF-8 damage.

mod common;

use ctx_store::{Error, Provenance, TxtArrays, TxtCtxReader, TxtCtxWriter, TxtEntry, View};
use test_support::Rng;

fn entries(rng: &mut Rng, n: usize, k: usize, d: usize) -> Vec<TxtEntry> {
    (0..n as u64)
        .map(|i| TxtEntry {
            id: (3 + 7 * i).into(),
            whole: common::random_view(rng, 1, k, d),
            five: common::random_view(rng, 5, k, d),
            nine: common::random_view(rng, 9, k, d),
        })
        .collect()
}

/// Image `i` of view `v` of `a` equals the first `k` texts per crop of `e`.
fn assert_image(a: &TxtArrays, i: usize, e: &TxtEntry, k: usize, texts: bool) {
    for (v, view) in a.views.iter().zip(View::ALL) {
        let want = e.view(view).select(None, Some(k)).expect("held");
        let (rows, d) = (v.crops * v.k, v.d);
        assert_eq!((v.crops, v.k, d), (want.crops, want.k, want.d), "{} {view}", e.id);
        assert_eq!(&v.features[i * rows * d..(i + 1) * rows * d], &want.features[..]);
        assert_eq!(&v.scores[i * rows..(i + 1) * rows], &want.scores[..]);
        match &v.texts {
            Some(t) => {
                assert!(texts);
                let got: Vec<&[u8]> = (i * rows..(i + 1) * rows).map(|j| t.get(j)).collect();
                let want: Vec<&[u8]> = want.texts.iter().map(|s| s.as_bytes()).collect();
                assert_eq!(got, want, "{} {view}", e.id);
            }
            None => assert!(!texts),
        }
    }
}

#[test]
fn arrays_equal_the_entries_in_every_order_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txt.h5");
    let mut rng = Rng::new(11);
    let (k, d) = (3, 4);
    let all = entries(&mut rng, 700, k, d);
    let mut w =
        TxtCtxWriter::create(&path, &Provenance::new("preload-arrays-test", "{}"), false).unwrap();
    for batch in all.chunks(256) {
        w.write_batch(batch).unwrap();
    }
    w.finish().unwrap();
    let r = TxtCtxReader::open(&path).unwrap();
    let ids = r.ids().unwrap();
    assert_eq!(r.preload_ids(&ids).unwrap(), all);

    let full = r.preload_arrays(&ids, [(k, d); 3], true).unwrap().expect("h5py's layout");
    for (i, e) in all.iter().enumerate() {
        assert_image(&full, i, e, k, true);
    }
    for v in &full.views {
        let t = v.texts.as_ref().unwrap();
        assert_eq!(t.len(), all.len() * v.crops * k);
        assert_eq!(t.offsets.last().copied(), Some(t.bytes.len() as u64));
    }
    // Some images, backwards, the first text per crop, without texts and with.
    let some: Vec<usize> = (0..all.len()).rev().step_by(3).collect();
    let some_ids: Vec<ctx_store::ImageId> = some.iter().map(|&i| all[i].id.clone()).collect();
    for texts in [false, true] {
        let cut = r.preload_arrays(&some_ids, [(1, d); 3], texts).unwrap().unwrap();
        for (j, &i) in some.iter().enumerate() {
            assert_image(&cut, j, &all[i], 1, texts);
        }
    }
    // More texts per crop than the file holds, or another feature size: every image fails,
    // and the error names the first in the order given, though images are read in parallel.
    for shape in [[(k + 1, d); 3], [(k, d + 1); 3]] {
        let all_ids: Vec<ctx_store::ImageId> = ids.iter().map(|&i| i.into()).collect();
        for order in [&all_ids[..], &some_ids[..]] {
            let first = order[0].to_string();
            match r.preload_arrays(order, shape, false) {
                Err(Error::Shape { object, .. }) => {
                    assert_eq!(object, format!("{first}/whole/features"))
                }
                other => panic!("expected a shape error, got {:?}", other.map(|a| a.is_some())),
            }
        }
    }
}

#[test]
fn a_text_that_is_not_utf8_is_damage_naming_its_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("txt.h5");
    let mut rng = Rng::new(12);
    let mut all = entries(&mut rng, 40, 2, 3);
    all[17].five.texts[3] = "a marker é of this text".into();
    let mut w =
        TxtCtxWriter::create(&path, &Provenance::new("preload-arrays-test", "{}"), false).unwrap();
    w.write_batch(&all).unwrap();
    w.finish().unwrap();
    let r = TxtCtxReader::open(&path).unwrap();
    let ids = r.ids().unwrap();
    assert!(r.preload_arrays(&ids, [(2, 3); 3], true).unwrap().is_some());

    // The second byte of the marker's "é" overwritten: that text is no longer UTF-8.
    let mut bytes = std::fs::read(&path).unwrap();
    let marker = "a marker é".as_bytes();
    let at = bytes.windows(marker.len()).position(|w| w == marker).expect("the marker");
    bytes[at + marker.len() - 1] = b'!';
    std::fs::write(&path, &bytes).unwrap();
    let r = TxtCtxReader::open(&path).unwrap();
    match r.preload_arrays(&ids, [(2, 3); 3], true) {
        Err(Error::Damaged { object, reason, .. }) => {
            assert_eq!(object, format!("{}/five/texts", all[17].id));
            assert!(reason.contains("UTF-8"), "{reason}");
        }
        other => panic!("expected damage, got {:?}", other.map(|a| a.is_some())),
    }
    // Without the texts the floats read as before.
    assert!(r.preload_arrays(&ids, [(2, 3); 3], false).unwrap().is_some());
}
