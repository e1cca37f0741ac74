//! The files a run's tasks write, each claimed by the task that writes it,
//! so that no task of a run overwrites another's output. A task file is
//! checked whole before anything runs; every later submission (`pooltop
//! submit`, the dashboard's prompt) is checked against what the run has
//! claimed so far, under one lock, all of its tasks or none.
//!
//! Which file a task writes is [`TaskSpec::output_file`]'s to say; files
//! left by an earlier run are not this module's business (they are
//! overwritten, as `--out` has always done).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pooltop::engine::TaskId;
use pooltop::task::TaskSpec;

/// The files claimed so far in a run, each with where its task came from
/// (`hills.txt:3`, `<submit>:1`).
#[derive(Debug, Default)]
pub struct OutputClaims {
    out_dir: PathBuf,
    claimed: HashMap<PathBuf, String>,
}

impl OutputClaims {
    /// No file claimed yet, in a run whose output folder is `out_dir`.
    pub fn new(out_dir: &Path) -> OutputClaims {
        OutputClaims {
            out_dir: out_dir.to_path_buf(),
            claimed: HashMap::new(),
        }
    }

    /// Claims the files that `tasks` (each with its origin, made into text
    /// only for a task that writes a file) would write: all
    /// of them, or none when one would overwrite a file claimed before (by
    /// the run or by an earlier task of `tasks`). The error holds a line per
    /// collision, naming both origins and the file.
    pub fn claim<'a>(
        &mut self,
        tasks: impl IntoIterator<Item = (&'a TaskSpec, impl fmt::Display)>,
    ) -> Result<(), Vec<String>> {
        self.claim_indexed(tasks).map(drop)
    }

    /// [`OutputClaims::claim`], returning each file claimed with the index
    /// of its task in `tasks`.
    fn claim_indexed<'a>(
        &mut self,
        tasks: impl IntoIterator<Item = (&'a TaskSpec, impl fmt::Display)>,
    ) -> Result<Vec<(PathBuf, usize)>, Vec<String>> {
        let mut fresh: HashMap<PathBuf, (String, usize)> = HashMap::new();
        let mut errors = Vec::new();
        for (i, (spec, origin)) in tasks.into_iter().enumerate() {
            let Some(file) = spec.output_file(&self.out_dir) else {
                continue;
            };
            let first = self
                .claimed
                .get(&file)
                .or_else(|| fresh.get(&file).map(|f| &f.0));
            match first {
                Some(first) => errors.push(collision(&origin.to_string(), first, &file)),
                None => {
                    fresh.insert(file, (origin.to_string(), i));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut claimed = Vec::with_capacity(fresh.len());
        for (file, (origin, i)) in fresh {
            claimed.push((file.clone(), i));
            self.claimed.insert(file, origin);
        }
        Ok(claimed)
    }

    /// How many files are claimed.
    pub fn len(&self) -> usize {
        self.claimed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.claimed.is_empty()
    }
}

/// Where a task came from: line `.1` of `.0` (`hills.txt:3`).
#[derive(Debug, Clone, Copy)]
pub struct FileLine<'a>(pub &'a str, pub usize);

impl fmt::Display for FileLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

/// The one message for two tasks that would write the same file.
fn collision(second: &str, first: &str, file: &Path) -> String {
    format!(
        "{second}: would write `{}`, which {first} writes too (two tasks of a run may not write the same file)",
        file.display()
    )
}

/// A run's claims, shared by everything that submits to it: the control
/// server's submit and the dashboard's prompt. Cloning shares them.
#[derive(Debug, Clone)]
pub struct SharedClaims(Arc<Mutex<OutputClaims>>);

impl SharedClaims {
    pub fn new(claims: OutputClaims) -> SharedClaims {
        SharedClaims(Arc::new(Mutex::new(claims)))
    }

    /// Claims the files of `tasks` and, only if none collides, submits them
    /// with `submit` (under the same lock, so no other submission comes in
    /// between). Each file is then known by its task's id too: a later
    /// collision names `task 7 (<submit>:1)`.
    pub fn claim_then_submit<'a>(
        &self,
        tasks: impl IntoIterator<Item = (&'a TaskSpec, impl fmt::Display)>,
        submit: impl FnOnce() -> Vec<TaskId>,
    ) -> Result<Vec<TaskId>, Vec<String>> {
        let mut claims = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let claimed = claims.claim_indexed(tasks)?;
        let ids = submit();
        for (file, i) in claimed {
            if let (Some(id), Some(origin)) = (ids.get(i), claims.claimed.get_mut(&file)) {
                *origin = format!("task {} ({origin})", id.0);
            }
        }
        Ok(ids)
    }

    /// [`OutputClaims::claim`] under the lock.
    pub fn claim<'a>(
        &self,
        tasks: impl IntoIterator<Item = (&'a TaskSpec, impl fmt::Display)>,
    ) -> Result<(), Vec<String>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .claim(tasks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(line: &str) -> TaskSpec {
        TaskSpec::parse(line).expect("a task line")
    }

    #[test]
    fn a_thumbnail_names_its_file_and_other_kinds_none() {
        let out = Path::new("out");
        assert_eq!(
            spec("thumbnail imgs/hills.jpg 64x64").output_file(out),
            Some(PathBuf::from("out/hills.png"))
        );
        assert_eq!(
            spec("thumbnail 'my pics/a b.png'").output_file(out),
            Some(PathBuf::from("out/a b.png"))
        );
        for line in ["sha256 x", "shell echo > f", "square 3", "hang"] {
            assert_eq!(spec(line).output_file(out), None, "{line}");
        }
    }

    #[test]
    fn two_tasks_writing_one_file_are_refused_naming_both() {
        let mut claims = OutputClaims::new(Path::new("out"));
        let specs = [
            spec("thumbnail imgs/hills.png"),
            spec("thumbnail imgs/sea.png"),
            spec("thumbnail other/hills.jpg"),
        ];
        let tasks = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s, format!("t.txt:{}", i + 1)));
        let errors = claims.claim(tasks).expect_err("a collision");
        assert_eq!(
            errors,
            [
                "t.txt:3: would write `out/hills.png`, which t.txt:1 writes too \
              (two tasks of a run may not write the same file)"
            ]
        );
        assert!(claims.is_empty(), "all or nothing");
    }

    #[test]
    fn a_later_submission_is_checked_against_the_run() {
        let claims = SharedClaims::new(OutputClaims::new(Path::new("out")));
        let first = spec("thumbnail a/x.png");
        claims.claim([(&first, "t.txt:1".to_string())]).unwrap();
        let other = spec("thumbnail b/y.png");
        let again = spec("thumbnail c/x.gif");
        let errors = claims
            .claim([(&other, "<submit>:1"), (&again, "<submit>:2")])
            .expect_err("x.png is taken");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("<submit>:2: would write `out/x.png`, which t.txt:1"));
        // Nothing of the refused submission was claimed: y.png is still free.
        let ids = claims
            .claim_then_submit([(&other, "<submit>:1")], || vec![TaskId(7)])
            .unwrap();
        assert_eq!(ids, [TaskId(7)]);
        assert_eq!(claims.0.lock().unwrap().len(), 2);
        let errors = claims
            .claim([(&spec("thumbnail y.png"), "<submit>:3")])
            .unwrap_err();
        assert!(
            errors[0].contains("which task 7 (<submit>:1) writes too"),
            "{errors:?}"
        );
    }
}
