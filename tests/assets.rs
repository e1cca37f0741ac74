//! The sample assets: the images are what `assets/README.md` says they are, and
//! every task of `assets/demo.tasks` parses and runs (except the long spins and
//! sleeps, which only need to parse).

use std::path::Path;
use std::process::Command;

use pooltop::task::{TaskOutcome, TaskSpec, parse_lines};
use pooltop::worker::exec::{DEFAULT_OUTPUT_CAP, ExecContext, run};

const IMAGES: [(&str, (u32, u32), image::ImageFormat); 4] = [
    ("assets/mandelbrot.png", (640, 480), image::ImageFormat::Png),
    ("assets/circles.jpg", (480, 640), image::ImageFormat::Jpeg),
    ("assets/hills.png", (800, 300), image::ImageFormat::Png),
    ("assets/checker.png", (96, 96), image::ImageFormat::Png),
];

#[test]
fn images_are_as_documented_and_small() {
    let mut total = 0;
    for (path, size, format) in IMAGES {
        let reader = image::ImageReader::open(path)
            .unwrap()
            .with_guessed_format()
            .unwrap();
        assert_eq!(reader.format(), Some(format), "{path}");
        let img = reader.decode().unwrap();
        assert_eq!((img.width(), img.height()), size, "{path}");
        total += std::fs::metadata(path).unwrap().len();
    }
    assert!(total < 1_500_000, "assets take {total} bytes");
}

fn sha256sum(path: &str) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn demo_tasks_parse_and_run() {
    let text = std::fs::read_to_string("assets/demo.tasks").unwrap();
    let lines = parse_lines(&text).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!((15..=30).contains(&lines.len()), "{} tasks", lines.len());

    let out_dir = tempfile::tempdir().unwrap();
    let ctx = ExecContext {
        out_dir: out_dir.path().to_path_buf(),
        output_cap: DEFAULT_OUTPUT_CAP,
        slot: 1,
        spill_dir: None,
    };
    let (mut hashed, mut thumbs) = (0, 0);
    for line in &lines {
        let output = match &line.spec {
            TaskSpec::Spin(_) | TaskSpec::Sleep(_) => continue,
            spec => match run(spec, &ctx) {
                TaskOutcome::Ok(output) => output,
                TaskOutcome::Err { message, .. } => {
                    panic!("line {} `{}`: {message}", line.line_no, line.text)
                }
            },
        };
        match &line.spec {
            TaskSpec::Sha256(path) => {
                assert_eq!(output.value, sha256sum(path), "{path}");
                hashed += 1;
            }
            TaskSpec::Thumbnail {
                path,
                width,
                height,
            } => {
                let made = image::open(&output.value).unwrap();
                let src = image::open(path).unwrap();
                assert!(made.width() <= *width && made.height() <= *height, "{path}");
                assert!(made.width() <= src.width() && made.height() <= src.height());
                assert!(Path::new(&output.value).starts_with(out_dir.path()));
                thumbs += 1;
            }
            _ => {}
        }
    }
    assert_eq!((hashed, thumbs), (IMAGES.len(), IMAGES.len()));
}
