//! How a file was made: root attributes our writers add beside the original schema.

use std::path::Path;

use hdf5::Group;

use crate::{FileKind, Result, h5, schema};

/// Provenance stored as root attributes ([`schema::PROVENANCE_TOOL`] and friends). Files the
/// original wrote have none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The program that wrote the file, e.g. `encode-images`.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// The run's arguments as a JSON document (model, k, batch size, ...).
    pub arguments: String,
}

impl Provenance {
    /// Provenance of this crate's own version with the given tool and arguments.
    pub fn new(tool: impl Into<String>, arguments: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            arguments: arguments.into(),
        }
    }

    /// Writes the provenance attributes and [`schema::KIND`], which says what `kind` of file
    /// this is even while it holds no entry (an empty shard).
    pub(crate) fn write(&self, path: &Path, root: &Group, kind: FileKind) -> Result<()> {
        self.attributes(kind)
            .iter()
            .try_for_each(|(name, value)| h5::write_attr_str(path, root, name, value))
    }

    /// The root attributes [`write`](Self::write) writes, names and values, in its order.
    pub(crate) fn attributes(&self, kind: FileKind) -> [(&'static str, &str); 4] {
        [
            (schema::PROVENANCE_TOOL, &self.tool),
            (schema::PROVENANCE_VERSION, &self.version),
            (schema::PROVENANCE_ARGUMENTS, &self.arguments),
            (schema::KIND, kind.attribute()),
        ]
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
