//! `retrieve-captions --format json --json-object FILE`: after the run, the JSON Lines output
//! as one JSON object, `{"ID": {"whole": [[text, score], ...], ...}, ...}` in the lines' order
//! (SmallCap's `{cocoid: [...]}` shape), for consumers that load one object. Written streaming
//! into a temporary file beside `FILE`, then renamed, so that `FILE` is whole or absent.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::value::RawValue;

/// Converts the JSON Lines output `lines` (provenance line first) into the object file `out`;
/// returns the number of images.
pub fn write(lines: &Path, out: &Path) -> Result<usize> {
    let input =
        std::fs::File::open(lines).with_context(|| format!("opening {}", lines.display()))?;
    let tmp = out.with_extension("json.partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = BufWriter::new(file);
    let mut images = 0;
    let written = (|| -> Result<()> {
        w.write_all(b"{")?;
        for (n, line) in std::io::BufReader::new(input).lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", lines.display()))?;
            if n == 0 {
                continue; // the provenance
            }
            // The hits are copied as they are written (the scores' digits and the views' order
            // kept), not parsed.
            let v: BTreeMap<String, &RawValue> = serde_json::from_str(&line)
                .with_context(|| format!("{}: line {} is not JSON", lines.display(), n + 1))?;
            let Some((id, hits)) = v.iter().next().filter(|_| v.len() == 1) else {
                bail!("{}: line {} is not an image's object", lines.display(), n + 1);
            };
            if images > 0 {
                w.write_all(b",")?;
            }
            serde_json::to_writer(&mut w, id)?;
            w.write_all(b":")?;
            serde_json::to_writer(&mut w, hits)?;
            images += 1;
        }
        w.write_all(b"}\n")?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("writing {}", out.display())));
    }
    std::fs::rename(&tmp, out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(images)
}
