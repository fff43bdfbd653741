//! `cargo run --release -p crops --example jpeg_speed -- DIR [ROUNDS]`: decoding time per image
//! of the `.jpg` files of DIR (read into memory first), one thread, with Pillow's exact decoder
//! (libjpeg-turbo) and with zune-jpeg, alternated in the same run; prints one JSON line.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crops::{JpegDecoder, decode_bytes_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: jpeg_speed DIR [ROUNDS]")?);
    let rounds: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "jpg") {
            files.push((std::fs::read(&p)?, p));
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    let mut best = [f64::INFINITY; 2];
    for _ in 0..rounds {
        for (i, jpeg) in [JpegDecoder::Exact, JpegDecoder::Fast].into_iter().enumerate() {
            let start = Instant::now();
            for (bytes, path) in &files {
                decode_bytes_with(path, bytes, jpeg)?;
            }
            best[i] = best[i].min(start.elapsed().as_secs_f64() / files.len() as f64);
        }
    }
    let [exact, fast] = best.map(|s| s * 1e3);
    writeln!(
        std::io::stdout(),
        "{{\"images\": {}, \"exact_ms_per_image\": {exact:.3}, \"fast_ms_per_image\": {fast:.3}, \"exact_over_fast\": {:.2}}}",
        files.len(),
        exact / fast
    )?;
    Ok(())
}
