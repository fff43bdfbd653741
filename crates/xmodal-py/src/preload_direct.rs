//! A txt_ctx preloaded by `ctx-store` straight into its arrays (`TxtCtxReader::preload_arrays`)
//! as the package's [`Loaded`]: the buffers are moved, nothing is copied.

use ctx_store::{ImageId, TxtArrays};

use crate::arrays::PackedTexts;
use crate::preload::{Kept, Loaded};

/// `a`, the images `ids` read with the shapes of `kept`, under the package's array names.
pub(crate) fn loaded(ids: &[ImageId], kept: &[Kept], a: TxtArrays) -> Loaded {
    let n = ids.len();
    let mut arrays = Vec::with_capacity(6);
    let mut texts = Vec::with_capacity(3);
    for (v, va) in kept.iter().zip(a.views) {
        let mut shape = vec![n];
        shape.extend(v.row_shape());
        let sshape = shape.clone();
        shape.push(v.d);
        arrays.push((format!("{}/features", v.view), shape, va.features));
        arrays.push((format!("{}/scores", v.view), sshape, va.scores));
        if let Some(t) = va.texts {
            let packed = PackedTexts { bytes: t.bytes, offsets: t.offsets };
            texts.push((format!("{}/texts", v.view), v.row_shape(), packed));
        }
    }
    Loaded { ids: ids.to_vec(), arrays, texts }
}
