//! The headless face: progress and a summary on stderr, JSON lines of every
//! event, and the exit status. No terminal control beyond one progress line.
//! Task-file runs ([`run`]) and command batches ([`run_batch`]) share one
//! loop (`runner`) and differ only in their [`runner::Mode`].

mod runner;

use std::time::{Duration, Instant};

use crate::batch::session::Session;
use crate::engine::{self, Command, EventStream, PoolEvent, Task};
use crate::error::Error;
use crate::report::hung::{DEFAULT_HUNG_AFTER, HungNews, HungWatch};
use crate::report::json::{JsonLines, JsonSink, hung_json};
use crate::report::sink::EXIT_LOST_RECORDS;
use runner::{Mode, Out, Progress};

/// How the headless runner runs.
pub struct Options {
    /// Where the JSON lines go, if anywhere.
    pub json: Option<JsonSink>,
    /// The name of the pool's control endpoint.
    pub name: String,
    /// Keep running when the queue is empty, until `pooltop stop` or a signal.
    pub keep_alive: bool,
    /// Report a busy worker as hung after this long without progress and
    /// without CPU (default: [`DEFAULT_HUNG_AFTER`] or half the task timeout).
    pub hung_after: Option<Duration>,
}

/// A task-file run: hung workers are reported, the pool is shut down once
/// the queue drains (unless it is kept alive).
struct TaskFile {
    hung: HungWatch,
    keep_alive: bool,
}

impl Mode for TaskFile {
    fn wake_every(&self) -> Option<Duration> {
        // Wake up now and then to look for hung workers.
        Some(self.hung.every)
    }

    fn before(&mut self, ev: Option<&PoolEvent>, out: &mut Out) {
        let mut news = Vec::new();
        if let Some(ev) = ev {
            news.extend(self.hung.observe(ev));
        }
        news.extend(self.hung.check(Instant::now()));
        for n in &news {
            if out.json.is_on() {
                out.json.write(hung_json(n, out.started.elapsed()));
            } else if let HungNews::Hung {
                worker,
                pid,
                task,
                idle,
            } = n
            {
                out.progress.clear();
                crate::say!(
                    "pooltop: worker {worker} (pid {pid}) looks hung: task {task} has made no \
                     progress and its processes no CPU for {:.1}s",
                    idle.as_secs_f64()
                );
            }
        }
    }

    fn after(&mut self, ev: &PoolEvent, out: &mut Out) {
        if matches!(ev, PoolEvent::Drained(_)) && !self.keep_alive {
            out.pool.send(Command::Shutdown);
        }
    }

    fn prints_errors(&self, out: &Out) -> bool {
        !out.progress.is_live() && !out.json.is_on()
    }
}

/// Runs `tasks` on a started pool until all have finished (or a signal stops
/// it), printing progress and the summary on stderr. Returns the exit status:
/// the tally's, or [`EXIT_LOST_RECORDS`] when the JSON stream was lost.
pub fn run(
    pool: engine::PoolHandle,
    events: EventStream,
    tasks: Vec<Task>,
    opts: Options,
) -> Result<i32, Error> {
    let Options {
        json,
        name,
        keep_alive,
        hung_after,
    } = opts;
    let workers = pool.config().workers;
    let mut hung_after = hung_after.unwrap_or(DEFAULT_HUNG_AFTER);
    if let Some(limit) = pool.config().task_timeout {
        hung_after = hung_after.min(limit / 2);
    }
    if keep_alive {
        crate::say!(
            "pooltop: pool `{name}` is running; add tasks with `pooltop submit --pool {name} FILE`, stop it with `pooltop stop --pool {name}`"
        );
    }
    let stop_signals = runner::watch_signals(pool.clone(), false);
    let started = Instant::now();
    if !tasks.is_empty() {
        pool.submit_all(tasks);
    } else if !keep_alive {
        pool.send(Command::Shutdown);
    }
    let out = Out {
        pool,
        json: JsonLines::new(json, started),
        progress: Progress::when_terminal(),
        started,
    };
    let mut mode = TaskFile {
        hung: HungWatch::new(hung_after),
        keep_alive,
    };
    let (tally, out) = runner::run(events, out, &mut mode, workers);
    crate::say!("{}", tally.summary_text());
    if let Some(sig) = stop_signals.caught() {
        crate::say!("pooltop: stopped by {}", crate::platform::signal_name(sig));
    }
    // An output that was asked for and not written whole wins over failed
    // tasks: the records that would say which failed are incomplete.
    if out.json.lost().is_some() {
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
    fn wake_every(&self) -> Option<Duration> {
        None
    }

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
        if matches!(ev, PoolEvent::Drained(_)) {
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
    progress: bool,
) -> Result<i32, Error> {
    let workers = pool.config().workers;
    // Ctrl-C stops a batch at once, as it does parallel (whose jobs share its
    // terminal); SIGTERM and SIGHUP start no new job and give the running
    // ones the join timeout.
    let stop_signals = runner::watch_signals(pool.clone(), true);
    let started = Instant::now();
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
        progress: Progress::asked(progress),
        started,
    };
    let mut mode = Batch { session };
    let (tally, out) = runner::run(events, out, &mut mode, workers);
    if progress {
        crate::say!("{}", tally.summary_text());
    }
    if let Some(sig) = stop_signals.caught() {
        crate::say!("pooltop: stopped by {}", crate::platform::signal_name(sig));
        return Ok(128 + sig);
    }
    Ok(mode.session.exit_status_with(out.json.lost().is_some()))
}
