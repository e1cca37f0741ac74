//! The built-in demo workload: `assets/demo.tasks` (CPU-bound countdowns,
//! sleeps, squares, hashes, thumbnails, a shell command) with the sample
//! images built into the binary, so it runs from any folder.

use std::io;
use std::path::{Path, PathBuf};

use pooltop::engine::Task;
use pooltop::task;

/// The demo's task file; its paths start with `assets/`.
const TASKS: &str = include_str!("../assets/demo.tasks");

/// The sample files the demo's tasks read.
const FILES: [(&str, &[u8]); 4] = [
    ("mandelbrot.png", include_bytes!("../assets/mandelbrot.png")),
    ("circles.jpg", include_bytes!("../assets/circles.jpg")),
    ("hills.png", include_bytes!("../assets/hills.png")),
    ("checker.png", include_bytes!("../assets/checker.png")),
];

/// The demo's tasks, and the temporary folder holding its input files (the
/// workers run there, so the task lines read `assets/…` as written).
pub struct Demo {
    dir: tempfile::TempDir,
    out_dir: PathBuf,
    tasks: Vec<Task>,
}

impl Demo {
    /// Writes the sample files to a temporary folder and builds the tasks.
    /// Thumbnails go to `out_dir`, or into the temporary folder when none is given.
    pub fn prepare(out_dir: Option<&Path>) -> io::Result<Demo> {
        let dir = tempfile::Builder::new().prefix("pooltop-demo-").tempdir()?;
        let assets = dir.path().join("assets");
        std::fs::create_dir(&assets)?;
        for (name, bytes) in FILES {
            std::fs::write(assets.join(name), bytes)?;
        }
        // Absolute: the workers run in the demo's folder, not the user's.
        let out_dir = match out_dir {
            Some(p) => std::path::absolute(p)?,
            None => dir.path().join("thumbs"),
        };
        let lines = task::parse_lines(TASKS).map_err(|errors| {
            io::Error::other(format!("the built-in demo has a bad line: {}", errors[0]))
        })?;
        let tasks = lines
            .into_iter()
            .map(|l| Task {
                spec: l.spec,
                line: l.text.into(),
            })
            .collect();
        Ok(Demo {
            dir,
            out_dir,
            tasks,
        })
    }

    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// The folder the workers must run in.
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::task::TaskSpec;

    #[test]
    fn demo_tasks_point_at_the_written_files() {
        let demo = Demo::prepare(None).unwrap();
        let listed = task::parse_lines(TASKS).unwrap().len();
        assert_eq!(demo.tasks().len(), listed);
        let mut files = 0;
        for t in demo.tasks() {
            if let TaskSpec::Sha256(p) | TaskSpec::Thumbnail { path: p, .. } = &t.spec {
                assert!(demo.work_dir().join(p).is_file(), "{p}");
                files += 1;
            }
        }
        assert_eq!(files, 8);
    }
}
