//! The native writer's file I/O behind a small trait: the file itself, or (in tests, through
//! [`crate::testing`]) the file with every write and sync recorded for the crash simulator, or
//! failing after a number of bytes as a full disk does.

use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use crate::testing::{self, IoOp};

/// Positioned writes, length changes and syncs of one file.
pub(crate) trait FileIo: Send {
    /// Writes `slices`, one after the other, at `at`.
    fn write_at(&mut self, at: u64, slices: &[&[u8]]) -> std::io::Result<()>;
    /// Truncates or extends the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> std::io::Result<()>;
    /// Forces the file's data to the disk (`fdatasync`).
    fn sync(&mut self) -> std::io::Result<()>;
    /// A point of the writer's protocol, for the recording (nothing otherwise).
    fn mark(&mut self, _op: IoOp) {}
}

/// The I/O of `file`: recorded or failing when a test asked for it.
pub(crate) fn of(file: std::fs::File) -> Box<dyn FileIo> {
    let real = Real(file);
    match testing::io_mode() {
        testing::IoMode::Real => Box::new(real),
        testing::IoMode::Record => Box::new(Recording(real)),
        testing::IoMode::FailAfter(bytes) => Box::new(Failing { inner: real, left: bytes }),
    }
}

/// The file itself.
struct Real(std::fs::File);

impl FileIo for Real {
    fn write_at(&mut self, at: u64, slices: &[&[u8]]) -> std::io::Result<()> {
        if let [one] = slices {
            return self.0.write_all_at(one, at);
        }
        let mut f = &self.0;
        f.seek(SeekFrom::Start(at))?;
        let mut io: Vec<IoSlice> = slices.iter().map(|s| IoSlice::new(s)).collect();
        write_all_vectored(&mut f, &mut io)
    }

    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.0.sync_data()
    }
}

fn write_all_vectored(f: &mut impl Write, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    const MAX: usize = 1024; // IOV_MAX
    while !slices.is_empty() {
        let n = slices.len().min(MAX);
        match f.write_vectored(&slices[..n]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The file, each completed operation appended to the test's record.
struct Recording(Real);

impl FileIo for Recording {
    fn write_at(&mut self, at: u64, slices: &[&[u8]]) -> std::io::Result<()> {
        self.0.write_at(at, slices)?;
        testing::record(IoOp::Write { at, bytes: slices.concat() });
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)?;
        testing::record(IoOp::SetLen(len));
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.0.sync()?;
        testing::record(IoOp::Sync);
        Ok(())
    }

    fn mark(&mut self, op: IoOp) {
        testing::record(op);
    }
}

/// The file, with writes failing (`ENOSPC`) once `left` more bytes have been written: what
/// fits is written, as on a disk that fills up.
struct Failing {
    inner: Real,
    left: u64,
}

impl FileIo for Failing {
    fn write_at(&mut self, at: u64, slices: &[&[u8]]) -> std::io::Result<()> {
        let total: u64 = slices.iter().map(|s| s.len() as u64).sum();
        if total <= self.left {
            self.left -= total;
            return self.inner.write_at(at, slices);
        }
        let fits = slices.concat();
        self.inner.write_at(at, &[&fits[..self.left as usize]])?;
        self.left = 0;
        Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
    }

    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }
}
