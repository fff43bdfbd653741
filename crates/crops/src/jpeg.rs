//! JPEG decoding as Pillow decodes it: libjpeg-turbo's decoder (as bundled in mozjpeg, built
//! from source), with the settings Pillow leaves at libjpeg's defaults (the accurate integer IDCT,
//! fancy chroma upsampling, libjpeg's own guess of the colour space from the markers), then
//! Pillow's conversions to RGB: grey replicated, four-channel files read as Adobe's inverted CMYK
//! (Pillow's `CMYK;I` raw mode) and converted with Pillow's `cmyk2rgb`.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use mozjpeg::decompress::DecompressStarted;
use mozjpeg::{ColorSpace, DctMethod, Decompress};

use crate::image::MAX_PIXELS;
use crate::{Error, Result};

/// A JPEG whose header is read and whose decompression has started: its size is known, its rows
/// are not decoded yet ([`read_vec`](Self::read_vec) or [`read_into`](Self::read_into)).
pub(crate) struct Started<'a> {
    dec: DecompressStarted<&'a [u8]>,
    /// Four-channel (CMYK or YCCK) samples, converted as Pillow converts Adobe's CMYK.
    cmyk: bool,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// Reads the header of the JPEG `bytes` (`path` names them in errors) and starts decompressing.
/// libjpeg's fatal errors (corrupt headers or data) unwind out of the C code as panics and come
/// back here, and from the reads, as [`Error::Decode`]; its warnings (recoverable damage, which
/// Pillow ignores too) are silent.
pub(crate) fn start<'a>(path: &Path, bytes: &'a [u8]) -> Result<Started<'a>> {
    unwinding(path, || start_unwinding(path, bytes))
}

impl Started<'_> {
    /// The RGB pixels, `width * height * 3` bytes, in a new buffer.
    pub(crate) fn read_vec(self, path: &Path) -> Result<Vec<u8>> {
        let mut data = vec![0; self.len()];
        self.read_into(path, &mut data)?;
        Ok(data)
    }

    /// The RGB pixels written into `out`, which must be exactly `width * height * 3` bytes.
    pub(crate) fn read_into(mut self, path: &Path, out: &mut [u8]) -> Result<()> {
        if out.len() != self.len() {
            return Err(Error::Decode {
                path: path.to_owned(),
                message: format!("{} bytes of room for {} RGB bytes", out.len(), self.len()),
            });
        }
        unwinding(path, move || {
            let err = |e: io::Error| decode_error(path, &e);
            if self.cmyk {
                let mut cmyk = vec![0u8; self.width as usize * 4];
                for row in out.chunks_exact_mut(self.width as usize * 3) {
                    self.dec.read_scanlines_into(&mut cmyk).map_err(err)?;
                    for (rgb, p) in row.chunks_exact_mut(3).zip(cmyk.chunks_exact(4)) {
                        rgb.copy_from_slice(&adobe_cmyk_to_rgb([p[0], p[1], p[2], p[3]]));
                    }
                }
            } else {
                self.dec.read_scanlines_into(out).map_err(err)?;
            }
            self.finish(path, out.len())
        })
    }

    fn len(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }

    fn finish(self, path: &Path, read: usize) -> Result<()> {
        let len = self.len();
        self.dec.finish().map_err(|e| decode_error(path, &e))?;
        if read != len {
            return Err(Error::Decode {
                path: path.to_owned(),
                message: format!("decoded {read} bytes for {len} RGB bytes"),
            });
        }
        Ok(())
    }
}

/// `f`, with libjpeg's fatal errors (panics out of the C code) as [`Error::Decode`].
fn unwinding<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
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

fn decode_error(path: &Path, e: &io::Error) -> Error {
    Error::Decode { path: path.to_owned(), message: e.to_string() }
}

fn start_unwinding<'a>(path: &Path, bytes: &'a [u8]) -> Result<Started<'a>> {
    let err = |e: io::Error| decode_error(path, &e);
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
    let (dec, cmyk) = match d.color_space() {
        // libjpeg's grey to RGB replicates the level, as Pillow's `L` to `RGB`.
        ColorSpace::JCS_GRAYSCALE | ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB => {
            (d.rgb().map_err(err)?, false)
        }
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => {
            (d.to_colorspace(ColorSpace::JCS_CMYK).map_err(err)?, true)
        }
        other => {
            return Err(Error::Decode {
                path: path.to_owned(),
                message: format!("unsupported JPEG colour space {other:?}"),
            });
        }
    };
    if (dec.width(), dec.height()) != (w, h) {
        return Err(Error::Decode {
            path: path.to_owned(),
            message: format!("{}x{} output pixels for a {w}x{h} image", dec.width(), dec.height()),
        });
    }
    Ok(Started { dec, cmyk, width, height })
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
