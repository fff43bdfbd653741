//! How a file was made: root attributes our writers add beside the original schema. Read and
//! written through the HDF5 library in `h5::provenance`; `oldh5` writes [`Provenance::attributes`]
//! itself.

use crate::kind::FileKind;
use crate::schema;

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

    /// The root attributes a writer writes, names and values, in this order.
    pub(crate) fn attributes(&self, kind: FileKind) -> [(&'static str, &str); 4] {
        [
            (schema::PROVENANCE_TOOL, &self.tool),
            (schema::PROVENANCE_VERSION, &self.version),
            (schema::PROVENANCE_ARGUMENTS, &self.arguments),
            (schema::KIND, kind.attribute()),
        ]
    }
}
