//! `coco-json:FILE`: a COCO-format image list (`images[]` with `id` and `file_name`), as
//! `image_info_test2014.json` and nocaps' `nocaps_val_image_info.json` are.

use std::path::Path;

use serde::Deserialize;

use super::{Location, SourceImage, unique};
use crate::{Error, Result, json};

#[derive(Deserialize)]
struct ImageList {
    images: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: Option<serde_json::Value>,
    file_name: Option<String>,
}

/// The listed images, in the file's order: `root/file_name`.
pub(crate) fn images(path: &Path, root: &Path) -> Result<Vec<SourceImage>> {
    let f: ImageList = json::read(path)?;
    let mut out = Vec::with_capacity(f.images.len());
    for (i, e) in f.images.into_iter().enumerate() {
        let entry = || format!("images[{i}]");
        let file_name = e
            .file_name
            .filter(|f| !f.is_empty())
            .ok_or_else(|| Error::entry(path, entry(), "no `file_name`"))?;
        let id = match e.id {
            Some(serde_json::Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(serde_json::Value::String(s)) if !s.is_empty() => s,
            Some(other) => {
                return Err(Error::entry(
                    path,
                    entry(),
                    format!("{file_name}: `id` {other} is not a non-negative integer or a name"),
                ));
            }
            None => return Err(Error::entry(path, entry(), format!("{file_name}: no `id`"))),
        };
        out.push(SourceImage { id, location: Location::File(root.join(file_name)) });
    }
    unique(path, &out)?;
    Ok(out)
}
