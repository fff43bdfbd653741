//! Decoding to RGB8 the way the original's `Image.open(path).convert("RGB")` does.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::{CropBox, Error, Result};

/// Pillow's decompression-bomb error threshold (2 x `Image.MAX_IMAGE_PIXELS`).
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

/// A packed 8-bit RGB image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// The sub-image inside `b` (Pillow's `crop` with an integer box inside the image).
    pub fn crop(&self, b: CropBox) -> Result<RgbImage> {
        let mut data = Vec::new();
        self.crop_into(b, &mut data)?;
        Ok(RgbImage { width: b.width(), height: b.height(), data })
    }

    /// The pixels of [`crop`](Self::crop) into `data` (cleared first).
    pub fn crop_into(&self, b: CropBox, data: &mut Vec<u8>) -> Result<()> {
        if b.width() == 0 || b.height() == 0 || b.right > self.width || b.bottom > self.height {
            return Err(Error::EmptyCrop {
                crop: b.to_array(),
                width: self.width,
                height: self.height,
            });
        }
        let (w, cw) = (self.width as usize * 3, b.width() as usize * 3);
        data.clear();
        for y in b.top as usize..b.bottom as usize {
            let start = y * w + b.left as usize * 3;
            data.extend_from_slice(&self.data[start..start + cw]);
        }
        Ok(())
    }
}

/// Decodes a JPEG, PNG or WebP (format sniffed from the content, not the extension) to RGB8 as
/// Pillow's `convert("RGB")`: grey replicated, alpha dropped (no compositing), palette expanded,
/// 16-bit samples reduced to their high byte. No EXIF rotation. A header larger than [`MAX_PIXELS`]
/// is refused before any pixel buffer is allocated.
pub fn decode(path: &Path) -> Result<RgbImage> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    decode_bytes(path, &bytes)
}

/// [`decode`] on bytes already read; `path` names them in errors.
pub fn decode_bytes(path: &Path, bytes: &[u8]) -> Result<RgbImage> {
    decode_bytes_with(path, bytes, JpegDecoder::Exact)
}

/// Which decoder reads JPEGs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JpegDecoder {
    /// libjpeg-turbo's decoder as Pillow runs it: Pillow's pixels, level for level.
    #[default]
    Exact,
    /// zune-jpeg (the `image` crate, SIMD): levels a few away from Pillow's (other IDCT and
    /// chroma upsampling).
    Fast,
}

/// [`decode_bytes`] with JPEGs read by `jpeg`.
pub fn decode_bytes_with(path: &Path, bytes: &[u8], jpeg: JpegDecoder) -> Result<RgbImage> {
    open_bytes_with(path, bytes, jpeg)?.into_image()
}

/// [`decode`] into `img`, whose buffer is reused: no allocation when it holds an image at least
/// as large already, and only the bytes it grows by are cleared before they are written. On an
/// error `img` is left empty (0x0, its buffer's capacity kept).
pub fn decode_into(path: &Path, img: &mut RgbImage) -> Result<()> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    decode_bytes_into(path, &bytes, img)
}

/// [`decode_into`] on bytes already read; `path` names them in errors.
pub fn decode_bytes_into(path: &Path, bytes: &[u8], img: &mut RgbImage) -> Result<()> {
    let r = open_bytes(path, bytes).and_then(|opened| {
        (img.width, img.height) = (opened.width(), opened.height());
        img.data.resize(opened.len(), 0);
        opened.decode_into(&mut img.data)
    });
    if r.is_err() {
        // No half-written image left behind (the buffer keeps its capacity).
        (img.width, img.height) = (0, 0);
        img.data.clear();
    }
    r
}

/// Reads the header of the image `bytes` (as [`decode_bytes`] decodes them; `path` names them in
/// errors): its size is then known, and its pixels are decoded into memory the caller chooses
/// ([`Opened::decode_into`]). A JPEG's rows are decoded by that call; other formats are decoded
/// here whole.
pub fn open_bytes<'a>(path: &'a Path, bytes: &'a [u8]) -> Result<Opened<'a>> {
    open_bytes_with(path, bytes, JpegDecoder::Exact)
}

/// An image whose header is read and whose pixels are still to be decoded: [`open_bytes`].
pub struct Opened<'a> {
    path: &'a Path,
    pixels: Pixels<'a>,
}

enum Pixels<'a> {
    Jpeg(Box<crate::jpeg::Started<'a>>),
    Decoded(RgbImage),
}

impl Opened<'_> {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        match &self.pixels {
            Pixels::Jpeg(s) => s.width,
            Pixels::Decoded(i) => i.width,
        }
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        match &self.pixels {
            Pixels::Jpeg(s) => s.height,
            Pixels::Decoded(i) => i.height,
        }
    }

    /// The RGB8 pixels' bytes: `width * height * 3`.
    pub fn len(&self) -> usize {
        self.width() as usize * self.height() as usize * 3
    }

    /// Whether the image has no pixel (never so for a decodable file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes the pixels into `out`, exactly [`len`](Self::len) bytes (row-major RGB8, as
    /// [`RgbImage::data`]); a JPEG's rows are written there straight from the decoder.
    pub fn decode_into(self, out: &mut [u8]) -> Result<()> {
        match self.pixels {
            Pixels::Jpeg(s) => s.read_into(self.path, out),
            Pixels::Decoded(img) if img.data.len() == out.len() => {
                out.copy_from_slice(&img.data);
                Ok(())
            }
            Pixels::Decoded(img) => Err(Error::Decode {
                path: self.path.to_owned(),
                message: format!("{} bytes of room for {} RGB bytes", out.len(), img.data.len()),
            }),
        }
    }

    /// The decoded image, in a new buffer.
    pub fn into_image(self) -> Result<RgbImage> {
        match self.pixels {
            Pixels::Jpeg(s) => {
                let (width, height) = (s.width, s.height);
                Ok(RgbImage { width, height, data: s.read_vec(self.path)? })
            }
            Pixels::Decoded(img) => Ok(img),
        }
    }
}

/// [`open_bytes`] with JPEGs read by `jpeg`.
fn open_bytes_with<'a>(path: &'a Path, bytes: &'a [u8], jpeg: JpegDecoder) -> Result<Opened<'a>> {
    let decoded = |img| Ok(Opened { path, pixels: Pixels::Decoded(img) });
    let err =
        |e: image::ImageError| Error::Decode { path: path.to_owned(), message: e.to_string() };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| Error::Io { path: path.to_owned(), source })?;
    match reader.format() {
        None => {
            return Err(Error::Decode {
                path: path.to_owned(),
                message: "not a JPEG, PNG or WebP file".into(),
            });
        }
        Some(image::ImageFormat::Jpeg) if !has_end_of_image(bytes) => {
            // Pillow raises "image file is truncated"; the JPEG decoder here would pad with grey.
            return Err(Error::Decode {
                path: path.to_owned(),
                message: "truncated JPEG (no end-of-image marker after the scan)".into(),
            });
        }
        Some(image::ImageFormat::Jpeg) if jpeg == JpegDecoder::Exact => {
            return Ok(Opened {
                path,
                pixels: Pixels::Jpeg(Box::new(crate::jpeg::start(path, bytes)?)),
            });
        }
        Some(_) => {}
    }
    let decoder = reader.into_decoder().map_err(err)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Error::TooLarge { path: path.to_owned(), width, height, limit: MAX_PIXELS });
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8);
    let mut decoder = decoder;
    decoder.set_limits(limits).map_err(err)?;
    let img = DynamicImage::from_decoder(decoder).map_err(err)?;
    decoded(to_rgb8(img))
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan (FF DA).
fn has_end_of_image(bytes: &[u8]) -> bool {
    let last = |m: u8| bytes.windows(2).rposition(|w| w == [0xFF, m]);
    matches!((last(0xDA), last(0xD9)), (Some(sos), Some(eoi)) if eoi > sos)
}

fn to_rgb8(img: DynamicImage) -> RgbImage {
    let (width, height) = (img.width(), img.height());
    let data = match img {
        DynamicImage::ImageRgb8(i) => i.into_raw(),
        // Pillow reads 16-bit PNG samples through their most significant byte.
        DynamicImage::ImageRgb16(i) => i.into_raw().iter().map(|v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(i) => i
            .into_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]].map(|v| (v >> 8) as u8))
            .collect(),
        DynamicImage::ImageLuma16(i) => {
            i.into_raw().iter().flat_map(|v| [(v >> 8) as u8; 3]).collect()
        }
        DynamicImage::ImageLumaA16(i) => {
            i.into_raw().chunks_exact(2).flat_map(|p| [(p[0] >> 8) as u8; 3]).collect()
        }
        other => other.to_rgb8().into_raw(),
    };
    RgbImage { width, height, data }
}
