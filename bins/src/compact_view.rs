//! What `ctx-inspect` shows of a txt_ctx's layout: full, or compact with the caption database it
//! joins (where it is looked for, and whether it is there with the recorded size).

use std::path::Path;

use ctx_store::{CompactIds, CompactInfo, Summary};
use serde_json::{Value, json};

/// The layout lines of the text summary and the `layout` field of the JSON one.
pub struct Layout {
    pub lines: Vec<String>,
    pub json: Value,
}

/// The layout of `file` (`summary`: its summary; `compact`: its compact root, if any).
pub fn layout(file: &Path, summary: &Summary, compact: Option<&CompactInfo>) -> Layout {
    let Some(info) = compact else {
        let txt = summary.kind.role() == "txt_ctx";
        return Layout {
            lines: if txt { vec!["layout:     full".into()] } else { Vec::new() },
            json: if txt { json!("full") } else { Value::Null },
        };
    };
    let db = &info.caption_db;
    let beside = file.parent().unwrap_or(Path::new("")).join(&db.name);
    let found = match std::fs::metadata(&beside) {
        Ok(m) if m.len() == db.bytes => "found beside it, same size".to_owned(),
        Ok(m) => format!("beside it, but {} bytes: another database", m.len()),
        Err(_) => "not beside it: pass its path to the readers".to_owned(),
    };
    let views: Vec<String> = info.views.iter().map(|(v, k)| format!("{v} {k}")).collect();
    Layout {
        lines: vec![
            "layout:     compact (rows in the caption database and scores; features and texts \
             joined on read)"
                .into(),
            format!(
                "caption_db: {} ({} phrases of width {}, {} bytes, sha256 {}): {found}",
                db.name, db.rows, db.d, db.bytes, db.sha256
            ),
            format!("texts:      {} per crop", views.join(", ")),
            format!("ids:        {}", ids_line(info.ids)),
        ],
        json: json!({
            "name": "compact",
            "caption_db": {"name": db.name, "bytes": db.bytes, "rows": db.rows, "d": db.d,
                           "sha256": db.sha256, "beside": beside, "found": found},
            "views": info.views.iter().map(|(v, k)| json!({"view": v.name(), "k": k})).collect::<Vec<_>>(),
            "ids": info.ids.dtype(),
        }),
    }
}

/// How the file stores its image ids, in words.
fn ids_line(ids: CompactIds) -> &'static str {
    match ids {
        CompactIds::Integers => "int64 (integer image ids)",
        CompactIds::Names => "str (image names: not all integers)",
    }
}
