//! OpenAI CLIP's own tokenisation, `clip.tokenize(texts, truncate=True)` (HAAV's): the text
//! cleaned by `whitespace_clean(basic_clean(text)).lower()`, split by CLIP's pattern (with its
//! `IGNORECASE`), each piece byte-level encoded and run through the checkpoint's BPE, between
//! `<|startoftext|>` and `<|endoftext|>`, cut to 77 tokens with the last one replaced by
//! `<|endoftext|>`.

use std::sync::LazyLock;

use tokenizers::Model;
use tokenizers::utils::SysRegex;

use crate::error::{Error, Result};
use crate::ftfy;
use crate::html;

/// `clip.tokenize`'s `context_length`: tokens per phrase, `<|startoftext|>` and
/// `<|endoftext|>` included.
pub const CLIP_CONTEXT: usize = 77;

const START: &str = "<|startoftext|>";
const END: &str = "<|endoftext|>";

/// CLIP's pattern, `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
/// [^\s\p{L}\p{N}]+` compiled with the `regex` module's `IGNORECASE`, written out for lower-cased
/// text: there the flag changes two things only (found by running both forms over every code
/// point in every position of the literals): `ſ` (U+017F) matches `s`, and U+0345 (which
/// case-folds to the letter `ι`) matches neither `[\p{L}]` nor its negation, so it is dropped.
const PATTERN: &str = r"<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}\x{345}]+";

/// `whitespace_clean(basic_clean(text)).lower()` of CLIP's `simple_tokenizer.py`:
/// `ftfy.fix_text` (5.8, as [`crate::fix_text`]), `html.unescape` twice, whitespace runs
/// collapsed to one space and stripped, lower-cased as Python's `str.lower`.
///
/// Python's `strip` also strips U+001C..U+001F, which `\s` does not match; neither can be left
/// here (ftfy removes them as control characters and `html.unescape` drops their references).
pub fn clip_clean(text: &str) -> String {
    let text = html::unescape(&html::unescape(&ftfy::fix_text(text)));
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// GPT-2's byte-to-character map (`bytes_to_unicode`), which the BPE vocabulary is written in.
static BYTE_CHARS: LazyLock<[char; 256]> = LazyLock::new(|| {
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || b >= 0xae;
    let mut map = ['\0'; 256];
    let mut next = 256;
    for (b, slot) in (0u32..).zip(map.iter_mut()) {
        let c = if printable(b) {
            b
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(c).unwrap_or('\0');
    }
    map
});

/// `clip.tokenize`'s tokenisation with the BPE model of a checkpoint's `tokenizer.json`.
pub(crate) struct ClipSplitter {
    pattern: SysRegex,
    start: u32,
    end: u32,
}

impl ClipSplitter {
    /// The pattern, with the ids of `<|startoftext|>` and `<|endoftext|>` in `vocab`.
    pub(crate) fn new(tok: &tokenizers::Tokenizer) -> std::result::Result<Self, String> {
        let id = |t: &str| tok.token_to_id(t).ok_or_else(|| format!("no {t} in the vocabulary"));
        let pattern = SysRegex::new(PATTERN).map_err(|e| e.to_string())?;
        Ok(ClipSplitter { pattern, start: id(START)?, end: id(END)? })
    }

    /// `[<|startoftext|>] + SimpleTokenizer.encode(text) + [<|endoftext|>]`, uncut.
    pub(crate) fn ids(&self, tok: &tokenizers::Tokenizer, text: &str) -> Result<Vec<i64>> {
        let clean = clip_clean(text);
        let mut ids = vec![i64::from(self.start)];
        let mut piece = String::new();
        for (a, b) in self.pattern.find_iter(&clean) {
            let token = &clean[a..b];
            // SimpleTokenizer's cache holds the two special tokens as themselves.
            if token == START || token == END {
                ids.push(i64::from(if token == START { self.start } else { self.end }));
                continue;
            }
            piece.clear();
            piece.extend(token.bytes().map(|b| BYTE_CHARS[usize::from(b)]));
            let bpe = tok
                .get_model()
                .tokenize(&piece)
                .map_err(|e| Error::Encode { text: text.into(), msg: e.to_string() })?;
            ids.extend(bpe.iter().map(|t| i64::from(t.id)));
        }
        ids.push(i64::from(self.end));
        Ok(ids)
    }

    /// `ids` as `clip.tokenize(truncate=True)` keeps them: at most [`CLIP_CONTEXT`], the last
    /// replaced by `<|endoftext|>` where the phrase was longer.
    pub(crate) fn truncate(&self, mut ids: Vec<i64>) -> Vec<i64> {
        if ids.len() > CLIP_CONTEXT {
            ids.truncate(CLIP_CONTEXT);
            ids[CLIP_CONTEXT - 1] = i64::from(self.end);
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_chars_are_gpt2s() {
        assert_eq!(BYTE_CHARS[usize::from(b'a')], 'a');
        assert_eq!(BYTE_CHARS[usize::from(b' ')], '\u{120}');
        assert_eq!(BYTE_CHARS[0], '\u{100}');
        assert_eq!(BYTE_CHARS[0xad], '\u{143}');
        assert_eq!(BYTE_CHARS[0xff], '\u{ff}');
    }

    #[test]
    fn clean_steps() {
        assert_eq!(clip_clean("  White\t\tDOG \n"), "white dog");
        // ftfy leaves entities alone on a line with < and >; html.unescape does not.
        assert_eq!(clip_clean("<b> &amp;amp; </b>"), "<b> & </b>");
        assert_eq!(clip_clean("&amp;nbsp;x"), "x");
        // Python's lower: a final capital sigma is a final sigma.
        assert_eq!(clip_clean("\u{39f}\u{394}\u{39f}\u{3a3}."), "\u{3bf}\u{3b4}\u{3bf}\u{3c2}.");
    }
}
