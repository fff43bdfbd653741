//! Checks of the structures the HDF5 library trusts, made before it sees them: a damaged file
//! (an interrupted copy leaves zeroed or missing blocks) ends in [`Error::Damaged`], not in a
//! loop or a crash inside the library.
//!
//! - Global heap collections (variable-length strings) are walked as HDF5 walks them, which
//!   loops forever on a zero-sized free-space object and trusts every size it reads: sizes within
//!   the collection and the file, each string's object present and of the string's length.
//! - Group B-trees and symbol-table nodes (superblock 0 files): inside the file, no node visited
//!   twice, levels decreasing by one towards the leaves, counts within the nodes' capacity.
//! - Chunk B-trees of chunked datasets likewise, their chunks inside the file.
//! - Object headers (version 1 and 2): messages inside their chunks, continuations inside the
//!   file and not revisited; attributes holding strings are checked as above, those held in the
//!   header and those in dense storage (`dense_attrs`).
//!
//! [`check`] (run once per process and file by `access::file`) checks what opening and
//! detecting a file touches: the superblock, the root group's header, attributes and index, and
//! the objects below the root (all of them in files of at most [`FULL_WALK_MEMBERS`] members,
//! else those of the first image, the others as they are opened: [`member`]). Files in HDF5's
//! newer format (superblock 2 or 3: checksummed headers and link indexes) have their datasets'
//! chunk B-trees, which carry no checksum, checked as they are opened ([`dataset_chunk_index`]);
//! `access` remembers what is left to check. The texts of `txt_ctx` are read and checked by
//! `read`; other string datasets by [`strings`].

use std::collections::HashSet;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::dense_attrs;
use super::encode::{Addr, Entry};
use super::parse::{self, RawMessage, Reader, u16_at, u32_at, u64_at};
use crate::error::{Error, Result};

/// What is wrong and where; the caller names the file and the object.
#[derive(Debug)]
pub(crate) struct Bad {
    pub(crate) offset: Option<u64>,
    pub(crate) reason: String,
}

impl Bad {
    pub(crate) fn at(offset: u64, reason: impl Into<String>) -> Self {
        Self { offset: Some(offset), reason: reason.into() }
    }

    pub(crate) fn error(self, path: &Path, object: &str) -> Error {
        damaged(path, object, self.offset, self.reason)
    }
}

pub(crate) use super::parse::damaged;

/// The smallest global heap collection HDF5 makes and reads (`H5HG_MINSIZE`).
const GCOL_MIN: u64 = 4096;
/// The largest one accepted (HDF5 makes them 4 KiB, or one object's size).
const GCOL_MAX: u64 = 1 << 30;
/// Bytes of one variable-length element: length (4), collection address (8), index (4).
pub(crate) const ELEMENT: usize = 16;

/// A global heap collection as HDF5 reads it: its bytes and where each object's data lie.
pub(crate) struct Collection {
    pub(crate) at: u64,
    bytes: Vec<u8>,
    objects: Vec<Option<(usize, usize)>>,
}

impl Collection {
    /// The size of the collection at `at` whose first 16 bytes are `head`.
    pub(crate) fn size(head: &[u8], at: u64, file_len: u64) -> Result<u64, Bad> {
        if head.len() < 16 || &head[..4] != b"GCOL" || head[4] != 1 {
            return Err(Bad::at(at, "no global heap collection (signature or version)"));
        }
        let size = u64_at(head, 8);
        if !(GCOL_MIN..=GCOL_MAX).contains(&size) {
            return Err(Bad::at(at, format!("a global heap collection of {size} bytes")));
        }
        if at.checked_add(size).is_none_or(|end| end > file_len) {
            return Err(Bad::at(
                at,
                format!("a global heap collection of {size} bytes runs past the file's end"),
            ));
        }
        Ok(size)
    }

    /// The collection at `at` (`bytes`, of the size [`size`](Self::size) read), walked as HDF5
    /// walks it; anything HDF5 would loop on or read past is [`Bad`].
    pub(crate) fn parse(at: u64, bytes: Vec<u8>) -> Result<Self, Bad> {
        let end = bytes.len();
        let mut objects: Vec<Option<(usize, usize)>> = Vec::new();
        let mut free = None;
        let mut p = 16;
        while p < end {
            if p + 16 > end {
                // Too small for an object header: free space, unless some was listed already.
                if free.is_some() {
                    return Err(Bad::at(at, "two free spaces in a global heap collection"));
                }
                free = Some(end - p);
                break;
            }
            let (index, size) = (usize::from(u16_at(&bytes, p)), u64_at(&bytes, p + 8));
            let need = match index {
                0 => Some(size),
                _ => size.checked_next_multiple_of(8).and_then(|s| s.checked_add(16)),
            };
            let Some(need) = need.filter(|&n| n > 0 && n <= (end - p) as u64) else {
                return Err(Bad::at(
                    at,
                    format!(
                        "global heap object {index} at byte {} has size {size}, which {}",
                        at + p as u64,
                        if size == 0 { "never ends the collection" } else { "overruns it" }
                    ),
                ));
            };
            if index == 0 {
                free = Some(need as usize);
            } else {
                if objects.len() <= index {
                    objects.resize(index + 1, None);
                }
                if objects[index].replace((p + 16, size as usize)).is_some() {
                    return Err(Bad::at(at, format!("global heap object {index} is listed twice")));
                }
            }
            p += need as usize;
        }
        if free.is_some_and(|f| f % 8 != 0) {
            return Err(Bad::at(at, "the global heap's free space is not a multiple of 8 bytes"));
        }
        Ok(Self { at, bytes, objects })
    }

    /// Reads and parses the collection at `at` of `file` (`file_len` bytes).
    pub(crate) fn read(file: &std::fs::File, at: u64, file_len: u64) -> Result<Self, Bad> {
        let io = |e: std::io::Error| Bad::at(at, format!("global heap collection: {e}"));
        let mut head = [0u8; 16];
        if at.checked_add(16).is_none_or(|end| end > file_len) {
            return Err(Bad::at(at, "a global heap collection past the file's end"));
        }
        file.read_exact_at(&mut head, at).map_err(io)?;
        let size = Self::size(&head, at, file_len)?;
        let mut bytes = vec![0u8; size as usize];
        file.read_exact_at(&mut bytes, at).map_err(io)?;
        Self::parse(at, bytes)
    }

    /// The data of object `index`.
    pub(crate) fn object(&self, index: u32) -> Option<&[u8]> {
        let (start, len) = (*self.objects.get(index as usize)?)?;
        Some(&self.bytes[start..start + len])
    }

    /// [`string`](Self::string)'s bytes, their UTF-8 not checked (the caller checks many at once).
    pub(crate) fn text_bytes(&self, len: usize, index: u32) -> Result<&[u8], Bad> {
        self.object(index).filter(|t| t.len() == len).ok_or_else(|| {
            Bad::at(self.at, format!("global heap object {index} is missing or not {len} bytes"))
        })
    }

    /// The string a variable-length element (length, address: this collection, `index`)
    /// refers to: the object must exist and hold exactly `len` bytes of UTF-8.
    pub(crate) fn string(&self, len: usize, index: u32) -> Result<&str, Bad> {
        let text = self.text_bytes(len, index)?;
        std::str::from_utf8(text)
            .map_err(|e| Bad::at(self.at, format!("global heap object {index}: not UTF-8 ({e})")))
    }
}

/// A variable-length element: length, collection address, object index.
pub(crate) fn element(e: &[u8]) -> (usize, u64, u32) {
    (u32_at(e, 0) as usize, u64_at(e, 4), u32_at(e, 12))
}

/// Decodes variable-length strings of one file, keeping the collections last read.
pub(crate) struct Strings<'f> {
    file: &'f std::fs::File,
    len: u64,
    kept: Vec<Collection>,
}

/// Collections [`Strings`] keeps.
const KEPT: usize = 8;

impl<'f> Strings<'f> {
    pub(crate) fn new(file: &'f std::fs::File, len: u64) -> Self {
        Self { file, len, kept: Vec::new() }
    }

    /// The string of element `e` (16 bytes).
    pub(crate) fn get(&mut self, e: &[u8]) -> Result<String, Bad> {
        let (len, at, index) = element(e);
        if at == 0 {
            return match len {
                0 => Ok(String::new()),
                _ => Err(Bad { offset: None, reason: format!("a {len}-byte string, no heap") }),
            };
        }
        let i = match self.kept.iter().position(|c| c.at == at) {
            Some(i) => i,
            None => {
                if self.kept.len() == KEPT {
                    self.kept.remove(0);
                }
                self.kept.push(Collection::read(self.file, at, self.len)?);
                self.kept.len() - 1
            }
        };
        Ok(self.kept[i].string(len, index)?.to_owned())
    }
}

/// Members of the root group below which [`check`] checks every object; in larger files, the
/// objects of the first image (which `detect` looks at) only.
pub(crate) const FULL_WALK_MEMBERS: usize = 4096;
/// Members of a group below the root checked (an image's views, a batch's datasets).
const MEMBERS_CHECKED: usize = 64;

/// What [`check`] left to check when objects are opened (`access`).
pub(crate) enum Later {
    /// Nothing: every structure opening the file's objects reads was checked.
    Nothing,
    /// The root group's members not checked yet (names, entries).
    Members(Vec<(Box<str>, Entry)>),
    /// The chunk B-trees of the datasets (a file with version 2 object headers).
    ChunkIndexes,
}

/// Checks the structures of `raw` (`path`, `len` bytes) that opening, detecting and summarising
/// it make HDF5 read (see the module's documentation); returns what is left to check when
/// objects are opened. Files this cannot read (not HDF5, other sizes of offsets, a userblock,
/// shorter than their superblock says) are left to the library, which reports them.
pub(crate) fn check(path: &Path, raw: &std::fs::File, len: u64) -> Result<Later> {
    let mut r = Reader::new(path, raw, len);
    let mut head = [0u8; 104];
    if len < head.len() as u64 || raw.read_exact_at(&mut head, 0).is_err() {
        return Ok(Later::Nothing);
    }
    if &head[..8] != b"\x89HDF\r\n\x1a\n" {
        return Ok(Later::Nothing);
    }
    let mut seen = HashSet::new();
    match head[8] {
        0 | 1 => {
            let root = if head[8] == 0 { 56 } else { 60 };
            let plain = head[13] == 8 && head[14] == 8 && u64_at(&head, 24) == 0;
            if !plain || u64_at(&head, 40) > len {
                return Ok(Later::Nothing);
            }
            let rest = check_object(&mut r, u64_at(&head, root + 8), "/", 3, true, &mut seen)?;
            Ok(if rest.is_empty() { Later::Nothing } else { Later::Members(rest) })
        }
        2 | 3 => {
            let plain = head[9] == 8 && head[10] == 8 && u64_at(&head, 12) == 0;
            if !plain || u64_at(&head, 28) > len {
                return Ok(Later::Nothing);
            }
            let messages = header_v2(&mut r, u64_at(&head, 36), "/", &mut seen)?;
            attributes(&mut r, &messages, "/")?;
            Ok(Later::ChunkIndexes)
        }
        _ => Ok(Later::Nothing),
    }
}

/// Checks a member of the root group (object header at `at`) and what lies below it, as
/// [`check`] checks every member of smaller files.
pub(crate) fn member(r: &mut Reader, at: u64, name: &str) -> Result<()> {
    check_object(r, at, name, 2, false, &mut HashSet::new()).map(drop)
}

/// Checks the chunk index of the dataset whose object header (version 1 or 2) is at `at`.
pub(crate) fn dataset_chunk_index(r: &mut Reader, at: u64, object: &str) -> Result<()> {
    let messages = match r.bytes(at, 4, object)? {
        b"OHDR" => header_v2(r, at, object, &mut HashSet::new())?,
        _ => parse::header_messages(r, at, object)?,
    };
    for (kind, _, body) in &messages {
        if *kind == 0x0008 {
            chunk_index(r, body, object)?;
        }
    }
    Ok(())
}

/// Checks the object whose (version 1) header is at `at`: its messages, attributes, chunk
/// index, and for a group its index and, `depth` levels down, its members (all of them below the
/// root, at most [`MEMBERS_CHECKED`] below others). Returns the root's members left unchecked:
/// all but the first image of a root of more than [`FULL_WALK_MEMBERS`] members.
fn check_object(
    r: &mut Reader,
    at: u64,
    object: &str,
    depth: usize,
    root: bool,
    seen: &mut HashSet<u64>,
) -> Result<Vec<(Box<str>, Entry)>> {
    if !seen.insert(at) {
        return Ok(Vec::new()); // a hard link to an object checked already
    }
    let messages = parse::header_messages(r, at, object)?;
    attributes(r, &messages, object)?;
    for (kind, _, body) in &messages {
        if *kind == 0x0008 {
            chunk_index(r, body, object)?;
        }
    }
    let Some(stab) = messages.iter().find(|m| m.0 == 0x0011) else { return Ok(Vec::new()) };
    if stab.2.len() < 16 {
        return Err(r.corrupt(object, "short symbol table message".into()));
    }
    let heap = parse::local_heap(r, u64_at(&stab.2, 8), object)?;
    let mut members = Vec::new();
    parse::walk(r, u64_at(&stab.2, 0), &heap, 0, &mut members)?;
    if depth == 0 {
        return Ok(Vec::new());
    }
    let (below, rest): (Vec<(Box<str>, Entry)>, _) = if !root {
        (members.into_iter().take(MEMBERS_CHECKED).collect(), Vec::new())
    } else if members.len() <= FULL_WALK_MEMBERS {
        (members, Vec::new())
    } else {
        // The first image, as `detect` takes it (the smallest id, `ImageId`'s order), now; the
        // rest when opened.
        let first = members
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (crate::id::ImageId::new(&**name), i))
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, i)| i);
        let mut rest = members;
        (first.map(|i| rest.swap_remove(i)).into_iter().collect(), rest)
    };
    for (name, e) in below {
        let Addr::Abs(header) = e.header else { continue };
        let child = if root { name.to_string() } else { format!("{object}/{name}") };
        check_object(r, header, &child, depth - 1, false, seen)?;
    }
    Ok(rest)
}

/// Checks the strings held by the attributes among `messages`.
fn attributes(r: &mut Reader, messages: &[RawMessage], object: &str) -> Result<()> {
    let mut strings = Strings::new(r.file(), r.len);
    // Shared attributes (flag 2) live elsewhere; HDF5 checks their checksummed storage.
    let held = messages.iter().filter(|(kind, flags, _)| *kind == 0x000c && flags & 2 == 0);
    let mut bodies: Vec<&[u8]> = held.map(|(_, _, body)| &body[..]).collect();
    // More attributes than a header holds: in a fractal heap, named by the attribute info.
    let mut dense = Vec::new();
    for (_, _, info) in messages.iter().filter(|m| m.0 == dense_attrs::ATTRIBUTE_INFO) {
        dense.extend(dense_attrs::messages(r, info, object)?);
    }
    bodies.extend(dense.iter().map(|b| &b[..]));
    for body in bodies {
        let Some(data) = attribute_strings(body) else { continue };
        for e in data.chunks_exact(ELEMENT) {
            strings.get(e).map_err(|b| b.error(r.path, &format!("{object} (attribute)")))?;
        }
    }
    Ok(())
}

/// The elements of an attribute message's data, if its type is a variable-length string.
fn attribute_strings(body: &[u8]) -> Option<&[u8]> {
    let version = *body.first()?;
    if body.len() < 8 {
        return None;
    }
    let (name, dtype, space) =
        (usize::from(u16_at(body, 2)), usize::from(u16_at(body, 4)), usize::from(u16_at(body, 6)));
    let pad = |n: usize| if version == 1 { n.next_multiple_of(8) } else { n };
    let start = match version {
        1 | 2 => 8,
        3 => 9,
        _ => return None,
    };
    let dtype_at = start + pad(name);
    let data_at = dtype_at + pad(dtype) + pad(space);
    let t = body.get(dtype_at..dtype_at + dtype)?;
    let vlen_string = t.len() >= 8 && t[0] & 0x0f == 9 && t[1] & 0x0f == 1;
    vlen_string.then(|| body.get(data_at..)).flatten()
}

/// Checks the chunk index of a layout message (version 3, chunked): a version 1 B-tree.
fn chunk_index(r: &mut Reader, layout: &[u8], object: &str) -> Result<()> {
    if layout.len() < 11 || layout[0] != 3 || layout[1] != 2 {
        return Ok(());
    }
    let dims = usize::from(layout[2]);
    let tree = u64_at(layout, 3);
    if tree == super::UNDEF {
        return Ok(()); // nothing written yet
    }
    let mut seen = HashSet::new();
    chunk_node(r, tree, dims, None, object, &mut seen)
}

/// Chunks per chunk B-tree node at most (2K, HDF5's K being 32 unless a file says otherwise).
const CHUNK_ENTRIES: usize = 2 * 256;

fn chunk_node(
    r: &mut Reader,
    at: u64,
    dims: usize,
    level: Option<u8>,
    object: &str,
    seen: &mut HashSet<u64>,
) -> Result<()> {
    let what = format!("{object} (chunk index)");
    if !seen.insert(at) {
        return Err(damaged(r.path, &what, Some(at), "a chunk B-tree node reached twice"));
    }
    let head: [u8; 24] = r.bytes(at, 24, &what)?.try_into().expect("24 bytes");
    if &head[..4] != b"TREE" || head[4] != 1 {
        return Err(damaged(r.path, &what, Some(at), "no chunk B-tree node (signature)"));
    }
    let (node_level, entries) = (head[5], usize::from(u16_at(&head, 6)));
    if level.is_some_and(|l| l != node_level) {
        return Err(damaged(r.path, &what, Some(at), format!("a node of level {node_level}")));
    }
    if entries > CHUNK_ENTRIES {
        return Err(damaged(r.path, &what, Some(at), format!("{entries} entries")));
    }
    let key = 8 + 8 * dims;
    let size = 24 + entries * (key + 8) + key;
    let b = r.bytes(at, size, &what)?.to_vec();
    for i in 0..entries {
        let k = 24 + i * (key + 8);
        let (bytes, child) = (u64::from(u32_at(&b, k)), u64_at(&b, k + key));
        if node_level == 0 {
            if child.checked_add(bytes).is_none_or(|end| end > r.len) {
                return Err(damaged(
                    r.path,
                    &what,
                    Some(child),
                    format!("a chunk of {bytes} bytes runs past the file's end"),
                ));
            }
        } else {
            chunk_node(r, child, dims, Some(node_level - 1), object, seen)?;
        }
    }
    Ok(())
}

/// Every message of the version 2 object header at `at`, continuations followed.
pub(crate) fn header_v2(
    r: &mut Reader,
    at: u64,
    object: &str,
    seen: &mut HashSet<u64>,
) -> Result<Vec<RawMessage>> {
    let what = format!("{object} (object header)");
    let bad = |r: &Reader, at: u64, reason: String| damaged(r.path, &what, Some(at), reason);
    let h = r.bytes(at, 6, &what)?.to_vec();
    if &h[..4] != b"OHDR" || h[4] != 2 {
        return Err(bad(r, at, "no version 2 object header (signature)".into()));
    }
    let flags = h[5];
    let mut o = 6 + if flags & 0x20 != 0 { 16 } else { 0 } + if flags & 0x10 != 0 { 4 } else { 0 };
    let width = 1usize << (flags & 3);
    let raw = r.bytes(at + o as u64, width, &what)?;
    let size = raw.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    o += width;
    let order = flags & 0x04 != 0;
    let header = if order { 6 } else { 4 };
    let mut blocks = vec![(at + o as u64, size)];
    let mut out = Vec::new();
    while let Some((start, size)) = blocks.pop() {
        if !seen.insert(start) {
            return Err(bad(r, start, "an object header continued twice into one place".into()));
        }
        if size > r.len {
            return Err(bad(r, start, format!("a header chunk of {size} bytes")));
        }
        let b = r.bytes(start, size as usize, &what)?.to_vec();
        let mut p = 0;
        while p + header <= b.len() {
            let (kind, len, mflags) = (u16::from(b[p]), usize::from(u16_at(&b, p + 1)), b[p + 3]);
            let Some(body) = b.get(p + header..p + header + len) else {
                return Err(bad(r, start + p as u64, "a message past its chunk".into()));
            };
            if kind == 0x0010 {
                if body.len() < 16 {
                    return Err(bad(r, start + p as u64, "a short continuation".into()));
                }
                let (next, next_len) = (u64_at(body, 0), u64_at(body, 8));
                if next_len < 8 || r.bytes(next, 4, &what)? != b"OCHK" {
                    return Err(bad(r, next, "no object header continuation (signature)".into()));
                }
                blocks.push((next + 4, next_len - 8));
            }
            out.push((kind, mflags, body.to_vec()));
            if out.len() > 1 << 16 {
                return Err(bad(r, at, "more than 65,536 messages".into()));
            }
            p += header + len;
        }
    }
    Ok(out)
}

/// The strings of a variable-length string dataset whose elements `bytes` holds, checked.
pub(crate) fn strings(
    path: &Path,
    object: &str,
    raw: &std::fs::File,
    file_len: u64,
    bytes: &[u8],
) -> Result<Vec<String>> {
    let mut s = Strings::new(raw, file_len);
    bytes.chunks_exact(ELEMENT).map(|e| s.get(e).map_err(|b| b.error(path, object))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(objects: &[&[u8]]) -> Vec<u8> {
        let mut b = crate::oldh5::encode::Buf::default();
        crate::oldh5::encode::global_heap(&mut b, objects.iter().copied());
        b.relocate(0)
    }

    #[test]
    fn collections_parse_as_written_and_reject_what_hdf5_loops_on() {
        let bytes = collection(&[b"a phrase", b"", b"another one"]);
        let c = Collection::parse(4096, bytes.clone()).unwrap();
        assert_eq!(c.string(8, 1).unwrap(), "a phrase");
        assert_eq!(c.string(0, 2).unwrap(), "");
        assert_eq!(c.string(11, 3).unwrap(), "another one");
        assert!(c.string(7, 1).is_err(), "a length other than the object's");
        assert!(c.string(1, 4).is_err(), "an object that is not there");

        // A zeroed block inside: a free-space object of size 0, which never ends the walk.
        let mut zeroed = bytes.clone();
        zeroed[32..544].fill(0);
        let e = Collection::parse(4096, zeroed).err().unwrap();
        assert_eq!(e.offset, Some(4096));
        assert!(e.reason.contains("never ends"), "{}", e.reason);

        // An object size past the collection.
        let mut long = bytes;
        long[16 + 8..16 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        let e = Collection::parse(4096, long).err().unwrap();
        assert!(e.reason.contains("overruns"), "{}", e.reason);
    }

    #[test]
    fn collection_sizes_are_bounded_by_the_file() {
        let bytes = collection(&[b"x"]);
        assert_eq!(Collection::size(&bytes, 0, 4096).unwrap(), 4096);
        assert!(Collection::size(&bytes, 8, 4096).is_err());
        assert!(Collection::size(&[0; 16], 0, 1 << 20).is_err());
    }

    #[test]
    fn attribute_messages_of_each_version_give_their_string_elements() {
        // Version 3: name "a" (NUL-ended), a variable-length string type, a scalar space.
        let mut body = vec![3, 0, 2, 0, 16, 0, 2, 0, 0];
        body.extend(b"a\0");
        body.extend([0x19, 0x01, 0, 0, 16, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0]);
        body.extend([2, 0]);
        body.extend([7u8; 16]);
        assert_eq!(attribute_strings(&body), Some(&[7u8; 16][..]));
        body[9 + 2] = 0x11; // a float type
        assert_eq!(attribute_strings(&body), None);
    }
}

/// Dense attributes ([`dense_attrs`]) as the file check meets them.
#[cfg(test)]
mod dense_attribute_tests {
    use hdf5::types::VarLenUnicode;

    use crate::error::{Error, Result};

    /// What [`super::check`] finds in `path`.
    fn check_file(path: &std::path::Path) -> Result<super::Later> {
        let raw = std::fs::File::open(path).unwrap();
        super::check(path, &raw, raw.metadata().unwrap().len())
    }

    /// A root of `n` string attributes, in the format our writers give files through the HDF5
    /// library (its 1.8 format: attributes past 8 in a fractal heap, named by a v2 B-tree).
    fn root_with_attributes(path: &std::path::Path, n: usize) -> Vec<u8> {
        let f = hdf5::File::with_options().with_fapl(|p| p.libver_v18()).create(path).unwrap();
        for i in 0..n {
            let value: VarLenUnicode = format!("value {i} {}", "x".repeat(i)).parse().unwrap();
            let name = format!("attribute_{i:02}");
            f.new_attr::<VarLenUnicode>()
                .create(name.as_str())
                .unwrap()
                .write_scalar(&value)
                .unwrap();
        }
        f.close().unwrap();
        std::fs::read(path).unwrap()
    }

    fn find(bytes: &[u8], signature: &[u8]) -> Option<usize> {
        bytes.windows(signature.len()).position(|w| w == signature)
    }

    /// Dense attributes (a heap of one direct block, and of an indirect block of several) read
    /// as written; a zeroed block in the global heap holding their strings is an error naming
    /// it, where HDF5 loops.
    #[test]
    fn strings_of_dense_attributes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        for (n, indirect) in [(12, false), (28, true)] {
            let path = dir.path().join(format!("{n}.h5"));
            let bytes = root_with_attributes(&path, n);
            assert!(find(&bytes, b"FRHP").is_some(), "{n} attributes: no dense storage");
            assert_eq!(find(&bytes, b"FHIB").is_some(), indirect, "{n} attributes");
            check_file(&path).unwrap();
            let file = hdf5::File::open(&path).unwrap();
            let last = format!("attribute_{:02}", n - 1);
            let value = file.attr(&last).unwrap().read_scalar::<VarLenUnicode>().unwrap();
            assert!(value.as_str().starts_with(&format!("value {}", n - 1)));
            drop(file);

            let heap = find(&bytes, b"GCOL\x01").unwrap();
            let mut damaged = bytes.clone();
            damaged[heap + 32..heap + 544].fill(0);
            let bad = dir.path().join(format!("{n}-damaged.h5"));
            std::fs::write(&bad, damaged).unwrap();
            match check_file(&bad) {
                Err(e @ Error::Damaged { .. }) => {
                    let text = e.to_string();
                    assert!(text.contains(&format!("at byte {heap}")), "{text}");
                }
                Err(e) => panic!("{n} attributes: {e}"),
                Ok(_) => panic!("{n} attributes: a zeroed heap block opened"),
            }
        }
    }
}
