//! The caption database of a compact txt_ctx: its identity (name, size, content hash), where it
//! is looked for, and the checks that it is the one the file was made with.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::compact::CaptionDbIdentity;
use crate::entry::Captions;
use crate::error::{Error, Result};
use crate::kind::Profile;

/// Loads a caption database of one profile (HAAV's values as its features).
pub(crate) type LoadCaptions = fn(&Path) -> Result<Captions>;

/// The hash recorded in [`CaptionDbIdentity::sha256`]: SHA-256 over a version tag, the row
/// count and feature width (u64 little-endian), every phrase (its byte length as u64
/// little-endian, then its UTF-8 bytes), and the first and last rows of the features (f32
/// little-endian). It changes with any phrase or its order, and with the text encoder (the
/// features); reading the phrases costs what the join reads anyway.
pub(crate) fn content_hash(c: &Captions) -> String {
    let mut h = Sha256::new();
    h.update(b"xctx-caption-db-v1");
    let n = c.captions.len();
    h.update((n as u64).to_le_bytes());
    h.update((c.feature_dim as u64).to_le_bytes());
    for t in &c.captions {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    let d = c.feature_dim;
    for row in [0, n.saturating_sub(1)] {
        if let Some(f) = c.features.get(row * d..(row + 1) * d) {
            f.iter().for_each(|v| h.update(v.to_le_bytes()));
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The identity of the caption database at `path`, loaded as `captions`.
pub(crate) fn identity(path: &Path, captions: &Captions) -> Result<CaptionDbIdentity> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(CaptionDbIdentity {
        name,
        bytes: file_bytes(path)?,
        rows: captions.captions.len(),
        d: captions.feature_dim,
        sha256: content_hash(captions),
    })
}

fn file_bytes(path: &Path) -> Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NotFound { path: path.to_owned() })
        }
        Err(source) => Err(Error::Io { path: path.to_owned(), object: "/".into(), source }),
    }
}

/// Where the caption database of the compact txt_ctx at `txt` is: `given`, else the recorded
/// file name in the txt_ctx's directory.
pub(crate) fn locate(txt: &Path, recorded: &CaptionDbIdentity, given: Option<&Path>) -> PathBuf {
    match given {
        Some(p) => p.to_owned(),
        None => txt.parent().unwrap_or(Path::new("")).join(&recorded.name),
    }
}

/// [`Error::CaptionDb`].
pub(crate) fn mismatch_error(txt: &Path, db: &Path, message: String) -> Error {
    Error::CaptionDb { path: txt.to_owned(), caption_db: db.to_owned(), message }
}

/// Loads the caption database `db` of the compact txt_ctx `txt`, refusing one that is missing
/// or is not the one recorded (size first, then content hash, phrases and width).
pub(crate) fn load_checked(
    txt: &Path,
    db: &Path,
    recorded: &CaptionDbIdentity,
    profile: Profile,
    load: LoadCaptions,
) -> Result<Captions> {
    let bytes = match std::fs::metadata(db) {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return Err(mismatch_error(txt, db, "not a file".into())),
        Err(e) => {
            return Err(mismatch_error(
                txt,
                db,
                format!(
                    "{e} (the compact txt_ctx joins its phrases from it; pass it explicitly if it was moved)"
                ),
            ));
        }
    };
    if bytes != recorded.bytes {
        return Err(mismatch_error(
            txt,
            db,
            format!(
                "{bytes} bytes, but the txt_ctx was made with one of {} bytes: not the same database",
                recorded.bytes
            ),
        ));
    }
    let mut captions =
        load(db).map_err(|e| mismatch_error(txt, db, format!("cannot load it ({e})")))?;
    // The keys are the search's, not the join's.
    captions.keys = Vec::new();
    let got = (captions.captions.len(), captions.feature_dim);
    if got != (recorded.rows, recorded.d) {
        return Err(mismatch_error(
            txt,
            db,
            format!(
                "{} phrases of width {}, but the txt_ctx was made with {} of width {}",
                got.0, got.1, recorded.rows, recorded.d
            ),
        ));
    }
    let hash = content_hash(&captions);
    if hash != recorded.sha256 {
        return Err(mismatch_error(
            txt,
            db,
            format!(
                "content hash {hash}, but the txt_ctx was made with {} ({profile} profile): not the same database",
                recorded.sha256
            ),
        ));
    }
    Ok(captions)
}
