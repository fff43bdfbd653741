//! Output files: resume or start again (decided from the provenance a file carries), the model
//! fingerprint that goes into it, and the failure records of `--on-error skip`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ctx_store::{Profile, Provenance};
use sha2::{Digest, Sha256};

/// What a run writes into its output's provenance; a resumed file must carry the same.
pub struct RunIdentity {
    pub tool: &'static str,
    pub arguments: serde_json::Value,
}

impl RunIdentity {
    pub fn provenance(&self) -> Provenance {
        Provenance::new(self.tool, self.arguments.to_string())
    }
}

/// Whether to create the output or append to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    Create,
    Resume,
}

/// Creates the output's folder and decides: a new file (`--overwrite`, or none there), or a
/// resume of one written by the same tool with the same arguments; anything else is refused.
pub fn decide(
    out: &Path,
    id: &RunIdentity,
    overwrite: bool,
    existing: impl FnOnce(&Path) -> ctx_store::Result<Option<Provenance>>,
) -> Result<Open> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if overwrite || !out.exists() {
        return Ok(Open::Create);
    }
    let again = "rerun with --overwrite to start again";
    // A file cut by a power cut is rolled back to its last sync before anything reads it.
    ctx_store::recover(out)
        .with_context(|| format!("{} cannot be resumed; {again}", out.display()))?;
    if let Some(p) = id.arguments["profile"].as_str().and_then(Profile::from_name) {
        refuse_other_profile(out, p, None)?;
    }
    let prov =
        existing(out).with_context(|| format!("{} cannot be resumed; {again}", out.display()))?;
    let Some(prov) = prov else {
        bail!("{}: no provenance attributes (not written by {}); {again}", out.display(), id.tool);
    };
    let mut theirs: serde_json::Value = serde_json::from_str(&prov.arguments).unwrap_or_default();
    // Files written before --profile existed are the original profile's.
    if id.arguments.get("profile").is_some()
        && let Some(map) = theirs.as_object_mut()
    {
        map.entry("profile").or_insert_with(|| Profile::Original.name().into());
    }
    if prov.tool != id.tool {
        bail!("{}: written by {}, not {}; {again}", out.display(), prov.tool, id.tool);
    }
    if theirs != id.arguments {
        let keys: Vec<String> = id
            .arguments
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| theirs.get(k.as_str()) != Some(v))
            .map(|(k, _)| k.clone())
            // And the settings only the file records (a flag given then, left out now).
            .chain(
                theirs
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| id.arguments.get(k.as_str()).is_none())
                    .map(|(k, _)| k.clone()),
            )
            .collect();
        bail!(
            "{}: written with other settings (differs in: {}); {again}",
            out.display(),
            if keys.is_empty() { "arguments".into() } else { keys.join(", ") }
        );
    }
    tracing::info!(out = %out.display(), "resuming");
    Ok(Open::Resume)
}

/// Refuses an existing file of the other profile than the run's: `input` names what the step
/// reads it as (`None` for the step's output), e.g. `Some("--caption-db")`.
pub fn refuse_other_profile(path: &Path, profile: Profile, input: Option<&str>) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    // A file that is no context file at all is refused when it is opened, with its own error.
    let Ok(kind) = ctx_store::detect(path) else { return Ok(()) };
    let theirs = kind.profile();
    if theirs == profile {
        return Ok(());
    }
    let what = format!(
        "{}: a {} of the {theirs} profile, but this run has --profile {profile}",
        path.display(),
        kind.role()
    );
    match input {
        Some(flag) => bail!(
            "{what}; give {flag} a file written with --profile {profile}, or run with --profile \
             {theirs}"
        ),
        None => bail!("{what}; rerun with --profile {theirs} to resume it, or --overwrite"),
    }
}

/// SHA-256 (first 16 hex digits) of the checkpoint files that decide the numbers.
pub fn model_fingerprint(dir: &Path) -> Result<String> {
    let mut h = Sha256::new();
    for name in ["config.json", "preprocessor_config.json", "tokenizer.json", "model.safetensors"] {
        let path = dir.join(name);
        let Ok(mut f) = std::fs::File::open(&path) else { continue };
        h.update(name.as_bytes());
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    let digest = h.finalize();
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// An absolute form of a path for provenance (as given when it cannot be resolved).
pub fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned()).display().to_string()
}

/// `--on-error skip` records: one JSON object per line in `<out>.failures.jsonl`.
pub struct Failures {
    path: PathBuf,
    file: Option<std::fs::File>,
    pub count: usize,
}

impl Failures {
    /// Starts a new record for this run (failures are retried by every run).
    pub fn new(out: &Path) -> Self {
        let mut name = out.as_os_str().to_owned();
        name.push(".failures.jsonl");
        let path = PathBuf::from(name);
        let _ = std::fs::remove_file(&path);
        Failures { path, file: None, count: 0 }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record(&mut self, item: &str, input: &Path, error: &str) -> Result<()> {
        tracing::warn!(item, error, "skipped");
        if self.file.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .with_context(|| format!("creating {}", self.path.display()))?;
            self.file = Some(f);
        }
        let line = serde_json::json!({"item": item, "path": input, "error": error});
        let f = self.file.as_mut().expect("opened");
        writeln!(f, "{line}")
            .and_then(|_| f.flush())
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.count += 1;
        Ok(())
    }
}
