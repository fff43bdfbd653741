//! The root group's index, kept in memory and written copy-on-write: the symbol-table nodes a
//! batch changed and a new B-tree over all of them go after the file's end, where the last
//! committed state does not look; the superblock, rewritten last, is the commit.

use super::INTERNAL_K;
use super::LEAF_K;
use super::encode::{self, Addr, Buf, Entry, HeapData, Message, TREE_SIZE};

/// A symbol-table node's worth of sorted members, and where it lies in the file (none: changed
/// since the last commit).
struct Leaf {
    members: Vec<(Box<str>, Entry)>,
    at: Option<u64>,
}

impl Leaf {
    fn last(&self) -> &str {
        &self.members.last().expect("leaves are never empty").0
    }
}

/// The root group's members (entries with absolute addresses), names in its local heap.
pub(crate) struct RootIndex {
    leaves: Vec<Leaf>,
    heap: HeapData,
    /// The heap's data segment in the file: address, bytes reserved there, bytes written.
    heap_at: Option<(u64, usize, usize)>,
}

/// What a commit writes: `tail` after the file's end, `in_place` (heap names) into space
/// reserved earlier, and the root group's entry for the superblock.
pub(crate) struct Commit {
    pub(crate) tail: Vec<u8>,
    pub(crate) in_place: Option<(u64, Vec<u8>)>,
    pub(crate) root: Entry,
}

impl RootIndex {
    /// An empty root group.
    pub(crate) fn new() -> Self {
        Self { leaves: Vec::new(), heap: HeapData::new(), heap_at: None }
    }

    /// The members of an existing file (`members` sorted by name, each entry's name an offset
    /// into `heap`, the file's root heap data, which is kept so that those offsets hold).
    pub(crate) fn from_existing(members: Vec<(Box<str>, Entry)>, heap: Vec<u8>) -> Self {
        let mut bytes = heap;
        bytes.resize(bytes.len().next_multiple_of(8).max(8), 0);
        let mut leaves = Vec::with_capacity(members.len().div_ceil(LEAF_K));
        let mut members = members.into_iter().peekable();
        while members.peek().is_some() {
            leaves.push(Leaf { members: members.by_ref().take(LEAF_K).collect(), at: None });
        }
        Self { leaves, heap: HeapData { bytes }, heap_at: None }
    }

    /// The number of members.
    pub(crate) fn len(&self) -> usize {
        self.leaves.iter().map(|l| l.members.len()).sum()
    }

    /// Whether `name` is a member.
    pub(crate) fn contains(&self, name: &str) -> bool {
        let i = self.leaves.partition_point(|l| l.last() < name);
        self.leaves
            .get(i)
            .is_some_and(|l| l.members.binary_search_by(|(n, _)| (**n).cmp(name)).is_ok())
    }

    /// Adds a member (the caller checked that it is new).
    pub(crate) fn insert(&mut self, name: &str, mut entry: Entry) {
        entry.name = self.heap.add(name);
        if self.leaves.is_empty() {
            self.leaves.push(Leaf { members: vec![(name.into(), entry)], at: None });
            return;
        }
        let i = self.leaves.partition_point(|l| l.last() < name).min(self.leaves.len() - 1);
        let is_last = i + 1 == self.leaves.len();
        let leaf = &mut self.leaves[i];
        let j = leaf.members.partition_point(|(n, _)| &**n < name);
        leaf.members.insert(j, (name.into(), entry));
        leaf.at = None;
        if leaf.members.len() > 2 * LEAF_K {
            // Appending in order fills leaves; elsewhere split in halves.
            let keep = if is_last && j + 1 == leaf.members.len() {
                2 * LEAF_K
            } else {
                leaf.members.len() / 2
            };
            let rest = leaf.members.split_off(keep);
            self.leaves.insert(i + 1, Leaf { members: rest, at: None });
        }
    }

    /// Points member `name` at `entry` (its name offset kept), or adds it if it is new.
    pub(crate) fn set(&mut self, name: &str, entry: Entry) {
        let i = self.leaves.partition_point(|l| l.last() < name);
        if let Some(leaf) = self.leaves.get_mut(i)
            && let Ok(j) = leaf.members.binary_search_by(|(n, _)| (**n).cmp(name))
        {
            let m = &mut leaf.members[j].1;
            *m = Entry { name: m.name, ..entry };
            leaf.at = None;
            return;
        }
        self.insert(name, entry);
    }

    /// Lays out the changed nodes, a new B-tree, the heap and a new root object header carrying
    /// `messages` (the root's attributes) at `base`, the file's end.
    pub(crate) fn commit(&mut self, base: u64, messages: &[(u16, u8, Vec<u8>)]) -> Commit {
        let mut out = Buf::default();
        // The heap's names: into the reserved space, or all of them to a new, larger place.
        let heap_len = self.heap.bytes.len();
        let mut in_place = None;
        let data_at = match self.heap_at {
            Some((at, reserved, written)) if heap_len <= reserved => {
                if heap_len > written {
                    in_place = Some((at + written as u64, self.heap.bytes[written..].to_vec()));
                }
                self.heap_at = Some((at, reserved, heap_len));
                at
            }
            _ => {
                let reserved = (2 * heap_len).max(4096);
                let at = base + out.here();
                out.put(&self.heap.bytes);
                out.put(&vec![0; reserved - heap_len]);
                self.heap_at = Some((at, reserved, heap_len));
                at
            }
        };
        for leaf in self.leaves.iter_mut().filter(|l| l.at.is_none()) {
            let entries: Vec<Entry> = leaf.members.iter().map(|(_, e)| *e).collect();
            leaf.at = Some(base + encode::symbol_node(&mut out, &entries));
        }
        // Levels of B-tree nodes over the leaves: (left key, right key, address) per child.
        let mut children: Vec<(u64, u64, u64)> = Vec::with_capacity(self.leaves.len());
        let mut left = 0;
        for leaf in &self.leaves {
            let right = leaf.members.last().expect("leaves are never empty").1.name;
            children.push((left, right, leaf.at.expect("written above")));
            left = right;
        }
        let mut level = 0u8;
        let root_tree = loop {
            let start = base + out.here();
            let nodes = children.len().div_ceil(2 * INTERNAL_K).max(1);
            let addr = |n: usize| start + (n * TREE_SIZE) as u64;
            let mut parents = Vec::with_capacity(nodes);
            for n in 0..nodes {
                let group = children.chunks(2 * INTERNAL_K).nth(n).unwrap_or(&[]);
                let mut keys = vec![group.first().map_or(0, |c| c.0)];
                keys.extend(group.iter().map(|c| c.1));
                let kids: Vec<Addr> = group.iter().map(|c| Addr::Abs(c.2)).collect();
                let sibling = |m: Option<usize>| {
                    Addr::Abs(m.filter(|&m| m < nodes).map_or(super::UNDEF, addr))
                };
                let at = encode::tree_node(
                    &mut out,
                    level,
                    (sibling(n.checked_sub(1)), sibling(Some(n + 1))),
                    &keys,
                    &kids,
                );
                debug_assert_eq!(base + at, addr(n));
                parents.push((keys[0], *keys.last().expect("keys"), addr(n)));
            }
            if parents.len() == 1 {
                break parents[0].2;
            }
            children = parents;
            level += 1;
        };
        let heap = base + encode::heap_header(&mut out, heap_len, Addr::Abs(data_at));
        let mut root_messages = vec![encode::symbol_table(Addr::Abs(root_tree), Addr::Abs(heap))];
        root_messages.extend(messages.iter().map(|(k, f, b)| Message::raw(*k, *f, b)));
        let header = base + encode::object_header(&mut out, root_messages);
        let root = Entry {
            name: 0,
            header: Addr::Abs(header),
            group: Some((Addr::Abs(root_tree), Addr::Abs(heap))),
        };
        Commit { tail: out.relocate(base), in_place, root }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> Entry {
        Entry { name: 0, header: Addr::Abs(n), group: None }
    }

    #[test]
    fn members_stay_sorted_in_leaves_of_at_most_2k() {
        let mut ix = RootIndex::new();
        let names: Vec<String> = (0..500u64).map(|i| (i * 7919 % 1000).to_string()).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(!ix.contains(n));
            ix.insert(n, entry(i as u64));
            assert!(ix.contains(n));
        }
        let all: Vec<&str> =
            ix.leaves.iter().flat_map(|l| l.members.iter()).map(|m| &*m.0).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(all, sorted);
        assert_eq!(all.len(), 500);
        assert!(ix.leaves.iter().all(|l| !l.members.is_empty() && l.members.len() <= 2 * LEAF_K));
        // In-order appends fill their leaves.
        let mut seq = RootIndex::new();
        for i in 100..164u64 {
            seq.insert(&i.to_string(), entry(i));
        }
        assert_eq!(seq.leaves.len(), 64 / (2 * LEAF_K));
    }
}
