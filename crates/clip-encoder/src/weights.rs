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
    /// The first failure to move a tensor to the device or kind (out of device memory, ...).
    failure: Option<tch::TchError>,
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
            failure: None,
            device,
            kind,
        })
    }

    /// The tensor `name`, which must have `shape`, on the device in the kind asked for; after
    /// recording a problem, an undefined placeholder (nothing is allocated for it: a model with
    /// a problem never runs).
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
            Some(t) => match t.f_to_device(self.device).and_then(|t| t.f_to_kind(self.kind)) {
                Ok(t) => return t,
                Err(e) => {
                    self.failure.get_or_insert(e);
                }
            },
        }
        Tensor::new()
    }

    /// Fails with every problem recorded, and every unexpected tensor.
    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some(source) = self.failure {
            return Err(Error::Weights { path: self.path, source });
        }
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
