//! The text normalisation of the original's slow `CLIPTokenizer`: `ftfy.fix_text` (5.8, default
//! settings) followed by whitespace collapsing. Every ftfy step is reproduced with ftfy's own
//! tables (`ftfy_tables.rs`, generated) except `fix_encoding` (mojibake repair), whose heuristics
//! are not ported; see docs/parity.md.

use unicode_normalization::UnicodeNormalization;

use crate::ftfy_tables::{HTML_ENTITIES, LIGATURES, WIDTH};

/// `whitespace_clean(ftfy.fix_text(text))`; lower-casing is left to the tokenizer.
pub fn normalize(text: &str) -> String {
    let fixed = fix_text(text);
    fixed.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `ftfy.fix_text` with 5.8's defaults, line by line as ftfy processes it. As in ftfy, HTML
/// entities are left alone from the first line holding both `<` and `>` (HTML, probably) to the
/// end of the text, that line included: `fix_text` switches its `fix_entities='auto'` off for
/// every later line once it has seen one.
pub fn fix_text(text: &str) -> String {
    let mut entities = true;
    text.split_inclusive('\n')
        .map(|line| {
            entities &= !(line.contains('<') && line.contains('>'));
            fix_segment(line, entities)
        })
        .collect()
}

/// `fix_text_segment` with 5.8's defaults on one line.
fn fix_segment(text: &str, entities: bool) -> String {
    let mut text = text.to_owned();
    loop {
        let orig = text.clone();
        text = remove_terminal_escapes(&text);
        if entities {
            text = unescape_html(&text);
        }
        text = translate(&text, LIGATURES);
        text = translate(&text, WIDTH);
        text = uncurl_quotes(&text);
        text = fix_line_breaks(&text);
        text = text.chars().filter(|&c| !is_control(c)).collect();
        text = text.nfc().collect();
        if text == orig {
            return text;
        }
    }
}

fn translate(text: &str, table: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table.binary_search_by_key(&c, |&(k, _)| k) {
            Ok(i) => out.push_str(table[i].1),
            Err(_) => out.push(c),
        }
    }
    out
}

/// `\x1b[ (digits|;)* letter`.
fn remove_terminal_escapes(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';') {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_alphabetic() {
                out.push_str(&text[start..i]);
                i = j + 1;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[start..]);
    out
}

/// ftfy's `unescape_html`: every match of `&#?[0-9A-Za-z]{1,24};` that names an entity (ftfy's
/// table) or a character reference is replaced. A reference whose character is `;` stays as it
/// is (ftfy keeps a match whose `html.unescape` still holds a semicolon).
fn unescape_html(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut start) = (0, 0);
    while i < b.len() {
        if b[i] == b'&' {
            let mut j = i + 1;
            let numeric = b.get(j) == Some(&b'#');
            if numeric {
                j += 1;
            }
            let body = j;
            while j < b.len() && j - body < 24 && b[j].is_ascii_alphanumeric() {
                j += 1;
            }
            if j > body && b.get(j) == Some(&b';') {
                let m = &text[i..=j];
                let rep = match HTML_ENTITIES.binary_search_by_key(&m, |&(k, _)| k) {
                    Ok(k) => Some(HTML_ENTITIES[k].1.to_owned()),
                    Err(_) if numeric => char_ref(&text[body..j]).filter(|r| !r.contains(';')),
                    Err(_) => None,
                };
                if let Some(rep) = rep {
                    out.push_str(&text[start..i]);
                    out.push_str(&rep);
                    i = j + 1;
                    start = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[start..]);
    out
}

/// Python's `html.unescape` of `&#...;` as ftfy uses it (`None`: left as is, the body is not a
/// number).
fn char_ref(body: &str) -> Option<String> {
    let (digits, hex) = match body.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, true),
        None => (body, false),
    };
    let valid = |b: u8| if hex { b.is_ascii_hexdigit() } else { b.is_ascii_digit() };
    if digits.is_empty() || !digits.bytes().all(valid) {
        return None;
    }
    Some(crate::html::numeric(digits, hex))
}

fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
            '\u{201c}'..='\u{201f}' => '"',
            c => c,
        })
        .collect()
}

fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => '\n',
            c => c,
        })
        .collect()
}

/// ftfy's CONTROL_CHARS.
fn is_control(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0x206a..=0x206f | 0xfeff | 0xfff9..=0xfffc
        | 0x1d173..=0x1d17a | 0xe0000..=0xe007f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(normalize("  white\t\tdog \n"), "white dog");
        assert_eq!(normalize("fish &amp; chips"), "fish & chips");
        assert_eq!(normalize("<b> &amp; </b>"), "<b> &amp; </b>");
        assert_eq!(normalize("\u{fb01}ne \u{ff24}og"), "fine Dog");
        assert_eq!(normalize("\u{201c}it\u{2019}s\u{201d}"), "\"it's\"");
        assert_eq!(normalize("a\u{7f}b\u{0}c"), "abc");
        assert_eq!(normalize("caf&#233; &#x263A;"), "caf\u{e9} \u{263a}");
        assert_eq!(normalize("&#150;"), "\u{2013}");
        assert_eq!(normalize("\u{1b}[31mred\u{1b}[0m"), "red");
    }
}
