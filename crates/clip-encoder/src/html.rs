//! Python's `html.unescape` (3.x), which `clip.tokenize`'s `basic_clean` runs twice after ftfy,
//! and the numeric character references it shares with ftfy's `unescape_html`.

use crate::ftfy_tables::HTML5;

/// `html.unescape(text)`: every match of
/// `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` replaced as Python replaces it:
/// numbers by their character (see [`numeric`]), names of the HTML5 table by their text, other
/// names by their longest prefix (2 characters or more) that the table holds without a `;`,
/// followed by the rest of the name (`&ampx` is `&x`, `&notit;` is `¬it;`), anything else left
/// as it is. The result is not scanned again.
pub(crate) fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match reference(after) {
            Some((len, rep)) => {
                out.push_str(&rep);
                rest = &after[len..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The reference at the start of `s` (the text after a `&`): the bytes it spans and what
/// replaces them; `None` where the pattern does not match.
fn reference(s: &str) -> Option<(usize, String)> {
    let semicolon = |end: usize| end + usize::from(s.as_bytes().get(end) == Some(&b';'));
    if let Some(num) = s.strip_prefix('#') {
        let hex = matches!(num.as_bytes().first(), Some(b'x' | b'X'))
            && num.as_bytes().get(1).is_some_and(u8::is_ascii_hexdigit);
        let start = 1 + usize::from(hex);
        let digits = s[start..]
            .bytes()
            .take_while(|b| if hex { b.is_ascii_hexdigit() } else { b.is_ascii_digit() })
            .count();
        if digits == 0 {
            return None;
        }
        return Some((semicolon(start + digits), numeric(&s[start..start + digits], hex)));
    }
    let name_end = s
        .char_indices()
        .take(32)
        .find(|&(_, c)| matches!(c, '\t' | '\n' | '\x0c' | ' ' | '<' | '&' | '#' | ';'))
        .map_or_else(|| s.char_indices().nth(32).map_or(s.len(), |(i, _)| i), |(i, _)| i);
    if name_end == 0 {
        return None;
    }
    let end = semicolon(name_end);
    let name = &s[..end];
    if let Some(rep) = lookup(name) {
        return Some((end, rep.to_owned()));
    }
    // The longest prefix of 2 characters or more, shorter than the name, that is in the table.
    let cuts: Vec<usize> = name.char_indices().map(|(i, _)| i).skip(2).collect();
    for &cut in cuts.iter().rev() {
        if let Some(rep) = lookup(&name[..cut]) {
            return Some((end, format!("{rep}{}", &name[cut..])));
        }
    }
    Some((end, format!("&{name}")))
}

fn lookup(name: &str) -> Option<&'static str> {
    HTML5.binary_search_by_key(&name, |&(k, _)| k).ok().map(|i| HTML5[i].1)
}

/// The character of a numeric reference whose `digits` (decimal, or hexadecimal with `hex`) are
/// all valid, as Python's `html.unescape` gives it: NUL, surrogates and numbers beyond Unicode
/// (however many digits: Python's integers have no limit) are U+FFFD, `\r` stays, the C1 range
/// reads as Windows-1252 (the five bytes it leaves undefined stay), and the code points
/// `html._invalid_codepoints` lists are dropped (an empty string).
pub(crate) fn numeric(digits: &str, hex: bool) -> String {
    // html._invalid_charrefs for 0x80..=0x9f.
    const CP1252: [u32; 32] = [
        0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8d, 0x017d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013,
        0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
    ];
    // Only an overflow can fail: the caller gives valid, non-empty digits.
    let n = u32::from_str_radix(digits, if hex { 16 } else { 10 }).unwrap_or(u32::MAX);
    let c = match n {
        0 | 0xd800..=0xdfff | 0x110000.. => '\u{fffd}',
        0x0d => '\r',
        0x80..=0x9f => char::from_u32(CP1252[(n - 0x80) as usize]).unwrap_or('\u{fffd}'),
        0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f | 0xfdd0..=0xfdef => return String::new(),
        n if n & 0xfffe == 0xfffe => return String::new(),
        n => char::from_u32(n).unwrap_or('\u{fffd}'),
    };
    c.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_python() {
        let cases = [
            ("&amp; &amp &AMP &ampx &notit; &#65 &#x41x &#0065;", "& & & &x \u{ac}it; A Ax A"),
            ("&ampamp; &amp;amp;", "&amp; &amp;"),
            ("&#; &#x; &#xg; &x; &; & x", "&#; &#x; &#xg; &x; &; & x"),
            (
                "&#99999999999999999999999999; &#x110000; &#0; &#x81; &#128;",
                "\u{fffd} \u{fffd} \u{fffd} \u{81} \u{20ac}",
            ),
            ("a&#1;b&#xfffe;c", "abc"),
            ("&zz; &Aacute; &aacute &ab", "&zz; \u{c1} \u{e1} &ab"),
        ];
        for (text, want) in cases {
            assert_eq!(unescape(text), want, "{text:?}");
        }
    }
}
