//! Which recording a run gets (`--record PATH`, the default per-run file,
//! none), and the trace written from it when the run ends (`--trace`).

use std::path::PathBuf;

use crate::cli::PoolArgs;
use crate::config::Settings;
use crate::report::record::{self, RecordMeta, Recorder};

use super::Failure;

/// A run's recording: the recorder its face feeds, where it goes, and the
/// trace to make of it at the end.
pub struct Recording {
    /// Taken by the face.
    pub recorder: Option<Recorder>,
    path: Option<PathBuf>,
    trace: Option<PathBuf>,
    /// A recording made only for `--trace` (recording off): removed at the end.
    _temp: Option<tempfile::TempDir>,
}

/// The recording `args` and `settings` ask for: `--record PATH` (a file that
/// cannot be created stops pooltop before anything runs), else the default
/// file unless `--no-record` or `record.enabled = false` (a default folder
/// that cannot be written is said once, and the run goes on unrecorded),
/// and a temporary one when only `--trace` needs it.
pub fn open(args: &PoolArgs, settings: &Settings, meta: RecordMeta) -> Result<Recording, Failure> {
    let mut temp = None;
    let path = if let Some(path) = &args.record {
        Some(path.clone())
    } else if args.no_record || !settings.record_enabled {
        None
    } else {
        default_path(settings.record_keep)
    };
    let path = match (path, &args.trace) {
        (None, Some(_)) => {
            let dir = tempfile::Builder::new()
                .prefix("pooltop-trace-")
                .tempdir()
                .map_err(|e| Failure::usage(format!("cannot make a folder for the trace: {e}")))?;
            let p = dir.path().join("run.jsonl");
            temp = Some(dir);
            Some(p)
        }
        (p, _) => p,
    };
    let recorder = match &path {
        None => None,
        Some(p) => match Recorder::create(p, meta) {
            Ok(mut r) => {
                r.asked = args.record.is_some();
                Some(r)
            }
            Err(e) if args.record.is_some() || args.trace.is_some() => {
                return Err(Failure::usage(format!(
                    "cannot create the recording `{}`: {e}",
                    p.display()
                )));
            }
            Err(e) => {
                pooltop::say!(
                    "pooltop: cannot record this run in `{}`: {e}; it runs unrecorded",
                    p.display()
                );
                None
            }
        },
    };
    Ok(Recording {
        path: recorder.as_ref().and(path),
        recorder,
        trace: args.trace.clone(),
        _temp: temp,
    })
}

/// A new default recording's path (older ones pruned to `keep`), or none
/// without a state folder; a folder that cannot be made is said once.
fn default_path(keep: u32) -> Option<PathBuf> {
    let env = |k: &str| std::env::var(k).ok();
    let dir = record::default_dir(&env)?;
    match record::default_path(&dir, keep) {
        Ok(p) => Some(p),
        Err(e) => {
            pooltop::say!(
                "pooltop: cannot record this run in `{}`: {e}; it runs unrecorded",
                dir.display()
            );
            None
        }
    }
}

impl Recording {
    /// After the run: the trace `--trace` asked for, from the recording.
    pub fn finish(self) -> Result<(), Failure> {
        let (Some(trace), Some(path)) = (&self.trace, &self.path) else {
            return Ok(());
        };
        crate::report::trace::write_from(path, trace).map_err(|e| {
            Failure::usage(format!("cannot write the trace `{}`: {e}", trace.display()))
        })?;
        Ok(())
    }
}
