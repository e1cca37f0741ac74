//! The worker process: connect back to the manager, prove who it is, then run
//! the tasks it is handed, one at a time, and report each.
//!
//! A worker never writes to the terminal (its stdio is null) and exits when its
//! connection to the manager ends — the lifeline rule — or on a `Shutdown` frame.

mod capture;
pub mod exec;
mod kinds;
mod live;
mod outcome;
mod python;
mod spawn;
pub mod stdio;
mod tail;
mod usage;

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::ipc;
use crate::platform;
use crate::protocol::frame::{self, FrameError};
use crate::protocol::{FromWorker, Hello, PROTOCOL_VERSION, ToWorker};
use crate::task::RunValues;

/// Environment variable with the path of the manager's socket. Its presence
/// is what marks a process as a worker.
pub const ENV_SOCKET: &str = "POOLTOP_WORKER_SOCKET";
/// Environment variable with the worker's id.
pub const ENV_ID: &str = "POOLTOP_WORKER_ID";
/// Environment variable with the manager's pid (for the parent-death check).
pub const ENV_MANAGER: &str = "POOLTOP_MANAGER_PID";
/// Environment variable with the per-pool secret (never in argv: argv is
/// world-readable under /proc).
pub const ENV_TOKEN: &str = "POOLTOP_TOKEN";
/// Instead of [`ENV_SOCKET`]: the number of an open descriptor that is
/// already the connection (a launched worker's side hands its worker one
/// end of a socket pair, see [`stdio`]); no token is needed then.
pub const ENV_FD: &str = "POOLTOP_WORKER_FD";
pub use python::{
    DEFAULT_PROGRAM as DEFAULT_PYTHON, ENV_INIT as ENV_PY_INIT, ENV_PATH as ENV_PY_PATH,
    ENV_PROGRAM as ENV_PY_PROGRAM,
};

/// Results of instant tasks (see [`crate::task::TaskSpec::is_instant`]) that
/// took less than this are batched into one write while more tasks are
/// already waiting; all others are reported at once.
const BATCH_BELOW: Duration = Duration::from_micros(200);
/// Never hold back more than this many bytes of results.
const BATCH_BYTES: usize = 32 * 1024;

/// If this process was started as a pool worker, runs the worker and exits;
/// otherwise returns at once.
///
/// A program that uses [`crate::Pool`] with its own executable as the worker
/// must call this first thing in `main`, the way Python programs guard
/// `multiprocessing` with `if __name__ == "__main__"`.
pub fn run_if_worker() {
    if std::env::var_os(ENV_SOCKET).is_some() || std::env::var_os(ENV_FD).is_some() {
        let code = match run() {
            Ok(()) => 0,
            Err(e) => {
                // Unseen when pooltop started it (its stderr is null); says
                // why to whoever else runs it.
                let why = match e {
                    Error::Worker(why) => why,
                    other => other.to_string(),
                };
                eprintln!("pooltop worker: {why}");
                3
            }
        };
        std::process::exit(code);
    }
}

/// Runs the worker until the manager says stop or goes away.
pub fn run() -> Result<(), Error> {
    platform::kill_group_on_termination().map_err(|e| Error::Worker(e.to_string()))?;
    let env =
        |name: &str| std::env::var(name).map_err(|_| Error::Worker(format!("{name} is not set")));
    let manager: u32 = env(ENV_MANAGER)?
        .parse()
        .map_err(|_| Error::Worker(format!("{ENV_MANAGER} is not a number")))?;
    platform::die_with_parent(manager).map_err(|e| Error::Worker(e.to_string()))?;
    let worker: u32 = env(ENV_ID)?
        .parse()
        .map_err(|_| Error::Worker(format!("{ENV_ID} is not a number")))?;
    let (stream, token) = connect()?;
    let mut send = &stream;
    let hello = FromWorker::Hello(Hello {
        version: PROTOCOL_VERSION,
        worker,
        pid: std::process::id(),
        token,
        host: String::new(),
    });
    frame::write_frame(&mut send, &hello)?;

    let mut reader = BufReader::with_capacity(64 * 1024, &stream);
    let mut buf = Vec::new();
    let (ctx, nice, threads) = match frame::read_frame::<ToWorker>(&mut reader, &mut buf) {
        Ok(ToWorker::Welcome {
            out_dir,
            output_cap,
            slot,
            spill_dir,
            nice,
            threads,
        }) => (
            exec::ExecContext {
                out_dir: PathBuf::from(out_dir),
                output_cap: usize::try_from(output_cap).unwrap_or(usize::MAX),
                slot,
                spill_dir: (!spill_dir.is_empty()).then(|| PathBuf::from(spill_dir)),
            },
            nice,
            threads,
        ),
        Ok(other) => return Err(Error::Worker(format!("expected Welcome, got {other:?}"))),
        Err(e) if e.is_disconnect() => return Ok(()),
        Err(e) => return Err(Error::Worker(e.to_string())),
    };

    live::install(ipc::second_handle(&stream)?, ctx.output_cap);
    platform::renice_self(nice).map_err(|e| Error::Worker(format!("cannot renice: {e}")))?;
    spawn::set_threads_per_task(threads);
    let mut pending = Reports::default();
    let mut last_instant = false;
    loop {
        // About to block on the socket: report what is held back first.
        if reader.buffer().is_empty() {
            pending.write_to(&mut send)?;
            // After an instant task the next usually follows at once (see
            // `crate::busy_wait`); after others the CPU is better left to them.
            if last_instant {
                crate::busy_wait::briefly(|| platform::readable_now(ipc::raw_fd(&stream)));
            }
        }
        let msg = match frame::read_frame::<ToWorker>(&mut reader, &mut buf) {
            Ok(msg) => msg,
            Err(e) if e.is_disconnect() => return Ok(()),
            Err(FrameError::Io(e)) => return Err(e.into()),
            Err(e) => return Err(Error::Worker(e.to_string())),
        };
        match msg {
            ToWorker::Assign { first, specs } => {
                let mut ended = None;
                for (i, spec) in specs.0.iter().enumerate() {
                    let task = first + i as u64;
                    last_instant = spec.is_instant();
                    if specs.0.len() > 1 {
                        exec::send_ahead(task, &specs.0[i..]);
                    }
                    ended = run_task(task, spec, &ctx, ended, &mut pending, &mut send)?;
                }
            }
            ToWorker::Shutdown => {
                pending.write_to(&mut send)?;
                return Ok(());
            }
            // Carried out by a launched worker's side, never sent here.
            ToWorker::Welcome { .. } | ToWorker::Signal(_) | ToWorker::Ping => {}
        }
    }
}

/// The connection to the manager: the socket in [`ENV_SOCKET`] (proved with
/// the token in [`ENV_TOKEN`]), or the descriptor in [`ENV_FD`] that a
/// launched worker's side handed over (which fills in the token itself).
fn connect() -> Result<(ipc::Stream, String), Error> {
    let env =
        |name: &str| std::env::var(name).map_err(|_| Error::Worker(format!("{name} is not set")));
    Ok(match std::env::var(ENV_FD) {
        Ok(fd) => {
            let fd = fd
                .parse()
                .map_err(|_| Error::Worker(format!("{ENV_FD} is not a number")))?;
            // The side that started this worker fills in the token.
            (stdio::adopt(fd)?, String::new())
        }
        Err(_) => {
            let socket = PathBuf::from(env(ENV_SOCKET)?);
            let stream = ipc::connect(&socket).map_err(|e| {
                Error::Worker(format!("cannot connect to {}: {e}", socket.display()))
            })?;
            (stream, env(ENV_TOKEN)?)
        }
    })
}

/// Runs one task and reports it, at once or held back with the results
/// that follow (see [`BATCH_BELOW`]).
///
/// `after` is when the previous task of the same frame ended, if it was
/// instant and nothing was written since: an instant task starts then, which
/// saves a reading of the clock per task. Returns the same for this task.
fn run_task(
    task: u64,
    spec: &crate::task::TaskSpec,
    ctx: &exec::ExecContext,
    after: Option<Instant>,
    pending: &mut Reports,
    send: &mut impl Write,
) -> std::io::Result<Option<Instant>> {
    let instant = spec.is_instant();
    if !instant {
        pending.write_to(send)?;
    }
    // The memory readings (files in /proc and /sys) are outside the CPU
    // meter's span, which is the task's alone.
    let usage = usage::Meter::start(spec);
    let cpu_meter = CpuMeter::start(spec);
    let started = match after {
        Some(t) if instant => t,
        _ => Instant::now(),
    };
    let value = pending.value_buffer();
    let outcome = (!exec::value_into(spec, value)).then(|| {
        // Only tasks that start a process have output to follow.
        let follow = matches!(
            spec,
            crate::task::TaskSpec::Shell(_) | crate::task::TaskSpec::Exec(_)
        );
        if follow {
            live::begin(task);
        }
        let outcome = exec::run_numbered(task, spec, ctx);
        if follow {
            live::end();
        }
        outcome
    });
    let ended = Instant::now();
    let wall = ended - started;
    match outcome {
        None => pending.add_buffered_value(task, wall),
        Some(mut outcome) => {
            let cpu = cpu_meter.elapsed(wall);
            let max_rss = usage.finish(&mut outcome);
            pending.add(task, instant, outcome, wall, (cpu, max_rss))?
        }
    }
    if !instant || wall >= BATCH_BELOW || pending.len() >= BATCH_BYTES {
        pending.write_to(send)?;
        return Ok(None);
    }
    Ok(Some(ended))
}

/// Reports of finished tasks not yet written: encoded frames, then a run of
/// instant tasks that ended with only a value, kept apart until another kind
/// of report or a write seals it into one [`FromWorker::Values`] frame.
#[derive(Default)]
struct Reports {
    frames: Vec<u8>,
    run_first: u64,
    run: RunValues,
    /// Where an instant task writes its value (see `exec::value_into`).
    value: String,
}

impl Reports {
    /// An empty buffer for the next instant task's value.
    fn value_buffer(&mut self) -> &mut String {
        self.value.clear();
        &mut self.value
    }

    /// Task `task` ended with the value in the buffer and nothing else.
    fn add_buffered_value(&mut self, task: u64, wall: Duration) {
        if self.run.is_empty() {
            self.run_first = task;
        }
        self.run.push(&self.value, wall.as_nanos() as u64);
    }

    fn add(
        &mut self,
        task: u64,
        instant: bool,
        outcome: crate::task::TaskOutcome,
        wall: Duration,
        (cpu, max_rss): (Duration, Option<u64>),
    ) -> std::io::Result<()> {
        let wall_ns = wall.as_nanos() as u64;
        match outcome {
            crate::task::TaskOutcome::Ok(out) if instant && out.is_value_only() => {
                self.value = out.value;
                self.add_buffered_value(task, wall);
                Ok(())
            }
            outcome => {
                self.seal()?;
                let finished = FromWorker::Finished {
                    task,
                    outcome,
                    wall_ns,
                    cpu_ns: cpu.as_nanos() as u64,
                    max_rss,
                };
                frame::encode_into(&finished, &mut self.frames)
            }
        }
    }

    /// Encodes the run of values, if any, after the frames before it.
    fn seal(&mut self) -> std::io::Result<()> {
        if self.run.is_empty() {
            return Ok(());
        }
        let values = FromWorker::Values {
            first: self.run_first,
            results: std::mem::take(&mut self.run),
        };
        let sealed = frame::encode_into(&values, &mut self.frames);
        // The run's room is kept for the next one.
        if let FromWorker::Values { results, .. } = values {
            self.run = results;
            self.run.clear();
        }
        sealed
    }

    /// About how many bytes the reports take once encoded.
    fn len(&self) -> usize {
        self.frames.len() + self.run.text_len() + 12 * self.run.len()
    }

    /// Writes every report held, in order, with one write.
    fn write_to(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.seal()?;
        if !self.frames.is_empty() {
            out.write_all(&self.frames)?;
            self.frames.clear();
        }
        Ok(())
    }
}

/// Measures the CPU time of one task: the worker thread's own time, plus its
/// children's for a shell task (the only kind that starts processes).
///
/// An instant task never blocks, so its CPU time is its wall time; reading
/// the CPU clock (a system call that takes a scheduler lock) would cost more
/// than the task itself.
struct CpuMeter {
    thread: Option<Duration>,
    children: Option<Duration>,
}

impl CpuMeter {
    fn start(spec: &crate::task::TaskSpec) -> CpuMeter {
        let shell = matches!(
            spec,
            crate::task::TaskSpec::Shell(_) | crate::task::TaskSpec::Exec(_)
        );
        CpuMeter {
            thread: (!spec.is_instant()).then(platform::thread_cpu_time),
            children: shell.then(platform::children_cpu_time),
        }
    }

    fn elapsed(&self, wall: Duration) -> Duration {
        let Some(thread) = self.thread else {
            return wall;
        };
        let own = platform::thread_cpu_time().saturating_sub(thread);
        let children = self.children.map_or(Duration::ZERO, |before| {
            platform::children_cpu_time().saturating_sub(before)
        });
        // A `py` task's interpreter told its own CPU time (`python::run`).
        own + children + capture::child_cpu().unwrap_or_default()
    }
}
