//! Bad images get a clear error naming the file, no panic and no unbounded allocation.

use std::path::Path;

use crops::{Error, decode};

fn png_header(width: u32, height: u32) -> Vec<u8> {
    // Signature + IHDR only (CRC left zero: the header is read before any check of the data).
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0]);
    let crc = crc32(&v[12..]);
    v.extend_from_slice(&crc.to_be_bytes());
    // A tiny IDAT (an empty zlib stream) and IEND: a bomb is a small valid-looking file.
    for (kind, body) in [(&b"IDAT"[..], &b"\x78\x9c\x03\x00\x00\x00\x00\x01"[..]), (b"IEND", b"")] {
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let start = v.len();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        let crc = crc32(&v[start..]);
        v.extend_from_slice(&crc.to_be_bytes());
    }
    v
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn skimage_rocket() -> Vec<u8> {
    let py = test_support::run_python_code(
        "import skimage, pathlib; print(pathlib.Path(skimage.__file__).parent / 'data' / 'rocket.jpg')",
        &[],
    );
    std::fs::read(py.trim()).unwrap()
}

#[test]
fn empty_foreign_truncated_and_bomb_files() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let named = |e: &Error, p: &Path| e.to_string().starts_with(&p.display().to_string());
    let decode = |p: &Path| match decode(p) {
        Ok(img) => panic!("{} decoded to {}x{}", p.display(), img.width, img.height),
        Err(e) => e,
    };

    let p = write("empty.jpg", b"");
    let e = decode(&p);
    assert!(matches!(e, Error::Decode { .. }) && named(&e, &p), "{e}");

    let p = write("notes.jpg", b"these are not pixels");
    let e = decode(&p);
    assert!(matches!(e, Error::Decode { .. }) && named(&e, &p), "{e}");

    let rocket = skimage_rocket();
    let p = write("cut.jpg", &rocket[..rocket.len() / 3]);
    let e = decode(&p);
    assert!(matches!(e, Error::Decode { .. }) && named(&e, &p), "{e}");

    let p = write("bomb.png", &png_header(100_000, 100_000));
    let e = decode(&p);
    assert!(matches!(e, Error::TooLarge { width: 100_000, height: 100_000, .. }), "{e:?}");
    assert!(named(&e, &p), "{e}");

    let missing = dir.path().join("missing.jpg");
    let e = decode(&missing);
    assert!(matches!(e, Error::Io { .. }) && named(&e, &missing), "{e}");

    // A 2-pixel-wide image has empty nine crops: an error, not a panic.
    let tiny = crops::RgbImage { width: 2, height: 2, data: vec![0; 12] };
    assert!(matches!(
        crops::ClipPreprocess::default().image_crops(&tiny),
        Err(Error::EmptyCrop { .. })
    ));
}
