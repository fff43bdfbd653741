//! Encoders of the HDF5 structures h5py writes by default (the file format's version-0
//! structures, none of them checksummed): superblock 0, object header 1 and its messages, group
//! B-tree nodes (version 1, type 0), symbol-table nodes, local heaps and global heap collections.
//! Byte layouts from the HDF5 file format specification; the message bodies are those h5py 3.16
//! writes for the original's datasets (`tests/oldh5_layout.py` prints them).

use super::{INTERNAL_K, LEAF_K, UNDEF};

/// Bytes being laid out at a yet unknown file address: every address written through
/// [`Buf::addr`] is relative to the start of the buffer and recorded, so that
/// [`Buf::relocate`] can move the buffer to its final place.
#[derive(Default)]
pub(crate) struct Buf {
    pub(crate) bytes: Vec<u8>,
    relocations: Vec<usize>,
    /// Where `bytes` start, relative to the start of the laid out region (bytes before them,
    /// such as an image's floats, are written from elsewhere).
    origin: u64,
}

impl Buf {
    /// A buffer whose bytes start `origin` bytes into the region being laid out, with room for
    /// `bytes` bytes.
    pub(crate) fn with_capacity(origin: u64, bytes: usize) -> Self {
        Self { bytes: Vec::with_capacity(bytes), relocations: Vec::with_capacity(256), origin }
    }

    /// Where the next byte goes, relative to the start of the region.
    pub(crate) fn here(&self) -> u64 {
        self.origin + self.bytes.len() as u64
    }

    pub(crate) fn put(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    /// An address relative to the start of this buffer.
    pub(crate) fn addr(&mut self, relative: u64) {
        self.relocations.push(self.bytes.len());
        self.u64(relative);
    }

    /// Zero bytes up to a multiple of 8.
    pub(crate) fn pad8(&mut self) {
        let len =
            self.bytes.len() + (self.here() as usize).next_multiple_of(8) - self.here() as usize;
        self.bytes.resize(len, 0);
    }

    /// Appends `other`, whose addresses are relative to the same region as this buffer's (a
    /// message body, for example).
    pub(crate) fn append(&mut self, other: Buf) {
        debug_assert_eq!(other.origin, 0);
        let start = self.bytes.len();
        self.relocations.extend(other.relocations.iter().map(|r| r + start));
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// The bytes, every recorded address moved by `base` (where the region starts in the file).
    pub(crate) fn relocate(mut self, base: u64) -> Vec<u8> {
        for &r in &self.relocations {
            add_at(&mut self.bytes, r, base);
        }
        self.bytes
    }
}

fn add_at(bytes: &mut [u8], at: usize, by: u64) {
    debug_assert!(at + 8 <= bytes.len());
    let field: &mut [u8; 8] = (&mut bytes[at..at + 8]).try_into().expect("8 bytes");
    *field = (u64::from_le_bytes(*field) + by).to_le_bytes();
}

/// An address field: relative to the buffer being built, or absolute (already in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addr {
    Rel(u64),
    Abs(u64),
}

impl Addr {
    /// The address, if absolute.
    pub(crate) fn abs(self) -> Option<u64> {
        match self {
            Addr::Abs(a) => Some(a),
            Addr::Rel(_) => None,
        }
    }
}

impl Buf {
    pub(crate) fn put_addr(&mut self, a: Addr) {
        match a {
            Addr::Rel(r) => self.addr(r),
            Addr::Abs(a) => self.u64(a),
        }
    }
}

/// Size of superblock 0 with 8-byte offsets and lengths, its root symbol-table entry included.
pub(crate) const SUPERBLOCK_SIZE: usize = 96;
/// A symbol-table entry.
pub(crate) const ENTRY_SIZE: usize = 40;
/// A symbol-table node: header and room for 2K entries.
pub(crate) const SNOD_SIZE: usize = 8 + 2 * LEAF_K * ENTRY_SIZE;
/// A group B-tree node: header, 2K children and 2K+1 keys (heap offsets).
pub(crate) const TREE_SIZE: usize = 24 + 2 * INTERNAL_K * 8 + (2 * INTERNAL_K + 1) * 8;
/// The smallest global heap collection HDF5 reads (`H5HG_MINSIZE`).
const GCOL_MIN: usize = 4096;
/// A local heap without a free list (`H5HL_FREE_NULL`).
const HEAP_FREE_NULL: u64 = 1;

/// Superblock 0 (whose end is the root group's symbol-table entry).
pub(crate) fn superblock(eof: u64, root: &Entry) -> Vec<u8> {
    let mut b = Buf::default();
    b.put(b"\x89HDF\r\n\x1a\n");
    // Versions of the superblock, free-space storage, root group symbol table entry, (reserved),
    // shared header messages; sizes of offsets and lengths; (reserved).
    b.put(&[0, 0, 0, 0, 0, 8, 8, 0]);
    b.u16(LEAF_K as u16);
    b.u16(INTERNAL_K as u16);
    b.u32(0); // file consistency flags
    b.u64(0); // base address
    b.u64(UNDEF); // free-space info
    b.u64(eof);
    b.u64(UNDEF); // driver information block
    root.encode(&mut b);
    debug_assert_eq!(b.bytes.len(), SUPERBLOCK_SIZE);
    b.bytes
}

/// A symbol-table entry: a link name (local heap offset) and the object it names; groups cache
/// their B-tree and heap addresses in the scratch pad (cache type 1), as HDF5 does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: u64,
    pub(crate) header: Addr,
    pub(crate) group: Option<(Addr, Addr)>,
}

impl Entry {
    pub(crate) fn encode(&self, b: &mut Buf) {
        b.u64(self.name);
        b.put_addr(self.header);
        match self.group {
            Some((tree, heap)) => {
                b.u32(1);
                b.u32(0);
                b.put_addr(tree);
                b.put_addr(heap);
            }
            None => b.put(&[0; 24]),
        }
    }
}

/// A message of an object header: type, flags, body (padded to 8 bytes when written).
pub(crate) struct Message {
    pub(crate) kind: u16,
    pub(crate) flags: u8,
    pub(crate) body: Buf,
}

impl Message {
    pub(crate) fn new(kind: u16, flags: u8, body: Buf) -> Self {
        Self { kind, flags, body }
    }

    /// A message copied as it is from another header (its addresses are absolute).
    pub(crate) fn raw(kind: u16, flags: u8, body: &[u8]) -> Self {
        let mut b = Buf::default();
        b.put(body);
        Self { kind, flags, body: b }
    }
}

/// Object header version 1 holding `messages`, appended to `out`; returns its address.
pub(crate) fn object_header(out: &mut Buf, messages: Vec<Message>) -> u64 {
    let at = out.here();
    debug_assert_eq!(at % 8, 0, "objects start at multiples of 8");
    let size: usize = messages.iter().map(|m| 8 + m.body.bytes.len().next_multiple_of(8)).sum();
    out.put(&[1, 0]); // version, reserved
    out.u16(messages.len() as u16);
    out.u32(1); // reference count
    out.u32(size as u32);
    out.u32(0); // alignment of the first message
    for m in messages {
        let (body, len) = (m.body.bytes.len(), m.body.bytes.len().next_multiple_of(8));
        out.u16(m.kind);
        out.u16(len as u16);
        out.put(&[m.flags, 0, 0, 0]);
        out.append(m.body);
        out.put(&[0; 8][..len - body]);
    }
    at
}

/// Dataspace message version 1, with maximum dimensions equal to the dimensions (h5py's), or a
/// scalar.
pub(crate) fn dataspace(dims: &[usize]) -> Message {
    let mut b = Buf::default();
    let flags = u8::from(!dims.is_empty());
    b.put(&[1, dims.len() as u8, flags, 0, 0, 0, 0, 0]);
    for _ in 0..=usize::from(flags) {
        for &n in dims {
            b.u64(n as u64);
        }
    }
    Message::new(0x0001, 0, b)
}

/// Datatype message: IEEE float32 little-endian.
pub(crate) fn f32_type() -> Message {
    let mut b = Buf::default();
    b.put(&[0x11, 0x20, 0x1f, 0x00]);
    b.u32(4);
    b.u16(0); // bit offset
    b.u16(32); // precision
    b.put(&[23, 8, 0, 23]); // exponent location, size; mantissa location, size
    b.u32(127); // exponent bias
    Message::new(0x0003, 1, b)
}

/// Datatype message: variable-length UTF-8 string (h5py's `str`), on a base type of bytes.
pub(crate) fn vlen_str_type() -> Message {
    let mut b = Buf::default();
    b.put(&[0x19, 0x01, 0x01, 0x00]); // class 9 version 1; string, null-terminated, UTF-8
    b.u32(16);
    b.put(&[0x10, 0x00, 0x00, 0x00]); // base: fixed-point version 1, unsigned
    b.u32(1);
    b.u16(0);
    b.u16(8);
    Message::new(0x0003, 1, b)
}

/// Fill value message version 2 as h5py's datasets carry it: allocation late, the library's
/// default value; written at allocation for strings, if set for floats.
pub(crate) fn fill_value(strings: bool) -> Message {
    let mut b = Buf::default();
    b.put(&[2, 2, if strings { 0 } else { 2 }, 1]);
    b.u32(0);
    Message::new(0x0005, 1, b)
}

/// Data layout message version 3: contiguous storage at `at`, `size` bytes.
pub(crate) fn contiguous(at: Addr, size: u64) -> Message {
    let mut b = Buf::default();
    b.put(&[3, 1]);
    b.put_addr(at);
    b.u64(size);
    Message::new(0x0008, 0, b)
}

/// Symbol table message: an old-style group's B-tree and local heap.
pub(crate) fn symbol_table(tree: Addr, heap: Addr) -> Message {
    let mut b = Buf::default();
    b.put_addr(tree);
    b.put_addr(heap);
    Message::new(0x0011, 0, b)
}

/// Attribute message version 1: a scalar variable-length UTF-8 string whose bytes are object
/// `index` of the global heap collection at `collection`.
pub(crate) fn str_attribute(name: &str, len: usize, collection: Addr, index: u32) -> Message {
    let dtype = vlen_str_type().body.bytes;
    let space = dataspace(&[]).body.bytes;
    let mut b = Buf::default();
    b.put(&[1, 0]);
    b.u16(name.len() as u16 + 1);
    b.u16(dtype.len() as u16);
    b.u16(space.len() as u16);
    b.put(name.as_bytes());
    b.put(&[0]);
    b.pad8();
    b.put(&dtype);
    b.pad8();
    b.put(&space);
    b.pad8();
    vlen_ref(&mut b, len, collection, index);
    Message::new(0x000c, 0, b)
}

/// Attribute message version 1: a scalar little-endian int64 (h5py's `int`), its value inline.
pub(crate) fn i64_attribute(name: &str, value: i64) -> Message {
    let mut dtype = Buf::default();
    dtype.put(&[0x10, 0x08, 0x00, 0x00]); // fixed-point version 1, little-endian, signed
    dtype.u32(8);
    dtype.u16(0); // bit offset
    dtype.u16(64); // precision
    let space = dataspace(&[]).body.bytes;
    let mut b = Buf::default();
    b.put(&[1, 0]);
    b.u16(name.len() as u16 + 1);
    b.u16(dtype.bytes.len() as u16);
    b.u16(space.len() as u16);
    b.put(name.as_bytes());
    b.put(&[0]);
    b.pad8();
    b.put(&dtype.bytes);
    b.pad8();
    b.put(&space);
    b.pad8();
    b.put(&value.to_le_bytes());
    Message::new(0x000c, 0, b)
}

/// A variable-length element: its length and where its bytes lie in a global heap.
pub(crate) fn vlen_ref(b: &mut Buf, len: usize, collection: Addr, index: u32) {
    b.u32(len as u32);
    b.put_addr(collection);
    b.u32(index);
}

/// A global heap collection holding `objects` (indices 1, 2, ...), at least HDF5's minimum
/// size, the rest one free-space object.
pub(crate) fn global_heap<'a>(out: &mut Buf, objects: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let at = out.here();
    debug_assert_eq!(at % 8, 0, "objects start at multiples of 8");
    let size_at = out.bytes.len() + 8;
    out.put(b"GCOL");
    out.put(&[1, 0, 0, 0]);
    out.u64(0); // size, below
    for (i, o) in objects.into_iter().enumerate() {
        out.u16(i as u16 + 1);
        out.u16(0); // reference count
        out.u32(0);
        out.u64(o.len() as u64);
        out.put(o);
        out.pad8();
    }
    let used = (out.here() - at) as usize;
    let size = (used + 16).max(GCOL_MIN);
    out.u16(0);
    out.u16(0);
    out.u32(0);
    out.u64((size - used) as u64);
    out.bytes.resize(out.bytes.len() + size - used - 16, 0);
    out.bytes[size_at..size_at + 8].copy_from_slice(&(size as u64).to_le_bytes());
    at
}

/// The data segment of a local heap: names at 8-byte aligned offsets, the empty name at 0.
#[derive(Clone, Default)]
pub(crate) struct HeapData {
    pub(crate) bytes: Vec<u8>,
}

impl HeapData {
    pub(crate) fn new() -> Self {
        Self { bytes: vec![0; 8] }
    }

    /// Adds a name; returns its offset.
    pub(crate) fn add(&mut self, name: &str) -> u64 {
        let at = self.bytes.len() as u64;
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.bytes.resize(self.bytes.len().next_multiple_of(8), 0);
        at
    }
}

/// A local heap's header (no free space): its data segment is `size` bytes at `data`.
pub(crate) fn heap_header(out: &mut Buf, size: usize, data: Addr) -> u64 {
    let at = out.here();
    out.put(b"HEAP");
    out.put(&[0, 0, 0, 0]);
    out.u64(size as u64);
    out.u64(HEAP_FREE_NULL);
    out.put_addr(data);
    at
}

/// A symbol-table node holding `entries` (at most 2K, sorted by name).
pub(crate) fn symbol_node(out: &mut Buf, entries: &[Entry]) -> u64 {
    debug_assert!(entries.len() <= 2 * LEAF_K);
    let (at, start) = (out.here(), out.bytes.len());
    out.put(b"SNOD");
    out.put(&[1, 0]);
    out.u16(entries.len() as u16);
    for e in entries {
        e.encode(out);
    }
    out.bytes.resize(start + SNOD_SIZE, 0);
    at
}

/// A group B-tree node at `level` (0: its children are symbol-table nodes): `children[i]` holds
/// the names after key `keys[i]` up to `keys[i + 1]` (heap offsets; `keys` has one more).
pub(crate) fn tree_node(
    out: &mut Buf,
    level: u8,
    siblings: (Addr, Addr),
    keys: &[u64],
    children: &[Addr],
) -> u64 {
    debug_assert!(children.len() <= 2 * INTERNAL_K && keys.len() == children.len() + 1);
    let (at, start) = (out.here(), out.bytes.len());
    out.put(b"TREE");
    out.put(&[0, level]);
    out.u16(children.len() as u16);
    out.put_addr(siblings.0);
    out.put_addr(siblings.1);
    for (k, c) in keys.iter().zip(children) {
        out.u64(*k);
        out.put_addr(*c);
    }
    out.u64(*keys.last().expect("one key more than children"));
    out.bytes.resize(start + TREE_SIZE, 0);
    at
}

/// A small group of fixed members: its object header, B-tree (one node), symbol-table node and
/// local heap, appended to `out`. `members` are (name, entry without its name offset); returns
/// the entry of the group itself, without name.
pub(crate) fn small_group(out: &mut Buf, members: &[(&str, Entry)]) -> Entry {
    let mut heap = HeapData::new();
    let mut entries: Vec<(&str, Entry)> =
        members.iter().map(|&(name, e)| (name, Entry { name: heap.add(name), ..e })).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let sorted: Vec<Entry> = entries.iter().map(|(_, e)| *e).collect();
    let snod = symbol_node(out, &sorted);
    let last = sorted.last().map_or(0, |e| e.name);
    let children: Vec<Addr> = if sorted.is_empty() { vec![] } else { vec![Addr::Rel(snod)] };
    let keys: Vec<u64> = if sorted.is_empty() { vec![0] } else { vec![0, last] };
    let tree = tree_node(out, 0, (Addr::Abs(UNDEF), Addr::Abs(UNDEF)), &keys, &children);
    let data = out.here();
    out.put(&heap.bytes);
    let heap_at = heap_header(out, heap.bytes.len(), Addr::Rel(data));
    let header = object_header(out, vec![symbol_table(Addr::Rel(tree), Addr::Rel(heap_at))]);
    Entry { name: 0, header: Addr::Rel(header), group: Some((Addr::Rel(tree), Addr::Rel(heap_at))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocation_moves_only_addresses() {
        let mut b = Buf::default();
        b.u64(7);
        b.addr(3);
        let mut outer = Buf::default();
        outer.put(&[0; 16]);
        outer.append(b);
        let bytes = outer.relocate(100);
        assert_eq!(u64::from_le_bytes(bytes[16..24].try_into().unwrap()), 7);
        assert_eq!(u64::from_le_bytes(bytes[24..32].try_into().unwrap()), 100 + 3);
    }

    #[test]
    fn messages_match_the_bytes_h5py_writes() {
        // From a file h5py 3.16 wrote (tests/oldh5_layout.py).
        let hex = |m: Message| m.body.bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(f32_type()), "11201f000400000000002000170800177f000000");
        assert_eq!(hex(vlen_str_type()), "1901010010000000100000000100000000000800");
        assert_eq!(hex(fill_value(false)), "0202020100000000");
        assert_eq!(hex(fill_value(true)), "0202000100000000");
        assert_eq!(
            hex(dataspace(&[2, 3])),
            "0102010000000000020000000000000003000000000000000200000000000000\
             0300000000000000"
        );
        assert_eq!(hex(dataspace(&[])), "0100000000000000");
        // h5py's `f.attrs['fdim'] = np.int64(768)`.
        assert_eq!(
            hex(i64_attribute("fdim", 768)),
            "010005000c0008006664696d000000001008000008000000000040000000000001000000000000000003\
             000000000000"
        );
    }

    #[test]
    fn collections_are_at_least_the_minimum_and_end_in_free_space() {
        let mut b = Buf::default();
        global_heap(&mut b, [&b"ab"[..], b""]);
        assert_eq!(b.bytes.len(), GCOL_MIN);
        assert_eq!(u64::from_le_bytes(b.bytes[8..16].try_into().unwrap()), 4096);
        let free = 16 + 24 + 16;
        assert_eq!(u64::from_le_bytes(b.bytes[free + 8..free + 16].try_into().unwrap()), 4040);
    }
}
