//! `datasets` against a Python mirror of the original (`mirror.py` beside this file), on fixtures
//! in the real formats that the same script writes.

use std::path::{Path, PathBuf};

use datasets::{Error, karpathy_images, missing_images, phrase_database};
use serde_json::{Value, json};
use test_support::{run_python, run_python_json};

fn mirror() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mirror.py")
}

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_python(&mirror(), &[&"fixtures", &dir.path()]);
    dir
}

fn as_json(images: &[datasets::CocoImage]) -> Value {
    json!(
        images
            .iter()
            .map(|i| json!({"id": i.id, "path": i.path.to_str().unwrap(), "captions": i.captions}))
            .collect::<Vec<_>>()
    )
}

#[test]
fn coco_images_equal_the_mirror_and_pycocotools() {
    let dir = fixtures();
    let root = dir.path().join("coco");
    let images = karpathy_images(&root).unwrap();
    let ours = as_json(&images);
    assert_eq!(ours, run_python_json(&mirror(), &[&"coco", &root]));
    assert_eq!(ours, run_python_json(&mirror(), &[&"coco-pycocotools", &root]));
    // Ascending ids; the unlisted train image 77 and val image 133 are skipped.
    let ids: Vec<u64> = images.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![9, 25, 30, 34, 42, 73, 74, 531912]);
    assert_eq!(images[0].captions, vec!["A dog on a couch.\n", "  Two   spaces  and a tab\t"]);
    assert!(images[7].path.ends_with("val2014/COCO_val2014_000000531912.jpg"));
    missing_images(&images).unwrap();
}

#[test]
fn coco_errors_name_the_file() {
    let dir = fixtures();
    let root = dir.path().join("coco");
    std::fs::remove_file(root.join("val2014/COCO_val2014_000000000073.jpg")).unwrap();
    std::fs::remove_file(root.join("train2014/COCO_train2014_000000000009.jpg")).unwrap();
    let images = karpathy_images(&root).unwrap();
    match missing_images(&images) {
        Err(Error::MissingImages { missing }) => assert_eq!(missing.len(), 2),
        other => panic!("{other:?}"),
    }

    // An annotation id that the caption file does not hold.
    run_python(
        &mirror(),
        &[&"fixtures", &dir.path()], // fresh copy, then break the dev split
    );
    let dev = root.join("annotations/coco_dev_ids.npy");
    test_support::run_python_code(
        "import sys, numpy as np; np.save(sys.argv[1], np.array([202, 999], dtype=np.int64))",
        &[&dev],
    );
    let e = karpathy_images(&root).unwrap_err();
    assert!(matches!(e, Error::UnknownAnnotation { id: 999, .. }), "{e:?}");
    assert!(
        e.to_string().contains("coco_dev_ids.npy")
            && e.to_string().contains("captions_val2014.json")
    );

    let train = root.join("annotations/captions_train2014.json");
    std::fs::write(&train, "{\"images\": [\n  {\"id\": 1,, }]}").unwrap();
    let e = karpathy_images(&root).unwrap_err();
    assert!(matches!(e, Error::Json { line: 2, .. }), "{e:?}");
    assert!(e.to_string().starts_with(&format!("{}:2:", train.display())), "{e}");

    std::fs::remove_file(&train).unwrap();
    let e = karpathy_images(&root).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("captions_train2014.json"));
}

#[test]
fn phrase_database_equals_the_mirror() {
    let dir = fixtures();
    let (a, r) = (dir.path().join("vg/attributes.json"), dir.path().join("vg/relationships.json"));
    let ours = phrase_database(&a, &r).unwrap();
    let want: Vec<String> =
        serde_json::from_value(run_python_json(&mirror(), &[&"vg", &a, &r])).unwrap();
    assert_eq!(ours, want);
    // The quirk: "animal" got "small" as a new name sharing the record's set, then "brown";
    // "dog" was known, so it got "small" by |= ... and "animal"'s later "brown" is not dog's.
    assert!(ours.contains(&"brown animal".to_owned()) && ours.contains(&"small dog".to_owned()));
    // person was new in the "happy" record with man and s: the later |= {"tall"} reaches all.
    assert!(ours.contains(&"tall man".to_owned()) && ours.contains(&"tall s".to_owned()));
    assert!(ours.contains(&"green tree".to_owned()) && ours.contains(&"tall tree".to_owned()));
    assert!(!ours.iter().any(|p| p.starts_with(' ') || p.contains('\u{7}')));
}

#[test]
fn malformed_vg_json_names_line_and_column_and_writes_nothing() {
    let dir = fixtures();
    let (a, r) = (dir.path().join("vg/attributes.json"), dir.path().join("vg/relationships.json"));
    let text = std::fs::read_to_string(&r).unwrap();
    std::fs::write(&r, text.replacen("\"predicate\": \"ON\",", "\"predicate\": \"ON\" oops", 1))
        .unwrap();
    let e = phrase_database(&a, &r).unwrap_err();
    match &e {
        Error::Json { path, line, column, .. } => {
            assert_eq!(path, &r);
            assert!(*line > 1 && *column > 1, "{e}");
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(&a, "{\"not\": \"an array\"}").unwrap();
    let e = phrase_database(&a, &r).unwrap_err();
    assert!(e.to_string().contains("a JSON array"), "{e}");
}
