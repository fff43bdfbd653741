//! The normaliser against ftfy 5.8 itself (`ftfy_reference.py`, run here): HTML entities and
//! character references of every kind, the switch that leaves entities alone after a line with
//! `<` and `>`, and the other steps; and the committed tables against a fresh run of their
//! generator (`gen_ftfy_tables.py`) on the pinned ftfy.

use std::path::Path;

use test_support::{run_python, run_python_with_input};

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

/// `ftfy.fix_text` of each text.
fn ftfy(texts: &[String]) -> Vec<String> {
    let input = serde_json::to_vec(texts).unwrap();
    let out = run_python_with_input(&script("ftfy_reference.py"), &[], &input);
    let fixed: Vec<String> = serde_json::from_str(&out).unwrap();
    assert_eq!(fixed.len(), texts.len(), "ftfy_reference.py answered for another number of texts");
    fixed
}

/// Numeric character references at every boundary of Python's `html.unescape`: the C1 range
/// (Windows-1252, its five holes), dropped code points, surrogates, non-characters, the end of
/// Unicode and numbers of any length (Python's integers have no limit), in decimal and hex.
fn char_refs() -> Vec<String> {
    let mut n: Vec<u128> = (0..=0xa0).collect();
    n.extend([0xad, 0x3b, 0x26, 0x3c, 0x3e, 0x2028, 0x2029, 0x85, 0xfeff, 0xfff9, 0xfffd]);
    n.extend((0xd7fe..=0xd801).chain(0xdbff..=0xdc01).chain(0xdffe..=0xe001));
    n.extend((0xfdcf..=0xfdf0).chain(0xfffc..=0x10000));
    n.extend((1..=0x10).flat_map(|p| [p * 0x10000 - 2, p * 0x10000 - 1, p * 0x10000]));
    n.extend([0x10fffd, 0x10fffe, 0x10ffff, 0x110000, 0x110001, 0xffff_ffff, 0x1_0000_0000]);
    n.extend([99_999_999_999, u128::from(u64::MAX), u128::from(u64::MAX) + 1]);
    let mut v: Vec<String> = n
        .iter()
        .flat_map(|n| [format!("&#{n};"), format!("&#x{n:x};"), format!("a&#X{n:X};b")])
        .collect();
    v.extend([
        format!("&#{};", "9".repeat(24)),  // the longest match, 24 digits
        format!("&#{};", "9".repeat(25)),  // too long to match
        format!("&#x{};", "f".repeat(23)), // x + 23 digits
        format!("&#{}65;", "0".repeat(22)),
        "&#x;".into(),
        "&#;".into(),
        "&#12ab;".into(),
        "&#x41g;".into(),
        "&#65".into(),
        "&#38;amp;".into(),
        "&#38;#59;".into(),
        "&#x26;lt;".into(),
    ]);
    v
}

/// Entities: the table's, case variants, unknown names, names too long to match.
fn entities() -> Vec<String> {
    [
        "fish &amp; chips &lt;3",
        "&AMP; &Amp; &aMp; &EACUTE; &Eacute; &eacute; &nTILDE; &NTILDE;",
        "P&EACUTE;REZ BUNDESSTRA&SZLIG;E &Jscr;ohn &HilbertSpace;",
        "&checkmark; &nbsp;&NBSP; &hellip; &rsquo;&RSQUO;",
        "&notanentity; &amp &; & amp; &&amp;;",
        "&CounterClockwiseContourIntegral; &ClockwiseContourIntegral;",
        "&amp;amp; &amp;lt;",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Texts with `<` and `>`: on which line they appear decides, for that line and every later one.
fn angle_brackets() -> Vec<String> {
    [
        "<b>bold</b> &amp;",
        "a < b &amp; c",
        "a > b &amp; c",
        "&amp;\n<b>\n&amp;",
        "<b>\n&amp;",
        "&amp; <\n> &amp;\n&amp;",
        "&lt;b&gt; &amp;\n&amp;",
        "&amp;\n&amp;\n&amp; <i>\n&amp;\n\n&amp;",
        "one &amp;\r\ntwo <x>\r\nthree &amp;",
        "x\u{2028}<b>\u{2028}&amp;",
        "<\n>\n&amp;",
        "&amp;\n",
        "\n\n&amp;<>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The other steps, alone and together with entities.
fn others() -> Vec<String> {
    [
        "  white\t\tdog \n",
        "\u{fb01}ne \u{ff24}og \u{ff26}\u{ff55}\u{ff4c}\u{ff4c}width \u{3000}",
        "\u{201c}it\u{2019}s\u{201d} \u{2018}x\u{201b} \u{2bc}",
        "a\u{7f}b\u{0}c\u{1b}d\u{feff}e\u{200b}f\u{206a}g\u{fffa}h",
        "\u{1b}[31mred\u{1b}[0m \u{1b}[1;32;40mgreen \u{1b}[ nope",
        "cafe\u{301} &#101;&#769; &eacute;",
        "line\r\nbreaks\rand\u{85}more\u{2029}end",
        "&#x1b;[31mred",
        "\u{fb03}&amp;\u{fb04}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn fix_text_equals_ftfy() {
    let texts: Vec<String> =
        [char_refs(), entities(), angle_brackets(), others()].into_iter().flatten().collect();
    let want = ftfy(&texts);
    let mut differ = Vec::new();
    for (text, want) in texts.iter().zip(&want) {
        let got = clip_encoder::fix_text(text);
        if got != *want {
            differ.push(format!("{text:?}: ours {got:?}, ftfy {want:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} texts differ from ftfy 5.8:\n{}",
        differ.len(),
        texts.len(),
        differ.join("\n")
    );
    // The table exercises both decisions: texts ftfy changes and texts it leaves as they are.
    let changed = texts.iter().zip(&want).filter(|(t, w)| t != w).count();
    assert!(changed > texts.len() / 2 && changed < texts.len(), "{changed} of {}", texts.len());
}

#[test]
fn committed_tables_equal_a_fresh_generation() {
    let fresh = run_python(&script("gen_ftfy_tables.py"), &[]);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ftfy_tables.rs");
    let committed = std::fs::read_to_string(&path).unwrap();
    if fresh != committed {
        let (f, c): (Vec<_>, Vec<_>) = (fresh.lines().collect(), committed.lines().collect());
        let at = f.iter().zip(&c).position(|(a, b)| a != b).unwrap_or(f.len().min(c.len()));
        panic!(
            "{} differs from gen_ftfy_tables.py's output ({} lines against {}); first at line \
             {}:\n  committed: {:?}\n  generated: {:?}\nregenerate with: .venv/bin/python \
             crates/clip-encoder/tests/gen_ftfy_tables.py > crates/clip-encoder/src/ftfy_tables.rs",
            path.display(),
            c.len(),
            f.len(),
            at + 1,
            c.get(at),
            f.get(at)
        );
    }
}
