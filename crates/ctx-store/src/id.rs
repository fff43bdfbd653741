//! Image ids: the names of the image groups (or datasets) at the root of `vis_ctx.hdf5` and
//! `txt_ctx.hdf5`. The original writes `str(image_id)` of COCO's integer ids; other sources
//! (a folder's file stems, webdataset keys) give names that are not integers, such as `dog_01`
//! or the zero-padded `000010001`, and these are stored as they are.
//!
//! [`ImageId`] holds a name; [`Key`] is what the readers and writers take: an integer (written
//! as `str(int)` writes it), a `&str`, a `String` or an [`ImageId`].

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};
use crate::schema;

/// The name of an image in a context file: `"531912"` for COCO's image 531912, `"dog_01"` for a
/// folder's `dog_01.jpg`. h5py reads it as `f[name]`.
///
/// Ids order integers first (ascending, as numbers: `"9"` before `"10"`), then the other names
/// (by their bytes), which is the order of [`TxtCtxReader::keys`](crate::TxtCtxReader::keys).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageId(Box<str>);

impl ImageId {
    /// The id named `name`, as it is (no check: the writers refuse names HDF5 cannot hold,
    /// [`problem`](Self::problem)).
    pub fn new(name: impl Into<Box<str>>) -> Self {
        Self(name.into())
    }

    /// The id of any [`Key`].
    pub fn of(key: impl Key) -> Self {
        Self(key.name().into())
    }

    /// The group name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an integer, if the name is one as `str(int)` writes it (digits, no sign, no
    /// leading zero: `"000010001"` is not).
    pub fn as_u64(&self) -> Option<u64> {
        schema::parse_id(&self.0)
    }

    /// What makes `name` unusable as a group name at the root of an HDF5 file (and in h5py's
    /// `f[name]`), or `None` if it is usable: empty, `.`, or holding `/` or NUL.
    pub fn problem(name: &str) -> Option<&'static str> {
        if name.is_empty() {
            Some("an empty name")
        } else if name == "." {
            Some("the name \".\" (HDF5's name of the current group)")
        } else if name.contains('/') {
            Some("a name holding '/' (HDF5's path separator)")
        } else if name.contains('\0') {
            Some("a name holding NUL")
        } else {
            None
        }
    }

    /// The sort key: integers by value, before every other name.
    fn rank(&self) -> (bool, u64, &str) {
        match self.as_u64() {
            Some(n) => (false, n, ""),
            None => (true, 0, &self.0),
        }
    }
}

impl Ord for ImageId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for ImageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ImageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ImageId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ImageId {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for ImageId {
    fn from(name: String) -> Self {
        Self::new(name)
    }
}

impl PartialEq<u64> for ImageId {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl PartialEq<str> for ImageId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ImageId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// What names an image for the readers and writers: `get(531912)`, `get("dog_01")`,
/// `get(&id)`.
pub trait Key {
    /// The group name.
    fn name(&self) -> Cow<'_, str>;
}

macro_rules! integer_keys {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn name(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
        impl From<$t> for ImageId {
            fn from(id: $t) -> Self {
                Self::of(id)
            }
        }
    )*};
}

integer_keys!(u64, u32, usize, i32, i64);

impl Key for str {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Key for String {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Key for ImageId {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

impl<T: Key + ?Sized> Key for &T {
    fn name(&self) -> Cow<'_, str> {
        (**self).name()
    }
}

/// The group name of `key` for a writer, or an error naming the file and the name if HDF5
/// cannot hold it ([`ImageId::problem`]).
pub(crate) fn checked_name<'k>(
    path: &std::path::Path,
    key: &'k (impl Key + ?Sized),
) -> Result<Cow<'k, str>> {
    let name = key.name();
    match ImageId::problem(&name) {
        Some(problem) => Err(Error::Input {
            path: path.to_owned(),
            object: format!("{name:?}"),
            message: format!("image id {name:?} is {problem}, which HDF5 cannot name a group"),
        }),
        None => Ok(name),
    }
}

/// `ids` as integers, for the readers' `ids()`: an error naming the file and the first name that
/// is not an integer (such files are read by name, `keys()`).
pub(crate) fn integers(path: &std::path::Path, ids: &[ImageId]) -> Result<Vec<u64>> {
    ids.iter()
        .map(|id| {
            id.as_u64().ok_or_else(|| Error::Schema {
                path: path.to_owned(),
                message: format!("image {:?} is not an integer id (keys() gives every name)", id.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_sort_as_numbers_before_names() {
        let mut ids: Vec<ImageId> =
            ["dog_01", "10", "000010001", "9", "cat"].into_iter().map(ImageId::from).collect();
        ids.sort();
        let names: Vec<&str> = ids.iter().map(ImageId::as_str).collect();
        assert_eq!(names, ["9", "10", "000010001", "cat", "dog_01"]);
    }

    #[test]
    fn keys_name_groups_as_they_are() {
        assert_eq!(7.name(), "7");
        assert_eq!(531912_u64.name(), "531912");
        assert_eq!("000010001".name(), "000010001");
        assert_eq!(ImageId::from("000010001").as_u64(), None);
        assert_eq!(ImageId::from(42_u64), 42_u64);
        assert_eq!(ImageId::from("dog_01"), "dog_01");
    }

    #[test]
    fn unusable_names_are_refused() {
        for bad in ["", ".", "a/b", "a\0b"] {
            assert!(ImageId::problem(bad).is_some(), "{bad:?}");
        }
        for good in ["dog_01", "000010001", "a.b", "..", " x"] {
            assert_eq!(ImageId::problem(good), None, "{good:?}");
        }
    }
}
