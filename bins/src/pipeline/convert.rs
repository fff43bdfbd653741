//! `ctx-convert IN OUT`: a txt_ctx from one layout into the other, either profile. To the
//! compact layout each hit's row in the caption database is found by its text and feature; to
//! the full layout the features and texts are joined back from it. The entries read the same
//! either way (ctx-store's readers, the xmodal_ctx package), under the same image names.
//!
//! OUT is written as `OUT.partial` beside it and renamed once whole, so that a run that fails
//! (a hit the caption database does not hold) or is killed leaves OUT as it was: absent, or
//! the file `--overwrite` would have replaced.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctx_store::{
    CaptionDb, Captions, CompactIds, CompactTxtWriter, FileKind, HaavCaptionDb, HaavTxtCtxReader,
    HaavTxtCtxWriter, ImageId, Profile, Provenance, TxtCtxReader, TxtCtxWriter, TxtEntry,
};

use super::Summary;
use super::compact_out::TxtLayout;

/// Images converted per batch written.
const BATCH: usize = 256;

/// Convert a txt_ctx between the full layout (what the original's and HAAV's h5py readers
/// read) and the compact one (rows in the caption database and scores).
#[derive(Debug, clap::Parser)]
#[command(name = "ctx-convert", version)]
pub struct Args {
    /// The txt_ctx to convert (either profile, either layout).
    pub input: PathBuf,
    /// The file to write.
    pub out: PathBuf,
    /// The layout of OUT [default: the other one of INPUT's].
    #[arg(long, value_enum)]
    pub to: Option<TxtLayout>,
    /// The caption database the hits come from: needed to write the compact layout; for a
    /// compact INPUT, where it is if not beside INPUT under its recorded name.
    #[arg(long)]
    pub caption_db: Option<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub log: crate::Verbosity,
}

/// A txt_ctx of either profile, read as the full layout.
enum Reader {
    Original(TxtCtxReader),
    Haav(HaavTxtCtxReader),
}

impl Reader {
    fn open(path: &Path, profile: Profile, caption_db: Option<&Path>) -> Result<Self> {
        Ok(match (profile, caption_db) {
            (Profile::Original, None) => Reader::Original(TxtCtxReader::open(path)?),
            (Profile::Original, Some(db)) => {
                Reader::Original(TxtCtxReader::open_with_caption_db(path, db)?)
            }
            (Profile::Haav, None) => Reader::Haav(HaavTxtCtxReader::open(path)?),
            (Profile::Haav, Some(db)) => {
                Reader::Haav(HaavTxtCtxReader::open_with_caption_db(path, db)?)
            }
        })
    }

    /// Every image's name, integers first.
    fn keys(&self) -> Result<Vec<ImageId>> {
        Ok(match self {
            Reader::Original(r) => r.keys()?,
            Reader::Haav(r) => r.keys()?,
        })
    }

    fn preload_ids(&self, ids: &[ImageId]) -> Result<Vec<TxtEntry>> {
        Ok(match self {
            Reader::Original(r) => r.preload_ids(ids)?,
            Reader::Haav(r) => r.preload_ids(ids)?,
        })
    }

    fn provenance(&self) -> Result<Option<Provenance>> {
        Ok(match self {
            Reader::Original(r) => r.provenance()?,
            Reader::Haav(r) => r.provenance()?,
        })
    }
}

/// A writer of either layout and profile.
enum Writer {
    Original(TxtCtxWriter),
    Haav(HaavTxtCtxWriter),
    Compact(CompactTxtWriter),
}

impl Writer {
    fn write_batch(&mut self, entries: &[TxtEntry]) -> Result<()> {
        match self {
            Writer::Original(w) => w.write_batch(entries)?,
            Writer::Haav(w) => w.write_batch(entries)?,
            Writer::Compact(w) => w.write_batch(entries)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Writer::Original(w) => w.finish()?,
            Writer::Haav(w) => w.finish()?,
            Writer::Compact(w) => w.finish()?,
        }
        Ok(())
    }
}

/// The caption database of `profile` at `path`, loaded (features and phrases).
fn load_captions(path: &Path, profile: Profile) -> Result<Captions> {
    let mut c = match profile {
        Profile::Original => CaptionDb::open(path)?.load()?,
        Profile::Haav => HaavCaptionDb::open(path)?.load()?,
    };
    c.keys = Vec::new();
    Ok(c)
}

pub fn run(args: Args) -> Result<ExitCode> {
    args.log.init();
    let started = Instant::now();
    let input = &args.input;
    let kind = ctx_store::detect(input)?;
    let profile = match kind {
        FileKind::TxtCtx => Profile::Original,
        FileKind::HaavTxtCtx => Profile::Haav,
        other => bail!("{}: {other}, not a txt_ctx", input.display()),
    };
    let compact_in = ctx_store::compact_info(input)?.is_some();
    let to = args.to.unwrap_or(if compact_in { TxtLayout::Full } else { TxtLayout::Compact });
    if args.out.exists() && !args.overwrite {
        bail!("{} exists; pass --overwrite to replace it", args.out.display());
    }
    if super::output::canonical(&args.out) == super::output::canonical(input) {
        bail!("{} is INPUT and OUT", input.display());
    }
    let db_in = if compact_in { args.caption_db.as_deref() } else { None };
    let reader = Reader::open(input, profile, db_in)?;
    let ids = reader.keys()?;
    let provenance = reader.provenance()?.unwrap_or_else(|| {
        let arguments = serde_json::json!({"input": input, "txt_layout": format!("{to:?}")});
        Provenance::new("ctx-convert", arguments.to_string())
    });
    let db = match to {
        TxtLayout::Compact => {
            let db = args.caption_db.as_deref().context(
                "--caption-db: the compact layout numbers each hit by its row in the caption \
                 database the txt_ctx was retrieved from",
            )?;
            Some((db, Arc::new(load_captions(db, profile)?)))
        }
        TxtLayout::Full => None,
    };
    // Written beside OUT and renamed once whole: a failed or killed run leaves OUT as it was.
    let partial = partial_path(&args.out);
    let made = (|| -> Result<()> {
        let mut writer = match &db {
            Some((db, captions)) => Writer::Compact(CompactTxtWriter::create_with_ids(
                &partial,
                profile,
                db,
                Arc::clone(captions),
                CompactIds::of(&ids),
                &provenance,
                true,
            )?),
            None => match &reader {
                Reader::Original(_) => {
                    Writer::Original(TxtCtxWriter::create(&partial, &provenance, true)?)
                }
                Reader::Haav(r) => {
                    Writer::Haav(HaavTxtCtxWriter::create(&partial, r.fdim(), &provenance, true)?)
                }
            },
        };
        for chunk in ids.chunks(BATCH) {
            writer.write_batch(&reader.preload_ids(chunk)?).with_context(|| match &db {
                Some((db, _)) => format!(
                    "writing {} with the caption database {}",
                    args.out.display(),
                    db.display()
                ),
                None => format!("writing {}", args.out.display()),
            })?;
        }
        writer.finish()?;
        std::fs::rename(&partial, &args.out)
            .with_context(|| format!("renaming {} to {}", partial.display(), args.out.display()))
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    Summary {
        tool: "ctx-convert",
        what: "images",
        written: ids.len(),
        already: 0,
        skipped: 0,
        started,
        out: args.out,
    }
    .print();
    Ok(ExitCode::SUCCESS)
}

/// Where OUT is written until it is whole: `OUT.partial`, in OUT's folder.
fn partial_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}
