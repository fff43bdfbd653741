//! `retrieve-captions --views`: which views of an image are searched and written.

use super::images::Inputs;

/// The views searched: the whole image and its crops (the original's), or the whole image
/// only (SmallCap's retrieval).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Views {
    /// `whole,five,nine`.
    All,
    /// `whole`.
    Whole,
}

impl Views {
    /// The names, as `--views` takes them.
    pub fn name(self) -> &'static str {
        match self {
            Views::All => "whole,five,nine",
            Views::Whole => "whole",
        }
    }

    /// The model inputs of each image.
    pub fn inputs(self) -> Inputs {
        match self {
            Views::All => Inputs::Crops,
            Views::Whole => Inputs::Whole,
        }
    }

    /// Query rows per image: the whole view and the 14 crops, or the whole view.
    pub fn rows_per_image(self) -> usize {
        match self {
            Views::All => crops::INPUTS_PER_IMAGE,
            Views::Whole => 1,
        }
    }
}

/// `--views`' parser: `whole,five,nine` (in any order) or `whole`.
pub fn parse(s: &str) -> Result<Views, String> {
    let mut names: Vec<&str> = s.split(',').map(str::trim).collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        ["five", "nine", "whole"] => Ok(Views::All),
        ["whole"] => Ok(Views::Whole),
        _ => Err(format!(
            "{s:?}: the views searched are whole,five,nine or whole (five and nine need each other and the whole image)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_sets_and_refuses_others() {
        assert_eq!(parse("whole,five,nine"), Ok(Views::All));
        assert_eq!(parse("nine, whole,five"), Ok(Views::All));
        assert_eq!(parse("whole"), Ok(Views::Whole));
        for bad in ["five", "whole,five", "whole,ten", ""] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
