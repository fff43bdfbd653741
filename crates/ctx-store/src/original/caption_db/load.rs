//! [`CaptionDb::load`]: the database read in parallel.

use rayon::prelude::*;

use crate::entry::Captions;
use crate::error::{Error, Result};
use crate::h5::{self, chunks, vlen};
use crate::original::caption_db::CaptionDb;
use crate::{bounds, schema};

impl CaptionDb {
    /// Loads every phrase with its key and feature.
    ///
    /// One thread does the HDF5 part (each dataset's chunk index, serialised by HDF5's lock)
    /// while rayon's threads read the chunks straight from the file, inflate the compressed
    /// ones, and take the phrases from their global heap collections (`chunks`, `vlen`), each
    /// into its rows of the result. Datasets stored otherwise (another filter, chunks left to
    /// the fill value) and files with a userblock are read through HDF5 on the planning thread.
    pub fn load(&self) -> Result<Captions> {
        let (kd, fd) = (self.key_dim, self.feature_dim);
        let mut keys = vec![0f32; self.len * kd];
        let mut features = vec![0f32; self.len * fd];
        let mut captions = vec![String::new(); self.len];
        let raw = std::fs::File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            object: "/".into(),
            source,
        })?;
        let file_len = bounds::file_len(&self.path, &raw)?;
        let direct = self.file.userblock() == 0;
        let strings_direct = direct && vlen::eight_byte_sizes(&raw);
        let parts = self.parts_in_order()?;
        // Each part's rows of the three outputs, in order.
        let mut outs = Vec::with_capacity(parts.len());
        let (mut k_rest, mut f_rest, mut c_rest) =
            (&mut keys[..], &mut features[..], &mut captions[..]);
        for (_, _, n) in &parts {
            let (k, kt) = std::mem::take(&mut k_rest).split_at_mut(n * kd);
            let (f, ft) = std::mem::take(&mut f_rest).split_at_mut(n * fd);
            let (c, ct) = std::mem::take(&mut c_rest).split_at_mut(*n);
            outs.push((k, f, c));
            (k_rest, f_rest, c_rest) = (kt, ft, ct);
        }
        let (path, raw) = (&self.path, &raw);
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Job<'_>>>(64);
            let planner = s.spawn(move || -> Result<()> {
                let mut pending = Jobs { tx, jobs: Vec::new(), values: 0 };
                for ((g, prefix, n), (k, f, c)) in parts.into_iter().zip(outs) {
                    for (name, width, out) in [(schema::KEYS, kd, k), (schema::FEATURES, fd, f)] {
                        let object = format!("{prefix}{name}");
                        let ds = self.dataset(&g, name, &object)?;
                        let bands = match direct {
                            true => chunks::plan(path, &ds, &object, (n, width), file_len)?,
                            false => None,
                        };
                        match bands {
                            Some(bands) => {
                                let jobs = chunks::split(bands, chunks::RowBand::len, out);
                                if !pending.push(jobs.into_iter().map(|(b, o)| Job::Floats(b, o))) {
                                    return Ok(()); // a reader failed: its error is reported
                                }
                            }
                            None => {
                                h5::read_f32_into(path, &ds, &object, direct.then_some(raw), out)?
                            }
                        }
                    }
                    let object = format!("{prefix}{}", schema::CAPTIONS);
                    let ds = self.dataset(&g, schema::CAPTIONS, &object)?;
                    let bands = match strings_direct {
                        true => vlen::plan(path, &ds, &object, n, file_len)?,
                        false => None,
                    };
                    match bands {
                        Some(bands) => {
                            let jobs = chunks::split(bands, vlen::StrBand::len, c);
                            if !pending.push(jobs.into_iter().map(|(b, o)| Job::Strings(b, o))) {
                                return Ok(());
                            }
                        }
                        None => {
                            for (slot, text) in
                                c.iter_mut().zip(h5::vlen::strings(path, &ds, &object, None)?)
                            {
                                *slot = text;
                            }
                        }
                    }
                }
                pending.send();
                Ok(())
            });
            let read = rx.into_iter().par_bridge().try_for_each(|jobs| {
                jobs.into_iter().try_for_each(|job| match job {
                    Job::Floats(band, out) => band.read(path, raw, out),
                    Job::Strings(band, out) => band.read(path, raw, out),
                })
            });
            let planned = planner.join().expect("the planning thread does not panic");
            planned.and(read)
        })?;
        tracing::debug!(n = captions.len(), "caption_db loaded");
        Ok(Captions { key_dim: kd, feature_dim: fd, keys, features, captions })
    }
}

/// A read for [`CaptionDb::load`]'s readers: a band of a dataset, and its rows of the result.
enum Job<'o> {
    Floats(chunks::RowBand, &'o mut [f32]),
    Strings(vlen::StrBand, &'o mut [String]),
}

impl Job<'_> {
    /// About how many 4-byte values the job moves (a phrase counted as 8).
    fn weight(&self) -> usize {
        match self {
            Job::Floats(_, out) => out.len(),
            Job::Strings(_, out) => out.len() * 8,
        }
    }
}

/// Reads on their way to the readers, handed over in groups of about [`VALUES_PER_HANDOVER`].
struct Jobs<'o> {
    tx: std::sync::mpsc::SyncSender<Vec<Job<'o>>>,
    jobs: Vec<Job<'o>>,
    values: usize,
}

/// Values (4 bytes each) per hand-over to the readers: 1 MiB, enough to make a hand-over's cost
/// small, small enough that 2 M phrases make thousands of them to share out.
const VALUES_PER_HANDOVER: usize = 1 << 18;

impl<'o> Jobs<'o> {
    /// Adds reads; false if the readers stopped.
    fn push(&mut self, jobs: impl IntoIterator<Item = Job<'o>>) -> bool {
        for job in jobs {
            self.values += job.weight();
            self.jobs.push(job);
            if self.values >= VALUES_PER_HANDOVER && !self.send() {
                return false;
            }
        }
        true
    }

    /// Hands the pending reads over; false if the readers stopped.
    fn send(&mut self) -> bool {
        self.values = 0;
        let jobs = std::mem::take(&mut self.jobs);
        jobs.is_empty() || self.tx.send(jobs).is_ok()
    }
}
