//! Brace expansion of shard patterns, as webdataset and img2dataset write them:
//! `shards/{00000..00099}.tar` (a numeric range, zero-padded to the width of its ends) and
//! `{train,val}/{0..3}.tar` (a list); several braces give every combination, in order.

use crate::{Error, Result};

/// The names `pattern` stands for, in order; a pattern without braces is itself.
pub fn expand_braces(pattern: &str) -> Result<Vec<String>> {
    let bad = |message: String| Error::BadSource { given: pattern.to_owned(), message };
    let Some(open) = pattern.find('{') else {
        if pattern.contains('}') {
            return Err(bad("a `}` without its `{`".into()));
        }
        return Ok(vec![pattern.to_owned()]);
    };
    let close = pattern[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| bad("a `{` without its `}`".into()))?;
    let (head, body, tail) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    if head.contains('}') || body.contains('{') {
        return Err(bad("nested or unbalanced braces".into()));
    }
    let alternatives = match body.split_once("..") {
        Some((a, b)) => range(a, b).map_err(bad)?,
        None if body.contains(',') => body.split(',').map(str::to_owned).collect(),
        None => return Err(bad(format!("{{{body}}}: expected {{A..B}} or {{a,b,...}}"))),
    };
    let tails = expand_braces(tail)?;
    let mut out = Vec::with_capacity(alternatives.len() * tails.len());
    for a in &alternatives {
        for t in &tails {
            out.push(format!("{head}{a}{t}"));
        }
    }
    Ok(out)
}

/// `A..B`, inclusive, ascending; zero-padded to A's width when A has a leading zero.
fn range(a: &str, b: &str) -> std::result::Result<Vec<String>, String> {
    let parse = |s: &str| {
        s.parse::<u64>().map_err(|_| format!("{{{a}..{b}}}: {s:?} is not a non-negative integer"))
    };
    let (lo, hi) = (parse(a)?, parse(b)?);
    if lo > hi {
        return Err(format!("{{{a}..{b}}}: the range is empty"));
    }
    if hi - lo >= 10_000_000 {
        return Err(format!("{{{a}..{b}}}: more than ten million names"));
    }
    let width = if a.len() > 1 && a.starts_with('0') { a.len() } else { 0 };
    Ok((lo..=hi).map(|i| format!("{i:0width$}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_products() {
        assert_eq!(expand_braces("a.tar").unwrap(), ["a.tar"]);
        assert_eq!(
            expand_braces("s/{00008..00011}.tar").unwrap(),
            ["s/00008.tar", "s/00009.tar", "s/00010.tar", "s/00011.tar"]
        );
        assert_eq!(expand_braces("{8..10}").unwrap(), ["8", "9", "10"]);
        assert_eq!(
            expand_braces("{a,b}/{0..1}.tar").unwrap(),
            ["a/0.tar", "a/1.tar", "b/0.tar", "b/1.tar"]
        );
        for bad in ["{1..x}", "{3..1}", "{a", "a}", "{a{b}}", "{single}"] {
            let e = expand_braces(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{bad:?}")), "{e}");
        }
    }
}
