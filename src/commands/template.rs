//! `pooltop run [OPTIONS] -- CMD [ARGS…]`: CMD once per input, as GNU
//! parallel runs it. This module checks the options, reads the inputs and
//! the old job log, prints a dry run, and otherwise starts a pool whose
//! events a batch session (`crate::batch::session`) turns into output.

use std::io::{self, IsTerminal, Read};
use std::path::Path;

use crate::batch::joblog::{self, JobLog};
use crate::batch::{self, BatchArgs, Plan, halt::HaltPolicy, session};
use crate::cli::RunArgs;
use crate::report::sink::{EXIT_BATCH_LOST_RECORDS, Sink};
use crate::{config, headless};

use super::{Failure, json_sink, load_settings, pool_name};

/// The shell for template commands that need one.
const DEFAULT_SHELL: &str = "sh";

/// Runs the template; the caller turns a [`Failure`] into parallel's 255.
pub fn run(args: RunArgs, words: Vec<String>) -> Result<u8, Failure> {
    run_calling(args, words, None)
}

/// `pooltop run --py MODULE:FUNCTION [::: ARG…]`: the function once per
/// input, as a template whose jobs are `py` tasks (see `batch::py`).
pub fn run_py(args: RunArgs, py: Vec<String>) -> Result<u8, Failure> {
    let Some((target, rest)) = py.split_first() else {
        return Err(Failure::usage("--py needs MODULE:FUNCTION"));
    };
    let spec = pooltop::task::PySpec::parse(target, &[]).map_err(|e| Failure::usage(e.reason))?;
    let words = batch::py::template_words(target, rest).map_err(Failure::usage)?;
    run_calling(args, words, Some(spec))
}

fn run_calling(
    args: RunArgs,
    words: Vec<String>,
    py: Option<pooltop::task::PySpec>,
) -> Result<u8, Failure> {
    check_options(&args)?;
    let b = &args.batch;
    let old_log = read_old_log(b)?;
    let shell = std::env::var("PARALLEL_SHELL").unwrap_or_else(|_| DEFAULT_SHELL.to_string());
    let plan =
        batch::plan(&words, b, &shell, read_input, old_log.as_deref()).map_err(Failure::usage)?;
    if plan.jobs.is_empty() && !b.dry_run {
        // Nothing to run (no input, or all done by an earlier run): no pool.
        return Ok(0);
    }
    // Settings as for any pool (defaults < config file < environment <
    // flags); the output cap keeps the batch default unless one was set.
    let settings = load_settings(&args.pool)?.settings;
    let mut config = settings.pool_config();
    let workers = config.workers;
    let output_cap = (*settings.origin(config::Key::OutputCap) != config::Origin::Default)
        .then_some(settings.output_cap);
    let halt = b.halt.unwrap_or(HaltPolicy::NEVER);
    batch::configure(
        &mut config,
        settings.retries,
        b.timeout,
        halt,
        output_cap,
        plan.jobs.len(),
    );
    config.python.init = args.pool.py_init.clone();
    // Held until the run ends: the ssh master connections.
    let _ssh = super::remote::place(&args.pool.remote, &mut config)?;
    config.validate()?;
    if b.dry_run {
        return Ok(dry_run(&plan, workers));
    }
    // Long or binary job output is spilled here, whole, by the workers, and
    // removed once printed (as parallel's files in $TMPDIR); the folder goes
    // when the run ends.
    let spill = spill_dir()?;
    config.spill_dir = Some(spill.path().to_path_buf());
    let joblog = match &b.joblog {
        Some(path) => Some(open_joblog(path, b.resume || b.resume_failed)?),
        None => None,
    };
    let options = session::SessionOptions {
        keep_order: b.keep_order,
        halt,
    };
    // What an attached dashboard's header shows: the command template.
    let title = plan.template.shown().to_string();
    let session = session::Session::new(
        plan.template,
        plan.jobs,
        options,
        joblog,
        Box::new(io::stdout()),
        Box::new(io::stderr()),
    );
    let session = match py {
        Some(target) => session.calling_python(target),
        None => session,
    };
    let json = json_sink(&args.pool)?;
    let meta = crate::report::record::RecordMeta {
        title: title.clone(),
        workers: config.workers,
        sample_every: config.sample_every,
    };
    let mut recording = super::recording::open(&args.pool, &settings, meta)?;
    // A batch opens a control socket as any pool does (`pooltop attach`,
    // `status`); its view is updated on this thread as events are read.
    let name = pool_name(&args.pool)?;
    let (pool, events, _control) = crate::control::start_pool(config, &name, &title)?;
    let record = recording.recorder.take();
    let code = headless::run_batch(pool, events, session, json, record, b.eta)?;
    drop(spill);
    recording.finish()?;
    // As a process exit status: -1 (a timed-out job that halted the run) is 255.
    Ok(code as u8)
}

/// Options that do not go with a command template, or need another.
fn check_options(args: &RunArgs) -> Result<(), Failure> {
    if let Some(file) = &args.taskfile {
        return Err(Failure::usage(format!(
            "`{}`: a task file and a command template (after --) do not go together",
            file.display()
        )));
    }
    if args.pool.keep_alive {
        return Err(Failure::usage(
            "--keep-alive does not go with a command template: the batch ends with its last job",
        ));
    }
    let b = &args.batch;
    if (b.resume || b.resume_failed) && b.joblog.is_none() {
        let opt = if b.resume {
            "--resume"
        } else {
            "--resume-failed"
        };
        return Err(Failure::usage(format!(
            "{opt} needs the --joblog FILE of the earlier run"
        )));
    }
    Ok(())
}

/// The earlier run's job log, for `--resume` / `--resume-failed` (none when
/// it does not exist yet: then everything runs), without a torn last row
/// (one the warning names; its job runs again, and `JobLog::open` cuts it
/// off before new rows are appended).
fn read_old_log(b: &BatchArgs) -> Result<Option<String>, Failure> {
    let (Some(path), true) = (&b.joblog, b.resume || b.resume_failed) else {
        return Ok(None);
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let (whole, torn) = joblog::drop_torn_row(&text, &path.display().to_string());
            if let Some(warning) = torn {
                pooltop::say!("{warning}");
            }
            Ok(Some(whole.to_string()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::usage(format!(
            "cannot read the job log `{}`: {e}",
            path.display()
        ))),
    }
}

/// Reads one input source whole: a file, or standard input for `-`.
fn read_input(name: &str) -> io::Result<Vec<u8>> {
    if name != "-" {
        return std::fs::read(name);
    }
    if io::stdin().is_terminal() {
        pooltop::say!("pooltop: reading inputs from the terminal, one per line; end with Ctrl-D");
    }
    let mut bytes = Vec::new();
    io::stdin().read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `--dry-run`: each job's command line, as it would run, on stdout (one
/// write each). Returns the exit status: 0, even when the reader went away,
/// or 254 when stdout could not be written (said once).
fn dry_run(plan: &Plan, workers: usize) -> u8 {
    let mut out = Sink::new("command lines on standard output", Box::new(io::stdout()))
        .then("nothing ran")
        .quiet_when_closed();
    for (i, job) in plan.jobs.iter().enumerate() {
        let slot = batch::dry_run_slot(i, workers);
        let line = plan.template.command_line(&job.args, job.seq, Some(slot));
        if !out.write_all(format!("{line}\n").as_bytes()) {
            break;
        }
    }
    out.flush();
    if out.lost().is_some() && !out.was_closed() {
        return EXIT_BATCH_LOST_RECORDS as u8;
    }
    0
}

/// A private (0700) folder for job output too long or not text enough to
/// travel in a frame.
fn spill_dir() -> Result<tempfile::TempDir, Failure> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("pooltop-out-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| Failure::usage(format!("cannot make a folder for job output: {e}")))
}

fn open_joblog(path: &Path, resume: bool) -> Result<JobLog, Failure> {
    JobLog::open(path, resume).map_err(|e| {
        Failure::usage(format!(
            "cannot write the job log `{}`: {e}; nothing ran",
            path.display()
        ))
    })
}
