//! What a context file can be: the two profiles, the six kinds of file (seven with both
//! layouts of the original's caption database), and their names in files and on command lines.
//! Telling which one a file is: `ops::inspect`.

use crate::schema;

/// The two layouts of the three files: the original pipeline's (Kuo & Kira, CVPR 2022), read by
/// its M2 training code, and HAAV's (CVPR 2023), read by HAAV's training code. Same file
/// names, different content (`docs/hdf5-schema.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The original pipeline's files.
    Original,
    /// HAAV's files: grid and pooled image features, pre-layer-norm caption `values`, 8k/2k/k
    /// texts per view.
    Haav,
}

impl Profile {
    /// `original` or `haav`, as the command lines spell it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Original => "original",
            Profile::Haav => "haav",
        }
    }

    /// Parses [`Profile::name`].
    pub fn from_name(name: &str) -> Option<Profile> {
        [Profile::Original, Profile::Haav].into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The two layouts of `caption_db.hdf5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptionLayout {
    /// A gzip-compressed group per batch, as the Python original writes it.
    Original,
    /// Three root datasets, chunked along the rows (ours).
    Contiguous,
}

impl std::fmt::Display for CaptionLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CaptionLayout::Original => "original (a group per batch)",
            CaptionLayout::Contiguous => "contiguous (xctx)",
        })
    }
}

/// The three files of the pipeline, in either profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `vis_ctx.hdf5`.
    VisCtx,
    /// `txt_ctx.hdf5`.
    TxtCtx,
    /// `caption_db.hdf5` in the given layout.
    CaptionDb(CaptionLayout),
    /// HAAV's `vis_ctx.hdf5`: a group per image with `grid_features` and `pooled_features`.
    HaavVisCtx,
    /// HAAV's `txt_ctx.hdf5`: root attribute `fdim`, 8k/2k/k texts per view.
    HaavTxtCtx,
    /// HAAV's `caption_db.hdf5`: a group per batch with `keys`, `values`, `captions`.
    HaavCaptionDb,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileKind::VisCtx => f.write_str("vis_ctx (visual context)"),
            FileKind::TxtCtx => f.write_str("txt_ctx (textual context)"),
            FileKind::CaptionDb(l) => write!(f, "caption_db, {l} layout"),
            FileKind::HaavVisCtx => f.write_str("vis_ctx (visual context), HAAV profile"),
            FileKind::HaavTxtCtx => f.write_str("txt_ctx (textual context), HAAV profile"),
            FileKind::HaavCaptionDb => f.write_str("caption_db, HAAV profile"),
        }
    }
}

impl FileKind {
    /// Every kind (the caption database in both of its original-profile layouts).
    pub const ALL: [FileKind; 7] = [
        FileKind::VisCtx,
        FileKind::TxtCtx,
        FileKind::CaptionDb(CaptionLayout::Original),
        FileKind::CaptionDb(CaptionLayout::Contiguous),
        FileKind::HaavVisCtx,
        FileKind::HaavTxtCtx,
        FileKind::HaavCaptionDb,
    ];

    /// The profile whose layout the file has.
    pub fn profile(self) -> Profile {
        match self {
            FileKind::VisCtx | FileKind::TxtCtx | FileKind::CaptionDb(_) => Profile::Original,
            FileKind::HaavVisCtx | FileKind::HaavTxtCtx | FileKind::HaavCaptionDb => Profile::Haav,
        }
    }

    /// Which of the three files it is, whatever the profile: `vis_ctx`, `txt_ctx` or
    /// `caption_db`.
    pub fn role(self) -> &'static str {
        match self {
            FileKind::VisCtx | FileKind::HaavVisCtx => schema::KIND_VIS,
            FileKind::TxtCtx | FileKind::HaavTxtCtx => schema::KIND_TXT,
            FileKind::CaptionDb(_) | FileKind::HaavCaptionDb => schema::KIND_CAPTION_DB,
        }
    }

    /// The value of the root attribute [`schema::KIND`] for this kind.
    pub fn attribute(self) -> &'static str {
        match self {
            FileKind::VisCtx => schema::KIND_VIS,
            FileKind::TxtCtx => schema::KIND_TXT,
            FileKind::CaptionDb(_) => schema::KIND_CAPTION_DB,
            FileKind::HaavVisCtx => schema::KIND_HAAV_VIS,
            FileKind::HaavTxtCtx => schema::KIND_HAAV_TXT,
            FileKind::HaavCaptionDb => schema::KIND_HAAV_CAPTION_DB,
        }
    }

    /// The kind a [`schema::KIND`] attribute declares (a caption database of the original
    /// profile is taken to have the original layout: the contiguous one shows by its datasets).
    pub(crate) fn from_attribute(value: &str) -> Option<FileKind> {
        match value {
            schema::KIND_CAPTION_DB => Some(FileKind::CaptionDb(CaptionLayout::Original)),
            _ => FileKind::ALL.into_iter().find(|k| k.attribute() == value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_attributes_round_trip_and_name_the_profile() {
        for kind in FileKind::ALL {
            let back = FileKind::from_attribute(kind.attribute()).unwrap();
            // The contiguous layout is told by its datasets, not by the attribute.
            if kind != FileKind::CaptionDb(CaptionLayout::Contiguous) {
                assert_eq!(back, kind);
            }
            let haav = kind.attribute().starts_with("haav_");
            assert_eq!(kind.profile() == Profile::Haav, haav, "{kind}");
            assert!(kind.attribute().ends_with(kind.role()), "{kind}");
        }
        assert_eq!(FileKind::from_attribute("vis"), None);
        assert_eq!(Profile::from_name("haav"), Some(Profile::Haav));
        assert_eq!(Profile::from_name("HAAV"), None);
    }
}
