//! Streaming the elements of a top-level JSON array, one at a time, so that a 1 GB file never
//! sits in memory as a parsed document.

use std::fmt;
use std::io::BufReader;
use std::marker::PhantomData;
use std::path::Path;

use serde::Deserializer as _;
use serde::de::{DeserializeOwned, SeqAccess, Visitor};

use crate::{Error, Result};

struct Elements<'f, T, F> {
    f: &'f mut F,
    _t: PhantomData<T>,
}

impl<'de, T: DeserializeOwned, F: FnMut(T)> Visitor<'de> for Elements<'_, T, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(x) = seq.next_element::<T>()? {
            (self.f)(x);
        }
        Ok(())
    }
}

/// Calls `f` on every element of the top-level array in `path`, in order.
pub(crate) fn for_each_element<T: DeserializeOwned>(
    path: &Path,
    mut f: impl FnMut(T),
) -> Result<()> {
    let file =
        std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, file));
    de.deserialize_seq(Elements { f: &mut f, _t: PhantomData })
        .map_err(|e| Error::json(path, &e))?;
    de.end().map_err(|e| Error::json(path, &e))
}

/// Parses a whole (small) JSON document.
pub(crate) fn read<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let file =
        std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    serde_json::from_reader(BufReader::with_capacity(1 << 20, file))
        .map_err(|e| Error::json(path, &e))
}
