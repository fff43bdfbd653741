//! The original pipeline's three files (Kuo & Kira, CVPR 2022), as its scripts write them with
//! h5py and its M2 training code reads them: `vis` (`vis_ctx.hdf5`), `txt` (`txt_ctx.hdf5`, also
//! the writer and reader under HAAV's) and `caption_db` (`caption_db.hdf5`, in the original's
//! layout or our contiguous one).

pub(crate) mod caption_db;
pub(crate) mod txt;
pub(crate) mod vis;
