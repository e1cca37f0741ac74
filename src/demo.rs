//! The built-in demo workload: the classic multiprocessing examples, on
//! files shipped inside the binary, so it runs anywhere.

use std::io;
use std::path::{Path, PathBuf};

use crate::engine::Task;
use crate::task::TaskSpec;

/// The demo's tasks, and the temporary folder holding its input files.
pub struct Demo {
    _dir: tempfile::TempDir,
    out_dir: PathBuf,
    tasks: Vec<Task>,
}

impl Demo {
    /// Writes the demo's input files to a temporary folder and builds the tasks.
    /// Thumbnails go to `out_dir`, or into the temporary folder when none is given.
    pub fn prepare(out_dir: Option<&Path>) -> io::Result<Demo> {
        let dir = tempfile::Builder::new().prefix("pooltop-demo-").tempdir()?;
        let out_dir = match out_dir {
            Some(p) => p.to_path_buf(),
            None => dir.path().join("thumbs"),
        };
        let mut tasks = Vec::new();
        for (i, n) in [3e8, 2e8, 4e8, 2.5e8, 3.5e8, 2e8].iter().enumerate() {
            tasks.push(Task::from(TaskSpec::Spin(*n as u64)));
            if i % 2 == 0 {
                tasks.push(Task::from(TaskSpec::Sleep(0.5)));
            }
        }
        let exe = std::env::current_exe()?;
        tasks.push(Task::from(TaskSpec::Sha256(
            exe.to_string_lossy().into_owned(),
        )));
        for n in 1..=8 {
            tasks.push(Task::from(TaskSpec::Square(n * 1111)));
        }
        Ok(Demo {
            _dir: dir,
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
}
