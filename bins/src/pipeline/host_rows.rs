//! One of the workspace's modules with `unsafe` code (audited; the lint forbids it elsewhere;
//! the others are `ctx-store`'s `h5/direct_chunk.rs` and `h5/object_addr.rs`):
//! a contiguous CPU tensor's elements as a mutable slice, so that the decoding workers write
//! preprocessed pixels straight into their rows of a batch buffer. Through a temporary tensor
//! each image cost two more copies of its pixels (9 MB for 15 f32 crops at 224 px) and an
//! allocation of that size. Also the first element of a pinned tensor read as the device's
//! copy engine may be writing it ([`read_first`]), the model stage's completion marker.
#![allow(unsafe_code)]

use anyhow::{Result, ensure};
use clip_encoder::{Device, Tensor};

/// Runs `f` on the elements of `t` as a `&mut [T]`.
///
/// `t` must be a contiguous CPU tensor (pinned or not) of `T`'s kind: anything else is an error.
/// While `f` runs, nothing else may read or write these elements through another tensor sharing
/// the storage; in the decoder, `t` is one image's rows of a batch buffer that no other thread
/// touches until the batch is complete.
pub(super) fn with_elements_mut<T: tch::kind::Element, R>(
    t: &mut Tensor,
    f: impl FnOnce(&mut [T]) -> R,
) -> Result<R> {
    ensure!(t.device() == Device::Cpu, "a tensor on {:?}, not the CPU", t.device());
    ensure!(t.kind() == T::KIND, "a tensor of {:?}, not {:?}", t.kind(), T::KIND);
    ensure!(t.is_contiguous(), "a tensor that is not contiguous");
    let n = t.numel();
    if n == 0 {
        return Ok(f(&mut []));
    }
    let ptr = t.data_ptr().cast::<T>();
    ensure!(!ptr.is_null() && ptr.is_aligned(), "a tensor whose elements are not aligned");
    // SAFETY: `t` is a contiguous CPU tensor of `n` elements of `T`'s kind, so `ptr` points to
    // `n` initialised, aligned `T`s in host memory (every bit pattern is a valid f32, f16 or u8).
    // The storage lives at least as long as `t`, which is borrowed mutably for the whole call,
    // and the caller guarantees that no other view of those elements is used meanwhile (see
    // above), so the slice is the only access to them while it exists.
    let elements = unsafe { std::slice::from_raw_parts_mut(ptr, n) };
    Ok(f(elements))
}

/// The first element of `t`, a CPU tensor of `T`'s kind, read afresh from memory on every call
/// (a volatile read): a pinned tensor that an asynchronous copy from a device writes shows the
/// new value once the copy engine has written it, without any call into the device.
pub(super) fn read_first<T: tch::kind::Element + Copy>(t: &Tensor) -> Result<T> {
    ensure!(t.device() == Device::Cpu, "a tensor on {:?}, not the CPU", t.device());
    ensure!(t.kind() == T::KIND, "a tensor of {:?}, not {:?}", t.kind(), T::KIND);
    ensure!(t.numel() >= 1, "an empty tensor");
    let ptr = t.data_ptr().cast::<T>();
    ensure!(!ptr.is_null() && ptr.is_aligned(), "a tensor whose elements are not aligned");
    // SAFETY: `t` is a CPU tensor of at least one element of `T`'s kind, so `ptr` points to an
    // aligned, initialised `T` (every bit pattern is a valid f32) that lives as long as `t`,
    // which is borrowed for the call. The only other writer is a device's copy engine writing
    // the same aligned 4 bytes whole; a volatile read sees either the old or the new value.
    Ok(unsafe { std::ptr::read_volatile(ptr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clip_encoder::Kind;

    #[test]
    fn writes_land_in_the_tensor_rows_and_other_tensors_are_refused() {
        let base = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
        let mut rows = base.narrow(0, 1, 2);
        with_elements_mut::<f32, _>(&mut rows, |s| {
            assert_eq!(s.len(), 6);
            s.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32 + 1.0);
        })
        .unwrap();
        let all = Vec::<f32>::try_from(base.flatten(0, -1)).unwrap();
        assert_eq!(all, [0., 0., 0., 1., 2., 3., 4., 5., 6., 0., 0., 0.]);
        // Another kind, a strided view: errors.
        assert!(with_elements_mut::<half::f16, _>(&mut base.narrow(0, 0, 1), |_| ()).is_err());
        assert!(with_elements_mut::<f32, _>(&mut base.narrow(1, 0, 2), |_| ()).is_err());
    }

    #[test]
    fn the_first_element_is_read_and_other_tensors_are_refused() {
        let t = Tensor::from_slice(&[2.5f32, 7.0]);
        assert_eq!(read_first::<f32>(&t).unwrap(), 2.5);
        let _ = t.narrow(0, 0, 1).fill_(-1.0);
        assert_eq!(read_first::<f32>(&t).unwrap(), -1.0);
        assert!(read_first::<i64>(&t).is_err());
        assert!(read_first::<f32>(&t.narrow(0, 0, 0)).is_err());
    }
}
