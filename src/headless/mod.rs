//! The headless face: progress and a summary on stderr, JSON lines of every
//! event, and the exit status. No terminal control beyond one progress line.
//! Task-file runs ([`run`]) and command batches ([`run_batch`]) share one
//! loop (`runner`) and differ only in their [`runner::Mode`].

mod results;
mod runner;

use std::time::Instant;

use crate::batch::session::Session;
use crate::report::json::{JsonLines, JsonSink};
use crate::report::record::Recorder;
use crate::report::sink::EXIT_LOST_RECORDS;
use pooltop::engine::{self, Command, EventStream, PoolEvent, Task};
use pooltop::error::Error;
pub use results::Printing;
use results::ResultPrinter;
use runner::{Mode, Out, Progress};

/// How the headless runner runs.
pub struct Options {
    /// Where the JSON lines go, if anywhere.
    pub json: Option<JsonSink>,
    /// The run's recording, if it has one.
    pub record: Option<Recorder>,
    /// The name of the pool's control endpoint.
    pub name: String,
    /// Keep running when the queue is empty, until `pooltop stop` or a signal.
    pub keep_alive: bool,
    /// What it prints as tasks finish: results on stdout, failures on stderr.
    pub printing: Printing,
}

/// A task-file run: hung workers are named on stderr (when no JSON stream
/// carries them), the pool is shut down once the queue drains (unless it is
/// kept alive).
struct TaskFile {
    keep_alive: bool,
    printer: ResultPrinter,
    quiet: bool,
}

impl Mode for TaskFile {
    fn after(&mut self, ev: &PoolEvent, out: &mut Out) {
        self.printer.event(ev, &mut out.progress);
        if all_drained(ev, out) && !self.keep_alive {
            out.pool.send(Command::Shutdown);
        }
        // The engine reports hung workers; without a JSON stream, stderr says so.
        if let PoolEvent::WorkerHung {
            worker,
            pid,
            task,
            idle,
        } = ev
            && !out.json.is_on()
            && !self.quiet
        {
            out.progress.clear();
            pooltop::say!(
                "pooltop: worker {worker} (pid {pid}) looks hung: task {task} has made no \
                     progress and its processes no CPU for {:.1}s",
                idle.as_secs_f64()
            );
        }
    }

    fn idle(&mut self) {
        self.printer.flush();
    }

    fn prints_errors(&self, out: &Out) -> bool {
        !out.progress.is_live() && !out.json.is_on()
    }
}

/// Whether the pool drained with every task handed to it counted. A long
/// list reaches the pool in slices, and the queue may run dry between two:
/// that `Drained` (read after the last slice was sent) is not the end.
fn all_drained(ev: &PoolEvent, out: &Out) -> bool {
    matches!(ev, PoolEvent::Drained(c) if c.submitted >= out.pool.tasks_allocated())
}

/// Runs `tasks` on a started pool until all have finished (or a signal stops
/// it), printing each result on stdout, each failure and progress and the
/// summary on stderr. Returns the exit status: the tally's, or
/// [`EXIT_LOST_RECORDS`] when the JSON stream was lost.
pub fn run(
    pool: engine::PoolHandle,
    events: EventStream,
    tasks: Vec<Task>,
    opts: Options,
) -> Result<i32, Error> {
    let Options {
        json,
        mut record,
        name,
        keep_alive,
        mut printing,
    } = opts;
    let workers = pool.config().workers;
    if keep_alive {
        pooltop::say!(
            "pooltop: pool `{name}` is running; add tasks with `pooltop submit --pool {name} FILE`, stop it with `pooltop stop --pool {name}`"
        );
    }
    let stop_signals = runner::watch_signals(pool.clone(), false);
    let started = Instant::now();
    if let Some(r) = record.as_mut() {
        r.start(started);
    }
    if !tasks.is_empty() {
        printing.origins.first = pool.submit_all(tasks).first().copied();
    } else if !keep_alive {
        pool.send(Command::Shutdown);
    }
    let out = Out {
        pool,
        json: JsonLines::new(json, started),
        record,
        progress: Progress::when_terminal(printing.quiet),
    };
    let mut mode = TaskFile {
        keep_alive,
        quiet: printing.quiet,
        printer: ResultPrinter::new(printing),
    };
    let (tally, out) = runner::run(events, out, &mut mode, workers);
    mode.printer.finish();
    pooltop::say!("{}", tally.summary_text());
    if let Some(sig) = stop_signals.caught() {
        pooltop::say!(
            "pooltop: stopped by {}",
            pooltop::platform::signal_name(sig)
        );
    }
    // An output that was asked for and not written whole wins over failed
    // tasks: the records that would say which failed are incomplete.
    if out.json.lost().is_some() || out.record_lost() {
        return Ok(EXIT_LOST_RECORDS);
    }
    Ok(tally.exit_code())
}

/// A command batch: its session prints each job's output, writes the job
/// log and applies `--halt`.
struct Batch {
    session: Session,
}

impl Mode for Batch {
    fn after(&mut self, ev: &PoolEvent, out: &mut Out) {
        if matches!(
            ev,
            PoolEvent::TaskFinished(_) | PoolEvent::TaskRetrying { .. }
        ) {
            // The job's stderr and warnings go on a clean line.
            out.progress.clear_and_redraw();
        }
        for cmd in self.session.on_event(ev) {
            out.pool.send(cmd);
        }
        if all_drained(ev, out) {
            out.pool.send(Command::Shutdown);
        }
    }

    fn prints_errors(&self, out: &Out) -> bool {
        !out.json.is_on()
    }
}

/// Runs a command batch (`pooltop run -- CMD …`) on a pool until every job
/// has finished, been cancelled by `--halt`, or a signal stops it. The
/// session prints each job's output and writes the job log; stderr carries
/// nothing else but warnings, unless `progress` (`--eta`) asks for a
/// progress line and the summary. Returns the exit status: the session's
/// (GNU parallel's, or [`EXIT_BATCH_LOST_RECORDS`](crate::report::sink::EXIT_BATCH_LOST_RECORDS)
/// when a record was lost,
/// the JSON stream's included), or 128 + the signal that stopped the run.
pub fn run_batch(
    pool: engine::PoolHandle,
    events: EventStream,
    mut session: Session,
    json: Option<JsonSink>,
    mut record: Option<Recorder>,
    progress: bool,
) -> Result<i32, Error> {
    let workers = pool.config().workers;
    // Ctrl-C stops a batch at once, as it does parallel (whose jobs share its
    // terminal); SIGTERM and SIGHUP start no new job and give the running
    // ones the join timeout.
    let stop_signals = runner::watch_signals(pool.clone(), true);
    let started = Instant::now();
    if let Some(r) = record.as_mut() {
        r.start(started);
    }
    let tasks: Vec<Task> = session.jobs().iter().map(|j| session.task(j)).collect();
    match pool.submit_all(tasks).first() {
        Some(&first) => session.set_first_task(first),
        None => {
            pool.send(Command::Shutdown);
        }
    }
    let out = Out {
        pool,
        json: JsonLines::new(json, started),
        record,
        progress: Progress::asked(progress),
    };
    let mut mode = Batch { session };
    let (tally, out) = runner::run(events, out, &mut mode, workers);
    if progress {
        pooltop::say!("{}", tally.summary_text());
    }
    if let Some(sig) = stop_signals.caught() {
        pooltop::say!(
            "pooltop: stopped by {}",
            pooltop::platform::signal_name(sig)
        );
        return Ok(128 + sig);
    }
    Ok(mode
        .session
        .exit_status_with(out.json.lost().is_some() || out.record_lost()))
}
