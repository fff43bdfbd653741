//! Bad input gets a clear error naming the file and the object, never a panic.

use std::path::Path;

use ctx_store::{CaptionDb, Error, TxtCtxReader, View, VisCtxReader, check, detect};
use test_support::run_python_code;

fn message(e: &Error) -> String {
    e.to_string()
}

#[test]
fn missing_empty_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.hdf5");
    let e = VisCtxReader::open(&missing).err().unwrap();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(message(&e).contains("nope.hdf5") && message(&e).contains("no such file"));

    for (name, bytes) in [("empty.hdf5", &b""[..]), ("text.hdf5", &b"hello, not hdf5 at all"[..])] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        for e in [
            TxtCtxReader::open(&p).err().unwrap(),
            CaptionDb::open(&p).err().unwrap(),
            detect(&p).err().unwrap(),
        ] {
            assert!(matches!(e, Error::NotHdf5 { .. }), "{name}: {e:?}");
            assert_eq!(message(&e), format!("{}: not an HDF5 file", p.display()));
        }
    }
}

fn h5py(dir: &Path, code: &str) -> std::path::PathBuf {
    let p = dir.join("f.h5");
    run_python_code(
        &format!("import sys, h5py, numpy as np\nwith h5py.File(sys.argv[1], 'w') as f:\n{code}"),
        &[&p],
    );
    p
}

#[test]
fn missing_ids_and_wrong_dtypes_and_shapes_name_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let p = h5py(
        dir.path(),
        "    f.attrs['fdim'] = 4\n    f['1'] = np.zeros(4, 'f4')\n    f['2'] = np.zeros(4, 'f8')\n    f['3'] = np.zeros(5, 'f4')\n",
    );
    let r = VisCtxReader::open(&p).unwrap();
    assert_eq!(r.get(1).unwrap(), vec![0.0; 4]);
    let e = r.get(531912).err().unwrap();
    assert!(matches!(&e, Error::Missing { object, .. } if object == "531912"), "{e:?}");
    let e = r.get(2).err().unwrap();
    assert!(matches!(&e, Error::Dtype { object, .. } if object == "2"), "{e:?}");
    assert!(message(&e).contains("float32"), "{e}");
    let e = r.get(3).err().unwrap();
    assert!(matches!(&e, Error::Shape { object, found, .. } if object == "3" && found == &[5]));
    assert!(r.preload().is_err());

    let report = check(&p).unwrap();
    assert_eq!(report.entries, 3);
    let objects: Vec<&str> = report.violations.iter().map(|v| v.object.as_str()).collect();
    assert_eq!(objects, vec!["2", "3"], "{report:?}");
}

#[test]
fn txt_ctx_violations_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let code = "
    def put(g, crops, k, d, fdt='f4', texts=True):
        shape = (k,) if crops == 1 else (crops, k)
        g['features'] = np.zeros(shape + (d,), fdt)
        g['scores'] = -np.arange(np.prod(shape), dtype='f4').reshape(shape)
        if texts:
            g.create_dataset('texts', data=np.array(['t'] * int(np.prod(shape)), dtype=object).reshape(shape), dtype=h5py.string_dtype())
    for i in (1, 2, 3):
        g = f.create_group(str(i))
        put(g.create_group('whole'), 1, 2, 3)
        put(g.create_group('five'), 5, 2, 3, fdt='f8' if i == 2 else 'f4')
        if i != 3:
            put(g.create_group('nine'), 9, 2, 3, texts=i != 1)
";
    let p = h5py(dir.path(), code);
    let r = TxtCtxReader::open(&p).unwrap();
    // The preload that reads the file format itself steps aside for what it does not know
    // (an absent dataset, float64), and the one through HDF5 names the first problem.
    for id in [1, 2, 3, 4] {
        assert!(r.preload_without_hdf5(&[id]).is_none(), "image {id}");
    }
    let e = r.preload().err().unwrap();
    assert!(matches!(&e, Error::Missing { object, .. } if object == "1/nine/texts"), "{e:?}");
    let e = r.view(1, View::Nine, None, None).err().unwrap();
    assert!(matches!(&e, Error::Missing { object, .. } if object == "1/nine/texts"), "{e:?}");
    let e = r.get(2).err().unwrap();
    assert!(matches!(&e, Error::Dtype { object, .. } if object == "2/five/features"), "{e:?}");
    let e = r.view(3, View::Nine, None, None).err().unwrap();
    assert!(matches!(&e, Error::Missing { object, .. } if object == "3/nine"), "{e:?}");
    let e = r.view(1, View::Five, Some(5), None).err().unwrap();
    assert!(matches!(e, Error::Missing { .. }), "{e:?}");

    let report = check(&p).unwrap();
    let objects: Vec<&str> = report.violations.iter().map(|v| v.object.as_str()).collect();
    assert_eq!(objects, vec!["1/nine", "2/five", "3/nine"], "{report:?}");
    assert!(report.violations[1].message.contains("float32"), "{report:?}");
}

#[test]
fn truncated_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = h5py(
        dir.path(),
        "    f.attrs['fdim'] = 256\n    for i in range(200):\n        f[str(i)] = np.ones(256, 'f4')\n",
    );
    let bytes = std::fs::read(&p).unwrap();
    let cut = dir.path().join("cut.h5");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = VisCtxReader::open(&cut).err().unwrap();
    assert!(matches!(e, Error::Truncated { .. }), "{e:?}");
    assert!(message(&e).starts_with(&format!("{}: truncated HDF5 file", cut.display())), "{e}");
}

#[test]
fn unrelated_hdf5_is_not_a_context_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = h5py(dir.path(), "    f['weights'] = np.zeros(3)\n");
    let e = detect(&p).err().unwrap();
    assert!(matches!(e, Error::Schema { .. }), "{e:?}");
    assert!(message(&e).contains("not a context file"), "{e}");
    let p2 = dir.path().join("empty.h5");
    run_python_code("import sys, h5py; h5py.File(sys.argv[1], 'w').close()", &[&p2]);
    assert!(message(&detect(&p2).err().unwrap()).contains("empty"));
}

#[test]
fn big_endian_and_compressed_floats_read_through_hdf5() {
    // Not what the original writes, but valid HDF5 a user may hold: the direct-read path must
    // step aside for them.
    let dir = tempfile::tempdir().unwrap();
    let p = h5py(
        dir.path(),
        "    f.attrs['fdim'] = 3\n    f['1'] = np.array([1.5, -2.0, 3.25], '>f4')\n    f.create_dataset('2', data=np.array([4.0, 5.5, -6.0], 'f4'), compression='gzip')\n",
    );
    let r = VisCtxReader::open(&p).unwrap();
    assert_eq!(r.get(1).unwrap(), vec![1.5, -2.0, 3.25]);
    assert_eq!(r.get(2).unwrap(), vec![4.0, 5.5, -6.0]);
    assert_eq!(r.preload().unwrap().features, vec![1.5, -2.0, 3.25, 4.0, 5.5, -6.0]);
}

/// Asserts that `e` is an [`Error::OutOfRange`] of `object` with `value`, and that its message
/// names the file and the object.
fn assert_out_of_range(e: Error, path: &Path, object: &str, value: i128) {
    let text = e.to_string();
    assert!(
        matches!(&e, Error::OutOfRange { object: o, value: v, .. } if o == object && *v == value),
        "{e:?}"
    );
    assert!(text.starts_with(&path.display().to_string()) && text.contains(object), "{text}");
}

#[test]
fn sizes_read_from_files_are_bounded_before_allocating() {
    // fdim: negative, or far beyond any feature size (reading image 1 would allocate 4 TiB).
    let dir = tempfile::tempdir().unwrap();
    for fdim in [-3i128, 1 << 40] {
        let p = h5py(
            dir.path(),
            &format!("    f.attrs['fdim'] = {fdim}\n    f['1'] = np.zeros(4, 'f4')\n"),
        );
        assert_out_of_range(VisCtxReader::open(&p).err().unwrap(), &p, "/@fdim", fdim);
        assert!(matches!(check(&p).unwrap().violations[..], [ref v] if v.object == "/"));
    }

    // txt_ctx datasets declared with huge shapes and never written (the file stays small).
    let txt = |k: u64, d: u64| {
        format!(
            "
    g = f.create_group('1')
    for view, n in (('whole', 1), ('five', 5), ('nine', 9)):
        vg = g.create_group(view)
        shape = ({k},) if n == 1 else (n, {k})
        vg.create_dataset('features', shape=shape + ({d},), dtype='f4')
        vg.create_dataset('scores', shape=shape, dtype='f4')
        vg.create_dataset('texts', shape=shape, dtype=h5py.string_dtype())
"
        )
    };
    let p = h5py(dir.path(), &txt(1 << 20, 8));
    let e = TxtCtxReader::open(&p).unwrap().get(1).err().unwrap();
    assert_out_of_range(e, &p, "1/whole/features", 1 << 20);
    // k and d each in range, their product (3.6e9 values) not what a small file holds.
    let p = h5py(dir.path(), &txt(60_000, 60_000));
    let e = TxtCtxReader::open(&p).unwrap().preload().err().unwrap();
    assert_out_of_range(e, &p, "1/whole/features", 3_600_000_000);

    // caption_db, both layouts: 2^40 rows declared in chunked datasets no chunk was written of.
    let rows = 1u64 << 40;
    let contiguous = format!(
        "    f.attrs['layout'] = 'xctx-contiguous-v1'
    for name in ('keys', 'features'):
        f.create_dataset(name, shape=({rows}, 8), dtype='f4', chunks=(1024, 8))
    f.create_dataset('captions', shape=({rows},), dtype=h5py.string_dtype(), chunks=(1024,))
"
    );
    let p = h5py(dir.path(), &contiguous);
    assert_out_of_range(CaptionDb::open(&p).err().unwrap(), &p, "keys", (rows * 17).into());
    let original = format!(
        "    g = f.create_group('0')
    for name in ('keys', 'features'):
        g.create_dataset(name, shape=({rows}, 8), dtype='f4', chunks=(1024, 8), compression='gzip')
    g.create_dataset('captions', shape=({rows},), dtype=h5py.string_dtype(), chunks=(1024,))
"
    );
    let p = h5py(dir.path(), &original);
    assert_out_of_range(CaptionDb::open(&p).err().unwrap(), &p, "0/keys", (rows * 17).into());
    // A key size beyond any model's.
    let wide = "    g = f.create_group('0')\n    g['keys'] = np.zeros((1, 70000), 'f4')\n    g['features'] = np.zeros((1, 8), 'f4')\n    g['captions'] = ['a']\n";
    let p = h5py(dir.path(), wide);
    assert_out_of_range(CaptionDb::open(&p).err().unwrap(), &p, "0/keys", 70_000);
}
