//! Tensors of `model.safetensors`, taken by their checkpoint names with their shapes checked.
//! Every problem (missing, mis-shaped, unexpected) is collected and reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Names a checkpoint may hold that the encoder does not use.
fn tolerated(name: &str) -> bool {
    name.ends_with("position_ids") || name == "logit_scale"
}

pub(crate) struct Weights {
    path: PathBuf,
    map: BTreeMap<String, Tensor>,
    used: BTreeSet<String>,
    problems: Vec<String>,
    device: Device,
    kind: Kind,
}

impl Weights {
    pub(crate) fn load(path: &Path, device: Device, kind: Kind) -> Result<Self> {
        let tensors = Tensor::read_safetensors(path)
            .map_err(|source| Error::Weights { path: path.into(), source })?;
        Ok(Weights {
            path: path.into(),
            map: tensors.into_iter().collect(),
            used: BTreeSet::new(),
            problems: Vec::new(),
            device,
            kind,
        })
    }

    /// The tensor `name`, which must have `shape`; a zero placeholder after recording a problem.
    pub(crate) fn take(&mut self, name: &str, shape: &[i64]) -> Tensor {
        self.used.insert(name.to_owned());
        match self.map.get(name) {
            None => self.problems.push(format!("missing {name} {shape:?}")),
            Some(t) if t.size() != shape => {
                self.problems.push(format!("{name} has shape {:?}, expected {shape:?}", t.size()))
            }
            Some(t) if !t.is_floating_point() => {
                self.problems.push(format!("{name} has dtype {:?}, expected floats", t.kind()))
            }
            Some(t) => return t.to_device(self.device).to_kind(self.kind),
        }
        Tensor::zeros(shape, (self.kind, self.device))
    }

    /// Fails with every problem recorded, and every unexpected tensor.
    pub(crate) fn finish(mut self) -> Result<()> {
        let extra: Vec<String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(*k) && !tolerated(k))
            .map(|k| format!("unexpected {k}"))
            .collect();
        self.problems.extend(extra);
        if self.problems.is_empty() {
            return Ok(());
        }
        let n = self.problems.len();
        let mut shown = self.problems[..n.min(6)].join("; ");
        if n > 6 {
            shown.push_str(&format!("; and {} more", n - 6));
        }
        Err(Error::Checkpoint { path: self.path, problems: shown })
    }
}
