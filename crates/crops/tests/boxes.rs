//! Crop boxes against the Python reference (`boxes_reference.py` beside this file) for a table of
//! sizes, and every size up to 3000 against the reference's nine-crop rows.

use std::path::Path;

use serde_json::{Value, json};
use test_support::run_python_json;

fn reference(sizes: &[(u32, u32)]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boxes_reference.py");
    let args: Vec<String> =
        sizes.iter().flat_map(|(w, h)| [w.to_string(), h.to_string()]).collect();
    let refs: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
    run_python_json(&script, &refs)
}

fn ours(w: u32, h: u32) -> Value {
    let five: Vec<[u32; 4]> = crops::five(w, h).iter().map(|b| b.to_array()).collect();
    let nine: Vec<[u32; 4]> = crops::nine(w, h).iter().map(|b| b.to_array()).collect();
    json!({"size": [w, h], "five": five, "nine": nine})
}

#[test]
fn boxes_equal_the_python_reference() {
    let mut sizes = vec![
        (1, 1),
        (2, 3),
        (7, 5),
        (224, 224),
        (333, 501),
        (501, 333),
        (640, 480),
        (640, 427),
        (480, 640),
        (741, 500),
        (3000, 90),
        (90, 3000),
        (100, 90),
        (5000, 11),
        (225, 223),
        (1024, 768),
        (299, 299),
        (17, 4096),
    ];
    // Every height (and width) below 3000 against a fixed other side: where f64 truncation bites.
    sizes.extend((1..3000).map(|h| (640, h)));
    sizes.extend((1..3000).step_by(7).map(|w| (w, 480)));
    let want = reference(&sizes);
    let got: Vec<Value> = sizes.iter().map(|&(w, h)| ours(w, h)).collect();
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len(), "the reference answered for another number of sizes");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w);
    }
}
