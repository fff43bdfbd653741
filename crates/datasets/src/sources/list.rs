//! `list:FILE`: one image path a line, or `ID<TAB>PATH`; paths are relative to the list's
//! folder; blank lines and lines starting with `#` are skipped.

use std::io::BufRead;
use std::path::Path;

use super::{Location, SourceImage, stem_id, unique};
use crate::{Error, Result};

/// The listed images, in the list's order.
pub(crate) fn images(path: &Path) -> Result<Vec<SourceImage>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let entry = format!("line {}", n + 1);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, file) = match line.split_once('\t') {
            Some((id, file)) => {
                if id.is_empty() || file.is_empty() {
                    return Err(Error::entry(path, entry, "expected ID<TAB>PATH"));
                }
                (id.to_owned(), file)
            }
            None => (stem_id(path, Path::new(line), &entry)?, line),
        };
        out.push(SourceImage { id, location: Location::File(base.join(file)) });
    }
    unique(path, &out)?;
    Ok(out)
}
