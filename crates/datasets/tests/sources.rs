//! The image sources (`--images SOURCE`) on fixtures of each format made by
//! `scripts/make_sources.py`: ids, paths and order equal both the script's manifest and
//! `mirror.py source` (each format read as Python code reads it); bad input is a one-line error
//! naming the file and the entry.

use std::path::{Path, PathBuf};

use datasets::{Error, ImageSource, Location, SourceOptions, karpathy_captions};
use serde_json::Value;
use test_support::{run_python, run_python_json, workspace_root};

struct Fixtures {
    dir: tempfile::TempDir,
    manifest: Value,
}

impl Fixtures {
    fn new() -> Fixtures {
        let dir = tempfile::tempdir().unwrap();
        run_python(&workspace_root().join("scripts/make_sources.py"), &[&dir.path()]);
        let manifest = std::fs::read(dir.path().join("manifest.json")).unwrap();
        Fixtures { manifest: serde_json::from_slice(&manifest).unwrap(), dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The manifest's `[{id, path}]` of a source, paths made absolute.
    fn expected(&self, name: &str) -> Vec<(String, PathBuf)> {
        self.manifest[name]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["id"].as_str().unwrap().to_owned(), self.path(i["path"].as_str().unwrap())))
            .collect()
    }

    fn mirror(&self, args: &[&str]) -> Vec<(String, PathBuf)> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mirror.py");
        let mut a: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"source"];
        a.extend(args.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>));
        let v = run_python_json(&script, &a);
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (i["id"].as_str().unwrap().to_owned(), PathBuf::from(i["path"].as_str().unwrap()))
            })
            .collect()
    }
}

fn listed(source: &str, opts: &SourceOptions) -> Vec<(String, PathBuf)> {
    let source: ImageSource = source.parse().unwrap();
    let images = source.images(opts).unwrap();
    images.into_iter().map(|i| (i.id, i.location.display_path())).collect()
}

fn root(dir: PathBuf) -> SourceOptions {
    SourceOptions { image_root: Some(dir), splits: None }
}

#[test]
fn each_source_lists_its_images_in_its_order() {
    let f = Fixtures::new();
    let p = |rel: &str| f.path(rel).display().to_string();

    let coco = listed(&format!("karpathy:{}", p("karpathy_coco.json")), &root(f.path("coco")));
    assert_eq!(coco, f.expected("karpathy_coco"));
    assert_eq!(coco, f.mirror(&["karpathy", &p("karpathy_coco.json"), &p("coco")]));
    assert_eq!(coco[0].0, "391895"); // cocoid, in the file's order (not sorted)

    let flickr =
        listed(&format!("karpathy:{}", p("karpathy_flickr.json")), &root(f.path("flickr")));
    assert_eq!(flickr, f.expected("karpathy_flickr"));
    assert_eq!(flickr, f.mirror(&["karpathy", &p("karpathy_flickr.json"), &p("flickr")]));
    assert_eq!(flickr[0].0, "1000092795"); // the file name's stem

    let test =
        listed(&format!("coco-json:{}", p("image_info_test.json")), &root(f.path("test2014")));
    assert_eq!(test, f.expected("coco_json"));
    assert_eq!(test, f.mirror(&["coco-json", &p("image_info_test.json"), &p("test2014")]));

    let folder = listed(&format!("folder:{}", p("folder")), &SourceOptions::default());
    assert_eq!(folder, f.expected("folder"));
    assert_eq!(folder, f.mirror(&["folder", &p("folder")]));
    let ids: Vec<&str> = folder.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, ["photo", "zebra", "beach", "chelsea-01", "tabby_2", "last"]);

    let list = listed(&format!("list:{}", p("list.txt")), &SourceOptions::default());
    assert_eq!(list, f.expected("list"));
    assert_eq!(list, f.mirror(&["list", &p("list.txt")]));

    let pattern = p("wds/{00000..00001}.tar");
    let wds = listed(&format!("wds:{pattern}"), &SourceOptions::default());
    assert_eq!(wds, f.expected("wds"));
    assert_eq!(wds, f.mirror(&["wds", &pattern]));
    // The caption-only sample 000000002 is left out; ids keep their zeros.
    assert_eq!(
        wds.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>()[..3],
        ["000000000", "000000001", "000000003"]
    );
}

#[test]
fn karpathy_splits_and_captions() {
    let f = Fixtures::new();
    let file = f.path("karpathy_coco.json");
    let opts = SourceOptions {
        image_root: Some(f.path("coco")),
        splits: Some(vec!["train".into(), "restval".into()]),
    };
    let got = listed(&format!("karpathy:{}", file.display()), &opts);
    let want: Vec<(String, PathBuf)> = f
        .expected("karpathy_coco")
        .into_iter()
        .zip(f.manifest["karpathy_coco"]["images"].as_array().unwrap())
        .filter(|(_, m)| ["train", "restval"].contains(&m["split"].as_str().unwrap()))
        .map(|(x, _)| x)
        .collect();
    assert_eq!(want.len(), 3);
    assert_eq!(got, want);
    let root = f.path("coco").display().to_string();
    assert_eq!(got, f.mirror(&["karpathy", &file.display().to_string(), &root, "train,restval"]));

    let splits = ["train".to_owned(), "restval".to_owned()];
    let caps = karpathy_captions(&file, Some(&splits)).unwrap();
    let want: Vec<(String, String)> = f.manifest["karpathy_coco_captions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| splits.contains(&c["split"].as_str().unwrap().to_owned()))
        .map(|c| (c["text"].as_str().unwrap().into(), c["image_id"].as_str().unwrap().into()))
        .collect();
    let got: Vec<(String, String)> = caps.into_iter().map(|c| (c.text, c.image_id)).collect();
    assert_eq!(got, want);
    assert_eq!(got.len(), 4);
}

#[test]
fn tar_members_are_read_in_place() {
    let f = Fixtures::new();
    let source: ImageSource =
        format!("wds:{}", f.path("wds/{00000..00001}.tar").display()).parse().unwrap();
    let images = source.images(&SourceOptions::default()).unwrap();
    let first = &images[0];
    let Location::TarMember { tar, member, .. } = &first.location else { panic!("{first:?}") };
    assert_eq!(member, "000000000.jpg");
    // The bytes equal the member's as Python's tarfile extracts them.
    let code = "import sys, tarfile; sys.stdout.write(tarfile.open(sys.argv[1]).extractfile(sys.argv[2]).read().hex())";
    let hex = test_support::run_python_code(code, &[tar, member]);
    let bytes = first.location.read().unwrap();
    let ours: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(ours, hex.trim());
    assert_eq!(&bytes[..2], [0xFF, 0xD8]);
    // Whole tar files: the second shard alone.
    let second = datasets::wds_images(&[f.path("wds/00001.tar")]).unwrap();
    assert_eq!(
        second.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["000010000", "000010001", "000010002"]
    );
}

/// The error's text: one line that starts with the file and names the entry.
fn one_line(e: &Error, file: &Path, entry: &str) -> String {
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains(entry), "{text}");
    text
}

#[test]
fn bad_input_is_a_one_line_error_naming_file_and_entry() {
    let f = Fixtures::new();
    let load =
        |s: String, opts: &SourceOptions| s.parse::<ImageSource>().and_then(|s| s.images(opts));

    // Malformed JSON: the file, line and column.
    let bad = f.path("bad.json");
    std::fs::write(&bad, "{\"images\": [\n {\"filename\": \"a.jpg\",, }]}").unwrap();
    let e = load(format!("karpathy:{}", bad.display()), &root(f.path(""))).unwrap_err();
    assert!(matches!(e, Error::Json { line: 2, .. }), "{e:?}");
    one_line(&e, &bad, ":2:");

    // A Karpathy entry without `filename`.
    let text = std::fs::read_to_string(f.path("karpathy_flickr.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["images"][2].as_object_mut().unwrap().remove("filename");
    std::fs::write(&bad, doc.to_string()).unwrap();
    let e = load(format!("karpathy:{}", bad.display()), &root(f.path(""))).unwrap_err();
    assert_eq!(
        one_line(&e, &bad, "images[2]"),
        format!("{}: images[2]: no `filename`", bad.display())
    );

    // A COCO list entry without `file_name`.
    std::fs::write(&bad, r#"{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2}]}"#).unwrap();
    let e = load(format!("coco-json:{}", bad.display()), &root(f.path(""))).unwrap_err();
    one_line(&e, &bad, "images[1]: no `file_name`");

    // A listed image that does not exist: all the missing ones, the first named.
    let list = f.path("list.txt");
    std::fs::write(&list, "folder/beach.jpg\nfolder/gone.jpg\n").unwrap();
    let images = load(format!("list:{}", list.display()), &SourceOptions::default()).unwrap();
    let e = datasets::missing_source_images(&images).unwrap_err();
    one_line(&e, &f.path("folder/gone.jpg"), "1 listed images are missing");

    // A list line with an empty id.
    std::fs::write(&list, "folder/beach.jpg\n\tfolder/x.jpg\n").unwrap();
    let e = load(format!("list:{}", list.display()), &SourceOptions::default()).unwrap_err();
    one_line(&e, &list, "line 2");

    // A tar cut inside a member's data.
    let tar = f.path("truncated.tar");
    let member = f.manifest["truncated"]["member"].as_str().unwrap();
    let e = load(format!("wds:{}", tar.display()), &SourceOptions::default()).unwrap_err();
    assert!(one_line(&e, &tar, member).contains("truncated"), "{e}");

    // Empty sources.
    let empty = f.path("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join("sub/readme.txt"), "no images").unwrap();
    let e = load(format!("folder:{}", empty.display()), &SourceOptions::default()).unwrap_err();
    assert!(matches!(e, Error::EmptySource { .. }));
    one_line(&e, &empty, "no images");
    std::fs::write(&list, "# nothing\n\n").unwrap();
    let e = load(format!("list:{}", list.display()), &SourceOptions::default()).unwrap_err();
    one_line(&e, &list, "no images");

    // Two images with one stem.
    std::fs::write(empty.join("sub/cat.jpg"), b"x").unwrap();
    std::fs::write(empty.join("cat.png"), b"x").unwrap();
    let e = load(format!("folder:{}", empty.display()), &SourceOptions::default()).unwrap_err();
    let text = one_line(&e, &empty.join("cat.png"), "id cat");
    assert!(text.contains(&empty.join("sub/cat.jpg").display().to_string()), "{text}");

    // A shard pattern naming a missing file; an unknown kind; a source needing --image-root.
    let e = load(
        format!("wds:{}", f.path("wds/{00000..00002}.tar").display()),
        &SourceOptions::default(),
    )
    .unwrap_err();
    one_line(&e, &f.path("wds/00002.tar"), "1 of its shards are missing");
    let e = "zip:x".parse::<ImageSource>().unwrap_err();
    assert!(e.to_string().contains("unknown kind"), "{e}");
    let e = load(format!("coco-json:{}", bad.display()), &SourceOptions::default()).unwrap_err();
    assert!(e.to_string().contains("--image-root"), "{e}");
}

#[test]
fn text_databases() {
    let f = Fixtures::new();
    let texts = |s: &str| s.parse::<datasets::TextSource>().unwrap().texts(None);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect()
    };

    let txt = texts(&f.path("texts.txt").display().to_string()).unwrap();
    assert_eq!(
        txt.iter().map(|t| t.text.clone()).collect::<Vec<_>>(),
        strings(&f.manifest["texts_txt"]["texts"])
    );
    assert!(txt.iter().all(|t| t.source.is_none()));
    // One of each, sorted, as the original's sorted set.
    let d = datasets::dedup(txt);
    assert_eq!(
        d.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        ["a cat on a sofa", "a red bus", "two dogs playing"]
    );

    let jsonl = texts(&f.path("texts.jsonl").display().to_string()).unwrap();
    let m = &f.manifest["texts_jsonl"];
    assert_eq!(jsonl.iter().map(|t| t.text.clone()).collect::<Vec<_>>(), strings(&m["texts"]));
    let sources: Vec<String> = jsonl.iter().map(|t| t.source.clone().unwrap_or_default()).collect();
    assert_eq!(sources, strings(&m["sources"]));
    // The kept copy of a repeated text has its first occurrence's source.
    let d = datasets::dedup(jsonl);
    let wave = d.iter().find(|t| t.text == "a man riding a wave").unwrap();
    assert_eq!(wave.source.as_deref(), Some("391895"));
    assert_eq!(d.len(), 3);

    let k = format!("karpathy:{}", f.path("karpathy_coco.json").display());
    let caps = texts(&k).unwrap();
    assert_eq!(caps.len(), f.manifest["karpathy_coco_captions"].as_array().unwrap().len());
    assert_eq!(caps[0].source.as_deref(), Some("391895"));

    // A bad line names the file and the line; an empty database is an error.
    let bad = f.path("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"ok\"}\n{\"txt\": \"no text\"}\n").unwrap();
    let e = texts(&bad.display().to_string()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: line 2: no `text`", bad.display()));
    std::fs::write(&bad, "{\"text\": \"ok\"}\n{\"text\": \"unclosed}\n").unwrap();
    let e = texts(&bad.display().to_string()).unwrap_err();
    one_line(&e, &bad, "line 2: column");
    std::fs::write(&bad, "\n\n").unwrap();
    let e = texts(&bad.display().to_string()).unwrap_err();
    assert!(matches!(e, Error::EmptySource { .. }), "{e}");
    one_line(&e, &bad, "no texts");
}

#[test]
fn a_split_no_image_is_in_is_an_error_naming_the_file_and_its_splits() {
    let f = Fixtures::new();
    let file = f.path("karpathy_coco.json");
    let splits = vec!["train".to_owned(), "tset".to_owned()];
    let opts = SourceOptions { image_root: Some(f.path("coco")), splits: Some(splits.clone()) };
    let e = format!("karpathy:{}", file.display())
        .parse::<ImageSource>()
        .and_then(|s| s.images(&opts))
        .unwrap_err();
    let text = one_line(&e, &file, "\"tset\"");
    assert!(text.ends_with("(its splits: test, train, restval, val)"), "{text}");
    let e = karpathy_captions(&file, Some(&splits)).unwrap_err();
    assert!(matches!(e, Error::UnknownSplit { .. }), "{e}");
}
