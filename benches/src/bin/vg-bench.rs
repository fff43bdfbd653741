//! Driver of `benches/datasets_vs_python.py`: builds the Visual Genome phrase database with
//! `datasets::phrase_database` and prints it as a JSON array (the mirror's output format).
//!
//! ```text
//! vg-bench ATTRIBUTES.json RELATIONSHIPS.json > phrases.json
//! ```

use std::io::{BufWriter, Write};

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (a, r) =
        (args.get(1).context("missing ATTRIBUTES")?, args.get(2).context("missing RELATIONSHIPS")?);
    let phrases = datasets::phrase_database(a.as_ref(), r.as_ref())?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer(&mut out, &phrases)?;
    out.flush()?;
    Ok(())
}
