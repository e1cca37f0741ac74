//! Generates the sample images in `assets/` (see `assets/README.md`).
//!
//!     cargo run --example make_assets [OUT_DIR]
//!
//! Everything is procedural and deterministic: running it again writes the same
//! bytes, so the committed files can be checked against it.

use std::f64::consts::PI;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, Rgb, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"));
    std::fs::create_dir_all(&out_dir)?;
    save_png(&mandelbrot(640, 480), &out_dir.join("mandelbrot.png"))?;
    save_jpeg(&circles(480, 640), &out_dir.join("circles.jpg"))?;
    save_png(&hills(800, 300), &out_dir.join("hills.png"))?;
    save_png(&checker(96, 96), &out_dir.join("checker.png"))?;
    Ok(())
}

fn save_png(img: &RgbImage, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let out = BufWriter::new(File::create(path)?);
    PngEncoder::new_with_quality(out, CompressionType::Best, FilterType::Adaptive).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    report(path)
}

fn save_jpeg(img: &RgbImage, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let out = BufWriter::new(File::create(path)?);
    JpegEncoder::new_with_quality(out, 85).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    report(path)
}

fn report(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "{} ({} bytes)",
        path.display(),
        std::fs::metadata(path)?.len()
    );
    Ok(())
}

fn to_u8(v: f64) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn mix(a: [f64; 3], b: [f64; 3], t: f64) -> [f64; 3] {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn rgb(c: [f64; 3]) -> Rgb<u8> {
    Rgb(c.map(to_u8))
}

/// The whole Mandelbrot set, smoothly coloured by escape time; the set itself is black.
fn mandelbrot(w: u32, h: u32) -> RgbImage {
    const MAX_ITER: u32 = 256;
    let (cx, cy, span) = (-0.65, 0.0, 3.2); // span: width of the view in the complex plane
    let step = span / f64::from(w);
    RgbImage::from_fn(w, h, |px, py| {
        let c_re = cx + (f64::from(px) - f64::from(w) / 2.0) * step;
        let c_im = cy + (f64::from(py) - f64::from(h) / 2.0) * step;
        let (mut re, mut im) = (0.0f64, 0.0f64);
        let mut n = 0;
        while n < MAX_ITER && re * re + im * im <= 256.0 {
            (re, im) = (re * re - im * im + c_re, 2.0 * re * im + c_im);
            n += 1;
        }
        if n == MAX_ITER {
            return Rgb([0, 0, 0]);
        }
        // Smooth (fractional) iteration count, then a cosine palette.
        let smooth = f64::from(n) + 1.0 - (0.5 * (re * re + im * im).ln()).ln() / 2f64.ln();
        let t = smooth * 0.05;
        rgb([
            0.5 + 0.5 * (2.0 * PI * (t + 0.0)).cos(),
            0.5 + 0.5 * (2.0 * PI * (t + 0.15)).cos(),
            0.5 + 0.5 * (2.0 * PI * (t + 0.30)).cos(),
        ])
    })
}

/// Soft-edged translucent discs over a diagonal gradient, with a ring target.
fn circles(w: u32, h: u32) -> RgbImage {
    // (x, y, radius) as fractions of the width, and colour.
    let discs: [(f64, f64, f64, [f64; 3]); 7] = [
        (0.30, 0.25, 0.22, [0.95, 0.30, 0.25]),
        (0.65, 0.35, 0.28, [0.20, 0.70, 0.35]),
        (0.45, 0.55, 0.25, [0.25, 0.40, 0.95]),
        (0.75, 0.80, 0.18, [0.95, 0.80, 0.20]),
        (0.20, 0.85, 0.15, [0.80, 0.30, 0.85]),
        (0.85, 0.10, 0.10, [0.95, 0.95, 0.95]),
        (0.10, 0.50, 0.08, [0.10, 0.90, 0.90]),
    ];
    let (wf, hf) = (f64::from(w), f64::from(h));
    RgbImage::from_fn(w, h, |px, py| {
        let (x, y) = (f64::from(px) + 0.5, f64::from(py) + 0.5);
        let t = (x / wf + y / hf) / 2.0;
        let mut c = mix([0.05, 0.08, 0.20], [0.10, 0.35, 0.40], t);
        for &(dx, dy, r, colour) in &discs {
            let d = ((x - dx * wf).powi(2) + (y - dy * wf).powi(2)).sqrt();
            // 1 inside, 0 outside, a 1.5 px soft edge between.
            let cover = ((r * wf - d) / 1.5 + 0.5).clamp(0.0, 1.0);
            c = mix(c, colour, 0.6 * cover);
        }
        // Concentric rings near the bottom.
        let d = ((x - 0.5 * wf).powi(2) + (y - 0.92 * hf).powi(2)).sqrt();
        if d < 0.18 * wf {
            let ring = 0.5 + 0.5 * (d * 0.35).sin();
            c = mix(c, [1.0, 1.0, 1.0], 0.5 * ring);
        }
        rgb(c)
    })
}

/// A panorama: sunset sky, a sun, and four layers of rolling hills.
fn hills(w: u32, h: u32) -> RgbImage {
    let (wf, hf) = (f64::from(w), f64::from(h));
    let layers: [(f64, f64, f64, [f64; 3]); 4] = [
        // (base height as a fraction of h, amplitude, frequency, colour)
        (0.55, 0.10, 2.0, [0.45, 0.30, 0.45]),
        (0.65, 0.08, 3.5, [0.30, 0.22, 0.38]),
        (0.75, 0.07, 5.0, [0.18, 0.15, 0.28]),
        (0.86, 0.05, 8.0, [0.08, 0.07, 0.15]),
    ];
    RgbImage::from_fn(w, h, |px, py| {
        let (x, y) = (f64::from(px) / wf, f64::from(py) / hf);
        let mut c = mix([0.98, 0.65, 0.30], [0.25, 0.15, 0.45], (1.0 - y).powf(1.5));
        let sun = ((x - 0.7).powi(2) * (wf / hf).powi(2) + (y - 0.45).powi(2)).sqrt();
        if sun < 0.12 {
            c = [1.0, 0.92, 0.70];
        } else if sun < 0.30 {
            c = mix(
                c,
                [1.0, 0.85, 0.55],
                0.5 * (1.0 - (sun - 0.12) / 0.18).powi(2),
            );
        }
        for (i, &(base, amp, freq, colour)) in layers.iter().enumerate() {
            let phase = i as f64 * 1.7;
            let top = base
                - amp * (2.0 * PI * freq * x + phase).sin()
                - 0.3 * amp * (2.0 * PI * 3.1 * freq * x + 2.0 * phase).sin();
            if y >= top {
                c = colour;
            }
        }
        rgb(c)
    })
}

/// A small checkerboard with a disc: hard edges, smaller than a default
/// thumbnail, so `thumbnail` blurs it but does not enlarge it.
fn checker(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (cx, cy) = (f64::from(x) - 47.5, f64::from(y) - 47.5);
        if (cx * cx + cy * cy).sqrt() < 28.0 {
            Rgb([220, 40, 40])
        } else if ((x / 12) + (y / 12)) % 2 == 0 {
            Rgb([20, 20, 20])
        } else {
            Rgb([235, 235, 235])
        }
    })
}
