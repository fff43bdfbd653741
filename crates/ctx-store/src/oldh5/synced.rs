//! The sync record of a `txt_ctx.hdf5` written by the native writer: a copy of the superblock
//! as of the last completed sync, with the machine's boot id, in a sector that HDF5 does not
//! use (no object points to it; h5py never reads it).
//!
//! Between two syncs the writer commits each batch by rewriting the superblock without a
//! barrier, so a power cut can leave that superblock on the disk ahead of the data it points
//! to. A killed process cannot (the kernel's page cache holds every write it made), and the
//! boot id tells the two apart: a file last synced under another boot id than the current one
//! is rolled back to its sync record before it is opened for writing.

use std::os::unix::fs::FileExt;
use std::path::Path;

use super::encode::SUPERBLOCK_SIZE;
use super::parse::u64_at;

/// Where the record lies: the second 512-byte sector, which a write never tears.
pub(crate) const AT: u64 = 512;
/// Where the objects of a new file start, past the record's sector.
pub(crate) const DATA_START: u64 = 1024;

const MAGIC: &[u8; 8] = b"XCTXSYNC";
const VERSION: u32 = 1;
const BOOT_LEN: usize = 40;
/// Magic, version, finished flag, boot id, superblock, CRC-32.
const LEN: usize = 8 + 4 + 4 + BOOT_LEN + SUPERBLOCK_SIZE + 4;

/// A sync record: the superblock that was on the disk after the sync, the boot it was in, and
/// whether the writer had finished the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyncRecord {
    pub(crate) boot: String,
    pub(crate) superblock: Vec<u8>,
    pub(crate) finished: bool,
}

impl SyncRecord {
    /// The record of `superblock`, synced in this boot.
    pub(crate) fn now(superblock: Vec<u8>, finished: bool) -> Self {
        Self { boot: boot_id(), superblock, finished }
    }

    /// The end of the file that the recorded superblock commits.
    pub(crate) fn eof(&self) -> u64 {
        u64_at(&self.superblock, 40)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&u32::from(self.finished).to_le_bytes());
        let mut boot = [0u8; BOOT_LEN];
        let n = self.boot.len().min(BOOT_LEN);
        boot[..n].copy_from_slice(&self.boot.as_bytes()[..n]);
        b.extend_from_slice(&boot);
        b.extend_from_slice(&self.superblock);
        let mut crc = flate2::Crc::new();
        crc.update(&b);
        b.extend_from_slice(&crc.sum().to_le_bytes());
        b
    }

    /// The record in `file`, if it has a valid one.
    pub(crate) fn read(file: &std::fs::File) -> Option<Self> {
        let mut b = vec![0u8; LEN];
        file.read_exact_at(&mut b, AT).ok()?;
        let (body, sum) = b.split_at(LEN - 4);
        let mut crc = flate2::Crc::new();
        crc.update(body);
        if &body[..8] != MAGIC
            || body[8..12] != VERSION.to_le_bytes()
            || sum != crc.sum().to_le_bytes()
        {
            return None;
        }
        let finished = body[12..16] != [0; 4];
        let boot = &body[16..16 + BOOT_LEN];
        let boot = &boot[..boot.iter().position(|&c| c == 0).unwrap_or(BOOT_LEN)];
        let boot = String::from_utf8_lossy(boot).into_owned();
        Some(Self { boot, superblock: body[16 + BOOT_LEN..].to_vec(), finished })
    }

    /// Whether a power cut may have come since the record was written: the machine restarted.
    pub(crate) fn written_in_another_boot(&self) -> bool {
        crate::testing::rebooted() || self.boot != boot_id()
    }
}

/// This boot of the machine (Linux's random boot id; empty elsewhere).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Where a file written by the native writer stands: see [`crate::CommitState`].
pub(crate) fn state(file: &std::fs::File) -> std::io::Result<Option<(bool, bool)>> {
    let Some(record) = SyncRecord::read(file) else { return Ok(None) };
    let mut now = vec![0u8; SUPERBLOCK_SIZE];
    file.read_exact_at(&mut now, 0)?;
    let synced = now == record.superblock;
    Ok(Some((synced, synced && record.finished)))
}

/// Rolls `file` back to its sync record where a power cut may have left batches committed
/// after it torn; returns whether it did. `path` names the file in the log.
pub(crate) fn roll_back_if_cut(path: &Path, file: &std::fs::File) -> std::io::Result<bool> {
    let Some(record) = SyncRecord::read(file) else { return Ok(false) };
    if !record.written_in_another_boot() {
        return Ok(false);
    }
    let mut now = vec![0u8; SUPERBLOCK_SIZE];
    file.read_exact_at(&mut now, 0)?;
    if now == record.superblock && file.metadata()?.len() >= record.eof() {
        return Ok(false);
    }
    tracing::warn!(
        "{}: the machine restarted since the file was last synced; rolling it back to that sync",
        path.display()
    );
    file.write_all_at(&record.superblock, 0)?;
    file.set_len(record.eof())?;
    file.sync_data()?;
    Ok(true)
}
