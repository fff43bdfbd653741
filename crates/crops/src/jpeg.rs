//! JPEG decoding as Pillow decodes it: libjpeg-turbo's decoder (as bundled in mozjpeg, built
//! from source), with the settings Pillow leaves at libjpeg's defaults (the accurate integer IDCT,
//! fancy chroma upsampling, libjpeg's own guess of the colour space from the markers), then
//! Pillow's conversions to RGB: grey replicated, four-channel files read as Adobe's inverted CMYK
//! (Pillow's `CMYK;I` raw mode) and converted with Pillow's `cmyk2rgb`.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use mozjpeg::{ColorSpace, DctMethod, Decompress};

use crate::image::{MAX_PIXELS, RgbImage};
use crate::{Error, Result};

/// Decodes the JPEG `bytes` (`path` names them in errors). libjpeg's fatal errors (corrupt
/// headers or data) unwind out of the C code as panics and come back here as [`Error::Decode`];
/// its warnings (recoverable damage, which Pillow ignores too) are silent.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<RgbImage> {
    match catch_unwind(AssertUnwindSafe(|| decode_unwinding(path, bytes))) {
        Ok(r) => r,
        Err(payload) => {
            let message = match payload.downcast::<String>() {
                Ok(s) => *s,
                Err(p) => {
                    p.downcast::<&str>().map_or_else(|_| "libjpeg error".into(), |s| (*s).into())
                }
            };
            Err(Error::Decode { path: path.to_owned(), message })
        }
    }
}

fn decode_unwinding(path: &Path, bytes: &[u8]) -> Result<RgbImage> {
    let err = |e: io::Error| Error::Decode { path: path.to_owned(), message: e.to_string() };
    let mut d = Decompress::new_mem(bytes).map_err(err)?;
    let (w, h) = d.size();
    // At most 65,535 a side in a JPEG header; anything else is refused as too large.
    let side = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let (width, height) = (side(w), side(h));
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Error::TooLarge { path: path.to_owned(), width, height, limit: MAX_PIXELS });
    }
    d.dct_method(DctMethod::IntegerSlow);
    d.do_fancy_upsampling(true);
    let data = match d.color_space() {
        ColorSpace::JCS_GRAYSCALE | ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB => {
            // libjpeg's grey to RGB replicates the level, as Pillow's `L` to `RGB`.
            let mut s = d.rgb().map_err(err)?;
            let data = s.read_scanlines::<u8>().map_err(err)?;
            s.finish().map_err(err)?;
            data
        }
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => {
            let mut s = d.to_colorspace(ColorSpace::JCS_CMYK).map_err(err)?;
            let cmyk = s.read_scanlines::<u8>().map_err(err)?;
            s.finish().map_err(err)?;
            cmyk.chunks_exact(4).flat_map(|p| adobe_cmyk_to_rgb([p[0], p[1], p[2], p[3]])).collect()
        }
        other => {
            return Err(Error::Decode {
                path: path.to_owned(),
                message: format!("unsupported JPEG colour space {other:?}"),
            });
        }
    };
    if data.len() != w * h * 3 {
        return Err(Error::Decode {
            path: path.to_owned(),
            message: format!("decoded {} bytes for {w}x{h} RGB pixels", data.len()),
        });
    }
    Ok(RgbImage { width, height, data })
}

/// Pillow's `CMYK` to `RGB` (`cmyk2rgb`) of a pixel libjpeg decoded from a four-channel file,
/// which Pillow first inverts (Adobe's convention, raw mode `CMYK;I`).
fn adobe_cmyk_to_rgb(raw: [u8; 4]) -> [u8; 3] {
    let nk = i32::from(raw[3]); // 255 - the inverted K
    let channel = |v: u8| {
        let t = (255 - i32::from(v)) * nk + 128; // Pillow's MULDIV255
        (nk - (((t >> 8) + t) >> 8)).clamp(0, 255) as u8
    };
    [channel(raw[0]), channel(raw[1]), channel(raw[2])]
}

#[cfg(test)]
mod tests {
    use super::adobe_cmyk_to_rgb;

    /// White paper (no ink), full black, and Pillow's rounding of a half-inked channel.
    #[test]
    fn cmyk_conversion_inverts_as_adobe() {
        assert_eq!(adobe_cmyk_to_rgb([255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(adobe_cmyk_to_rgb([255, 255, 255, 0]), [0, 0, 0]);
        assert_eq!(adobe_cmyk_to_rgb([0, 255, 128, 255]), [0, 255, 128]);
        // nk = 200, ink 255 - 100 = 155: 200 - round(155 * 200 / 255) = 200 - 122.
        assert_eq!(adobe_cmyk_to_rgb([100, 100, 100, 200]), [78, 78, 78]);
    }
}
