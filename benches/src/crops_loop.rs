//! crops-bench's loop, shared with pipeline-bench (which measures the pipeline against it).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// The `.jpg` files of `dir`, sorted.
pub fn jpegs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Every image decoded, cut into its [`crops::INPUTS_PER_IMAGE`] inputs and preprocessed into
/// values of `T` (f32 as a full-precision model takes them, f16 for a half-precision one), on a
/// pool of `threads`; each worker writes into one reused buffer, as the pipeline does (and as
/// the Python reference drops each image's array before the next). Returns how many succeeded.
pub fn crops_loop<T: crops::Element>(
    paths: &[PathBuf],
    threads: usize,
    pre: &crops::ClipPreprocess,
) -> anyhow::Result<usize> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    Ok(pool.install(|| {
        paths
            .par_iter()
            .map_init(
                || vec![T::default(); crops::INPUTS_PER_IMAGE * pre.len()],
                |buf, f| crops::decode(f).and_then(|img| pre.image_crops_into(&img, buf)),
            )
            .filter(Result::is_ok)
            .count()
    }))
}
