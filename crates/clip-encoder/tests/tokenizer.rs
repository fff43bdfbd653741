//! Tokenisation equal to the original's slow CLIPTokenizer (mirrored in slow_tokenizer.py with
//! ftfy 5.8) on tricky text, and to transformers' fast tokenizer wherever ftfy changes nothing.

use clip_encoder::ClipTokenizer;
use test_support::{run_python_with_input, tiny_clip, workspace_root};

fn tricky() -> Vec<String> {
    let mut v: Vec<String> = [
        "white dog",
        "White DOG",
        "  man   riding\thorse \n",
        "caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e",
        "cafe\u{301}",
        "na\u{ef}ve r\u{e9}sum\u{e9}",
        "man's hat",
        "don't",
        "they'll go, we'd see, I'M here, you've, we're",
        "hello, world!!",
        "3.14 apples and 1,000,000 pears",
        "\u{1f600} happy dog \u{1f436}",
        "\u{fb01}sh and \u{fb02}ower",
        "\u{ff26}\u{ff55}\u{ff4c}\u{ff4c}width",
        "\u{201c}quoted\u{201d} \u{2018}single\u{2019}",
        "fish &amp; chips &lt;3",
        "<b>bold</b> &amp;",
        "caf&#233; &#x263A;",
        "fish &amp; <b>chips</b>\nand &amp; peas",
        "huge &#99999999999; ref &#59; &#129;",
        "x\u{7f}y\u{0}z",
        "co-operate e-mail@x.com",
        "\u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30c6}\u{30ad}\u{30b9}\u{30c8}",
        "\u{395}\u{3bb}\u{3bb}\u{3b7}\u{3bd}\u{3b9}\u{3ba}\u{3ac}",
        "",
        "a",
        "ISTANBUL \u{130}stanbul",
        "stra\u{df}e",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(vec!["antidisestablishmentarianism"; 30].join(" "));
    v
}

#[test]
fn equals_the_original_slow_tokenizer() {
    let ckpt = tiny_clip("a");
    let tok = ClipTokenizer::from_file(&ckpt.join("tokenizer.json")).unwrap();
    let texts = tricky();
    let script = workspace_root().join("crates/clip-encoder/tests/slow_tokenizer.py");
    let input = serde_json::to_vec(&texts).unwrap();
    let out = run_python_with_input(&script, &[&ckpt], &input);
    let want: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(want["slow"].as_array().map(Vec::len), Some(texts.len()), "slow ids per text");
    assert_eq!(want["fast"].as_array().map(Vec::len), Some(texts.len()), "fast ids per text");
    let mut fast_differs = 0;
    for (i, text) in texts.iter().enumerate() {
        let got = tok.ids(text).unwrap();
        let slow: Vec<i64> = serde_json::from_value(want["slow"][i].clone()).unwrap();
        let fast: Vec<i64> = serde_json::from_value(want["fast"][i].clone()).unwrap();
        assert_eq!(got, slow, "{text:?}: ours vs the original's slow tokenizer");
        if clip_encoder::fix_text(text) == *text {
            assert_eq!(got, fast, "{text:?}: ours vs transformers' fast tokenizer");
        } else {
            fast_differs += (got != fast) as usize;
        }
    }
    // The fast tokenizer lacks ftfy: the table must include texts where that shows.
    assert!(fast_differs >= 3, "only {fast_differs} texts exercise ftfy");
}

#[test]
fn batch_cuts_to_75_and_pads_with_zero() {
    let tok = ClipTokenizer::from_file(&tiny_clip("a").join("tokenizer.json")).unwrap();
    let long = vec!["dog"; 100].join(" ");
    let b = tok.batch(&["white dog", long.as_str()]).unwrap();
    assert_eq!((b.rows, b.len), (2, 75));
    assert_eq!(
        &b.ids[..4],
        &[49406, tok.ids("white").unwrap()[1], tok.ids("dog").unwrap()[1], 49407]
    );
    assert!(b.ids[4..75].iter().all(|&i| i == 0));
    assert_eq!(b.mask[..75].iter().sum::<i64>(), 4);
    assert_eq!(b.mask[75..].iter().sum::<i64>(), 75);
    assert!(!b.ids[75..].contains(&49407), "the long row loses its end token");
}
