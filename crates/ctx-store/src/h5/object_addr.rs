//! Where an open object's header lies in its file (`H5Oget_info3`'s token, which the native
//! file format makes the header's address), so that `oldh5::access` can check the structures
//! the library is about to read for it. One of the workspace's modules with `unsafe` code
//! (audited; the lint forbids it elsewhere; see `direct_chunk.rs`): one foreign call on a handle and a buffer that outlive it, and the token read
//! as the bytes it is.
#![allow(unsafe_code)]

use hdf5::Location;
use hdf5_sys::h5o::{H5O_INFO_BASIC, H5O_info2_t, H5O_token_t, H5Oget_info3};

/// The address of `object`'s header in a file with 8-byte offsets.
pub(crate) fn header_address(object: &Location) -> hdf5::Result<u64> {
    hdf5::sync::sync(|| {
        let mut info = H5O_info2_t {
            fileno: 0,
            token: H5O_token_t::default(),
            type_: hdf5_sys::h5o::H5O_type_t::H5O_TYPE_UNKNOWN,
            rc: 0,
            atime: 0,
            mtime: 0,
            ctime: 0,
            btime: 0,
            num_attrs: 0,
        };
        // SAFETY: `object.id()` is an open handle (`object` is borrowed for the call); `info`
        // is a live, writable `H5O_info2_t`, which HDF5 fills and does not keep. The library
        // lock (`sync`) is held as for every other call into HDF5 of this process.
        let status = unsafe { H5Oget_info3(object.id(), &mut info, H5O_INFO_BASIC) };
        hdf5::h5check(status)?;
        // SAFETY: `H5O_token_t` is `repr(C)` around 16 bytes (the sizes must match to compile);
        // every bit pattern is a valid `[u8; 16]`.
        let token: [u8; 16] = unsafe { std::mem::transmute(info.token) };
        // The native format encodes the address little-endian in the token's first bytes.
        Ok(u64::from_le_bytes(token[..8].try_into().expect("8 bytes")))
    })
}
