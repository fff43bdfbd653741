//! The views of an image and the layout of its inputs: the whole image, then its five crops, then
//! its nine crops, 15 inputs back to back. Everything that slices those 15 rows takes the layout
//! from here.

use std::ops::Range;

use crate::{CropBox, five, nine, whole};

/// One of the three views of an image the pipeline encodes and retrieves for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The whole image (one crop).
    Whole,
    /// The five crops of [`five`].
    Five,
    /// The nine crops of [`nine`].
    Nine,
}

/// The views in the order of an image's inputs (and of the context files' groups).
pub const VIEWS: [View; 3] = [View::Whole, View::Five, View::Nine];

/// Inputs per image: the crops of every view, 1 + 5 + 9.
pub const INPUTS_PER_IMAGE: usize = View::Nine.rows().end;

impl View {
    /// The view's name as the context files write it: `whole`, `five` or `nine`.
    pub const fn name(self) -> &'static str {
        match self {
            View::Whole => "whole",
            View::Five => "five",
            View::Nine => "nine",
        }
    }

    /// How many crops (inputs) the view has.
    pub const fn crops(self) -> usize {
        match self {
            View::Whole => 1,
            View::Five => 5,
            View::Nine => 9,
        }
    }

    /// The view's rows among an image's [`INPUTS_PER_IMAGE`] inputs: `0..1`, `1..6`, `6..15`.
    pub const fn rows(self) -> Range<usize> {
        let start = match self {
            View::Whole => 0,
            View::Five => View::Whole.rows().end,
            View::Nine => View::Five.rows().end,
        };
        start..start + self.crops()
    }

    /// The view's crop boxes in a `width x height` image, in the order of its rows.
    pub fn boxes(self, width: u32, height: u32) -> Vec<CropBox> {
        match self {
            View::Whole => vec![whole(width, height)],
            View::Five => five(width, height).to_vec(),
            View::Nine => nine(width, height).to_vec(),
        }
    }
}

/// The boxes of an image's [`INPUTS_PER_IMAGE`] inputs, in their order (views in [`VIEWS`]
/// order, each view's boxes in its order).
pub fn image_boxes(width: u32, height: u32) -> [CropBox; INPUTS_PER_IMAGE] {
    let all: Vec<CropBox> = VIEWS.iter().flat_map(|v| v.boxes(width, height)).collect();
    all.try_into().expect("the views' boxes are INPUTS_PER_IMAGE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_tile_the_inputs_in_order() {
        let mut next = 0;
        for v in VIEWS {
            assert_eq!(v.rows().start, next, "{v:?} starts where the previous view ends");
            assert_eq!(v.rows().len(), v.crops());
            assert_eq!(v.boxes(333, 501).len(), v.crops());
            next = v.rows().end;
        }
        assert_eq!(next, INPUTS_PER_IMAGE);
        assert_eq!(VIEWS.iter().map(|v| v.crops()).sum::<usize>(), INPUTS_PER_IMAGE);
    }

    #[test]
    fn image_boxes_are_each_views_boxes_at_its_rows() {
        let (w, h) = (640, 427);
        let all = image_boxes(w, h);
        assert_eq!(all[View::Whole.rows()], [whole(w, h)]);
        assert_eq!(all[View::Five.rows()], five(w, h));
        assert_eq!(all[View::Nine.rows()], nine(w, h));
    }
}
