//! HDF5's direct chunk write (`H5Dwrite_chunk`), which `hdf5-metno` does not wrap: a chunk
//! already compressed by the dataset's filters goes into the file as it is, bypassing HDF5's
//! filter pipeline. One of the workspace's modules with `unsafe` code (audited; the lint forbids
//! it elsewhere; the others are `object_addr.rs` and `bins`' `pipeline/host_rows.rs`): one foreign call, on handles
//! and buffers that outlive it.
#![allow(unsafe_code)]

use hdf5::Dataset;
use hdf5_sys::h5d::H5Dwrite_chunk;
use hdf5_sys::h5p::H5P_DEFAULT;

/// Writes `bytes`, the chunk of `ds` whose first element sits at `offset` (in elements, one per
/// axis, a multiple of the chunk's shape), as the output of all of `ds`'s filters.
///
/// HDF5 checks the dataset (chunked), the rank and that the offset falls on a chunk boundary
/// inside the dataset; the bytes themselves are stored unchecked, so they must be what the
/// filters would have produced from the chunk's values.
pub(crate) fn write_chunk(ds: &Dataset, offset: &[u64], bytes: &[u8]) -> hdf5::Result<()> {
    if offset.len() != ds.ndim() {
        return Err(format!("chunk offset {offset:?} for a dataset of rank {}", ds.ndim()).into());
    }
    hdf5::sync::sync(|| {
        // SAFETY: `ds.id()` is an open dataset handle (`ds` is borrowed for the call);
        // `offset` holds `ds.ndim()` values, the rank HDF5 reads; `bytes` is readable for
        // `bytes.len()` bytes. HDF5 keeps neither pointer after the call returns, and the
        // library lock (`sync`) is held as for every other call into HDF5 of this process.
        let status = unsafe {
            H5Dwrite_chunk(
                ds.id(),
                H5P_DEFAULT,
                0,
                offset.as_ptr(),
                bytes.len(),
                bytes.as_ptr().cast(),
            )
        };
        hdf5::h5check(status).map(drop)
    })
}
