//! Reading and writing [`Provenance`] as root attributes through the HDF5 library.

use std::path::Path;

use hdf5::Group;

use crate::error::Result;
use crate::h5;
use crate::kind::FileKind;
use crate::provenance::Provenance;
use crate::schema;

impl Provenance {
    /// Writes the provenance attributes and [`schema::KIND`], which says what `kind` of file
    /// this is even while it holds no entry (an empty shard).
    pub(crate) fn write(&self, path: &Path, root: &Group, kind: FileKind) -> Result<()> {
        self.attributes(kind)
            .iter()
            .try_for_each(|(name, value)| h5::write_attr_str(path, root, name, value))
    }

    /// The provenance of the context file at `path`, of any kind; `None` for files without
    /// (the original's).
    pub fn of_file(path: impl AsRef<Path>) -> Result<Option<Self>> {
        let path = path.as_ref();
        let file = h5::open_read(path)?;
        Self::read(path, &file)
    }

    /// Reads the provenance of a file, `None` for files without (the original's).
    pub(crate) fn read(path: &Path, root: &Group) -> Result<Option<Self>> {
        let Some(tool) = h5::read_attr_str(path, root, schema::PROVENANCE_TOOL)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            tool,
            version: h5::read_attr_str(path, root, schema::PROVENANCE_VERSION)?.unwrap_or_default(),
            arguments: h5::read_attr_str(path, root, schema::PROVENANCE_ARGUMENTS)?
                .unwrap_or_default(),
        }))
    }
}
