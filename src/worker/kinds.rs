//! The built-in task kinds that run inside the worker itself: `spin`,
//! `sleep`, `square`, `sha256`, `thumbnail` and `hang`.
//!
//! Each is a plain function of its arguments that returns its value, or a
//! message naming what went wrong (the path, the OS error); none panics on
//! bad input. Turning those into a task's outcome, and the kinds that start
//! a process (`shell`, command templates), are not here: see `exec` and
//! `spawn`.
//!
//! Paths (`sha256`, `thumbnail`) are taken relative to the worker's current
//! directory.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use sha2::{Digest, Sha256};

/// Size of the read buffer for hashing files.
const CHUNK: usize = 64 * 1024;

/// Largest decoded image `thumbnail` accepts, in bytes of pixel data
/// (the same as the `image` crate's default allocation limit).
const MAX_DECODED_BYTES: u64 = 512 * 1024 * 1024;

/// Counts `n` down to zero and returns the rate in iterations per second
/// (0 when `n` is 0).
pub(super) fn spin(n: u64) -> u64 {
    let start = Instant::now();
    // black_box hides the counter from the optimizer, so the loop cannot be
    // folded away or replaced by a closed form.
    let mut i = black_box(n);
    while i > 0 {
        i = black_box(i - 1);
    }
    if n == 0 {
        return 0;
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    (n as f64 / secs).round() as u64
}

/// Sleeps for `secs` seconds; an empty value, or why `secs` is not a
/// duration (negative, NaN, infinite, too long).
pub(super) fn sleep(secs: f64) -> Result<String, String> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) => {
            thread::sleep(d);
            Ok(String::new())
        }
        Err(_) => Err(format!("cannot sleep {secs} seconds: not a valid duration")),
    }
}

/// n×n, which always fits in an i128 (|i64::MIN|² = 2¹²⁶).
/// Appends `n²` in decimal: exact for every `i64` (the square of one needs
/// 127 bits).
pub(super) fn write_square(n: i64, out: &mut String) {
    let magnitude = n.unsigned_abs();
    let mut digits = itoa::Buffer::new();
    out.push_str(match magnitude.checked_mul(magnitude) {
        // The common case: printing a u64 is about twice as fast as a u128.
        Some(small) => digits.format(small),
        None => digits.format(u128::from(magnitude) * u128::from(magnitude)),
    });
}

/// SHA-256 of a file as lowercase hex, read in chunks (never the whole file at once).
pub(super) fn sha256_file(path: &Path) -> Result<String, String> {
    let cannot = |e: io::Error| format!("cannot read `{}`: {e}", path.display());
    let mut file = File::open(path).map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cannot(e)),
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The size of a `w`×`h` image shrunk to fit within `max_w`×`max_h`, keeping
/// its aspect ratio (rounded to whole pixels, at least 1). An image that
/// already fits is returned at its own size: thumbnails never enlarge.
fn fit_within(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (max_w, max_h) = (max_w.max(1), max_h.max(1));
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    let (w64, h64) = (u64::from(w), u64::from(h));
    let round_div = |a: u64, b: u64| ((a + b / 2) / b).max(1) as u32;
    if w64 * u64::from(max_h) >= h64 * u64::from(max_w) {
        // The width is the tighter limit.
        (max_w, round_div(h64 * u64::from(max_w), w64).min(max_h))
    } else {
        (round_div(w64 * u64::from(max_h), h64).min(max_w), max_h)
    }
}

/// Opens and decodes an image (format from its content), upright per its EXIF orientation.
fn load_image(path: &Path) -> Result<DynamicImage, String> {
    let shown = path.display();
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let not_image = |e: image::ImageError| format!("cannot decode `{shown}` as an image: {e}");
    let mut decoder = reader.into_decoder().map_err(not_image)?;
    // `into_decoder` does not check the allocation limit the way `decode` does.
    let bytes = decoder.total_bytes();
    if bytes > MAX_DECODED_BYTES {
        let (w, h) = decoder.dimensions();
        return Err(format!(
            "cannot decode `{shown}`: {w}x{h} is too large ({} MiB of pixels, limit {} MiB)",
            bytes >> 20,
            MAX_DECODED_BYTES >> 20
        ));
    }
    let orientation = decoder.orientation().map_err(not_image)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(not_image)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(format!(
            "cannot make a thumbnail of `{shown}`: it has no pixels"
        ));
    }
    Ok(img)
}

/// Blurs the image at `path`, shrinks it to fit `max_w`×`max_h` and saves it as
/// `<out_dir>/<file stem>.png`. Returns the path written.
pub(super) fn thumbnail(
    path: &Path,
    max_w: u32,
    max_h: u32,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let img = load_image(path)?;
    let (w, h) = (img.width(), img.height());
    let (tw, th) = fit_within(w, h, max_w, max_h);

    fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create output folder `{}`: {e}", out_dir.display()))?;
    let mut name = path
        .file_stem()
        .unwrap_or(OsStr::new("thumbnail"))
        .to_os_string();
    name.push(".png");
    let out = out_dir.join(name);
    if same_file(path, &out) {
        return Err(format!(
            "thumbnail of `{}` would overwrite its source: choose another output folder",
            path.display()
        ));
    }

    // Blur in source pixels with sigma = half the shrink factor (at least 0.5):
    // half a pixel of softening in the thumbnail, whatever its size, which also
    // removes detail finer than the thumbnail's pixels before they are dropped.
    // The kernel grows with the factor (about 6.7 sigma taps per pass), so a
    // 2 MP photo shrunk to 128 px costs tens of taps per pixel: well under a
    // second in a release build.
    let scale = (w as f32 / tw as f32).max(h as f32 / th as f32);
    let blurred = img.blur((0.5 * scale).max(0.5));
    let thumb = if (tw, th) == (w, h) {
        blurred
    } else {
        blurred.resize_exact(tw, th, FilterType::Triangle)
    };
    thumb
        .save_with_format(&out, ImageFormat::Png)
        .map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    Ok(out)
}

/// Whether both paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Blocks the calling thread forever without using CPU.
pub(super) fn hang() -> ! {
    loop {
        // park() may return spuriously; parking again costs no CPU.
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    use crate::task::{TaskOutcome, TaskOutput, TaskSpec};
    use crate::worker::exec::testkit::{ctx, expect_err, expect_ok, scratch_ctx};
    use crate::worker::exec::{DEFAULT_OUTPUT_CAP, run};

    #[test]
    fn square_extremes() {
        for (n, want) in [
            (0, "0"),
            (-3, "9"),
            (3_037_000_500, "9223372037000250000"), // just past i64::MAX
            (-4_294_967_295, "18446744065119617025"), // the largest that fits a u64
            (4_294_967_296, "18446744073709551616"), // the first that does not
            (i64::MAX, "85070591730234615847396907784232501249"),
            (i64::MIN, "85070591730234615865843651857942052864"),
        ] {
            let out = expect_ok(run(&TaskSpec::Square(n), &scratch_ctx()));
            assert_eq!(out.value, want, "square {n}");
        }
    }

    #[test]
    fn spin_reports_a_positive_rate() {
        let out = expect_ok(run(&TaskSpec::Spin(2_000_000), &scratch_ctx()));
        let rate: u64 = out.value.parse().expect("an integer");
        assert!(rate > 0, "rate {rate}");
        let out = expect_ok(run(&TaskSpec::Spin(0), &scratch_ctx()));
        assert_eq!(out.value, "0");
    }

    #[test]
    fn sleep_sleeps_and_rejects_bad_durations() {
        let start = Instant::now();
        let out = expect_ok(run(&TaskSpec::Sleep(0.05), &scratch_ctx()));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(out.value, "");
        for secs in [-1.0, f64::NAN, f64::INFINITY] {
            let (msg, _) = expect_err(run(&TaskSpec::Sleep(secs), &scratch_ctx()));
            assert!(msg.contains("not a valid duration"), "{msg}");
        }
    }

    #[test]
    fn fail_carries_its_message() {
        let (msg, output) = expect_err(run(&TaskSpec::Fail("disk on fire".into()), &scratch_ctx()));
        assert_eq!(msg, "disk on fire");
        assert_eq!(output, TaskOutput::default());
    }

    fn sha256sum(path: &Path) -> String {
        let out = Command::new("sha256sum")
            .arg("--")
            .arg(path)
            .output()
            .expect("sha256sum runs");
        assert!(out.status.success(), "sha256sum {}", path.display());
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().next().unwrap().to_string()
    }

    #[test]
    fn sha256_matches_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        // Pseudo-random bytes, so that every chunk of the 3 MB file differs.
        let mut x: u32 = 1;
        let big: Vec<u8> = (0..3_000_001)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let files: [(&str, &[u8]); 5] = [
            ("empty", b""),
            ("abc.txt", b"abc"),
            ("with space.txt", b"hello world\n"),
            ("exactly-one-chunk.bin", &big[..CHUNK]),
            ("big.bin", &big),
        ];
        for (name, data) in files {
            let path = dir.path().join(name);
            fs::write(&path, data).unwrap();
            let spec = TaskSpec::Sha256(path.to_str().unwrap().into());
            let out = expect_ok(run(&spec, &scratch_ctx()));
            assert_eq!(out.value, sha256sum(&path), "{name}");
            assert_eq!(out.value.len(), 64);
        }
    }

    #[test]
    fn sha256_errors_name_the_path_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("x.bin");
        let (msg, _) = expect_err(run(
            &TaskSpec::Sha256(missing.to_str().unwrap().into()),
            &scratch_ctx(),
        ));
        assert_eq!(
            msg,
            format!(
                "cannot read `{}`: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let (msg, _) = expect_err(run(
            &TaskSpec::Sha256(dir.path().to_str().unwrap().into()),
            &scratch_ctx(),
        ));
        assert!(msg.contains("Is a directory"), "{msg}");
    }

    #[test]
    fn fit_within_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit_within(400, 200, 128, 128), (128, 64));
        assert_eq!(fit_within(200, 400, 128, 128), (64, 128));
        assert_eq!(fit_within(50, 30, 128, 128), (50, 30));
        assert_eq!(fit_within(128, 128, 128, 128), (128, 128));
        assert_eq!(fit_within(640, 480, 100, 100), (100, 75));
        assert_eq!(fit_within(10_000, 1, 128, 128), (128, 1));
        assert_eq!(fit_within(1, 10_000, 128, 128), (1, 128));
        assert_eq!(fit_within(800, 300, 64, 32), (64, 24));
        assert_eq!(fit_within(300, 800, 64, 32), (12, 32));
    }

    /// A test image with hard edges: black and white stripes.
    fn write_image(path: &Path, w: u32, h: u32) {
        let img = image::RgbImage::from_fn(w, h, |x, _| {
            if (x / 4) % 2 == 0 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        img.save(path).unwrap();
    }

    fn thumb(path: &Path, size: (u32, u32), out_dir: &Path) -> TaskOutcome {
        let spec = TaskSpec::Thumbnail {
            path: path.to_str().unwrap().into(),
            width: size.0,
            height: size.1,
        };
        run(&spec, &ctx(out_dir, DEFAULT_OUTPUT_CAP))
    }

    #[test]
    fn thumbnails_fit_the_box_and_keep_the_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("thumbs/nested");
        let default = crate::task::DEFAULT_THUMB_SIZE;
        for (name, (w, h), size, want) in [
            ("wide.png", (400, 200), default, (128, 64)),
            ("tall.png", (150, 600), default, (32, 128)),
            ("photo.jpg", (300, 300), (64, 32), (32, 32)),
            ("small.png", (50, 30), default, (50, 30)),
        ] {
            let src = dir.path().join(name);
            write_image(&src, w, h);
            let out = expect_ok(thumb(&src, size, &out_dir));
            let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
            let want_path = out_dir.join(format!("{stem}.png"));
            assert_eq!(out.value, want_path.display().to_string());
            let made = image::open(&want_path).unwrap();
            assert_eq!((made.width(), made.height()), want, "{name}");
            let bytes = fs::read(&want_path).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{name} is not a PNG");
        }
        // Even the small image that is not shrunk is blurred: its hard
        // black/white edges now have grey pixels.
        let small = image::open(out_dir.join("small.png")).unwrap().to_luma8();
        assert!(small.pixels().any(|p| p.0[0] > 20 && p.0[0] < 235));
    }

    #[test]
    fn thumbnail_errors_name_the_path_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("out");

        let missing = dir.path().join("missing.png");
        let (msg, _) = expect_err(thumb(&missing, (64, 64), &out_dir));
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");

        let text = dir.path().join("notes.png");
        fs::write(&text, "not an image at all").unwrap();
        let (msg, _) = expect_err(thumb(&text, (64, 64), &out_dir));
        assert!(msg.starts_with("cannot decode `"), "{msg}");
        assert!(msg.contains("notes.png"), "{msg}");

        let src = dir.path().join("ok.png");
        write_image(&src, 40, 40);
        let blocker = dir.path().join("a-file");
        fs::write(&blocker, "").unwrap();
        let bad_out = blocker.join("sub");
        let (msg, _) = expect_err(thumb(&src, (64, 64), &bad_out));
        assert!(msg.contains("cannot create output folder"), "{msg}");
        assert!(msg.contains(&bad_out.display().to_string()), "{msg}");

        // Writing the thumbnail next to a PNG source would overwrite it.
        let (msg, _) = expect_err(thumb(&src, (16, 16), dir.path()));
        assert!(msg.contains("overwrite its source"), "{msg}");
        assert_eq!(image::open(&src).unwrap().width(), 40);
    }
}
