//! The headless face: progress and a summary on stderr, JSON lines of every
//! event, and the exit status. No terminal control beyond one progress line.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::batch::session::Session;
use crate::engine::{self, Command, Counts, EventStream, PoolEvent, Task};
use crate::error::Error;

/// Running totals of a pool's events: counts, times, rates. Shared by the
/// headless runner and the dashboard so both print the same summary.
#[derive(Debug, Clone)]
pub struct Tally {
    started: Instant,
    ended: Option<Instant>,
    workers: usize,
    pub counts: Counts,
    pub running: usize,
    /// Summed wall time of every task attempt that reported one.
    pub task_time: Duration,
}

impl Tally {
    pub fn new(workers: usize) -> Tally {
        Tally {
            started: Instant::now(),
            ended: None,
            workers,
            counts: Counts::default(),
            running: 0,
            task_time: Duration::ZERO,
        }
    }

    /// Takes one event into account.
    pub fn observe(&mut self, ev: &PoolEvent) {
        match ev {
            PoolEvent::TasksQueued { count, .. } => self.counts.submitted += *count as u64,
            PoolEvent::TaskStarted { .. } => self.running += 1,
            PoolEvent::TaskRetrying { .. } => self.running = self.running.saturating_sub(1),
            PoolEvent::TaskFinished(r) => {
                if r.attempts > 0 {
                    self.running = self.running.saturating_sub(1);
                }
                self.task_time += r.wall;
                self.counts.record(r.state);
            }
            // Each started and finished within the run: `running` is as it was.
            PoolEvent::TasksDone(run) => {
                self.task_time += run.total_wall();
                self.counts.done += run.len() as u64;
            }
            PoolEvent::Scaled { workers } => self.workers = self.workers.max(*workers),
            PoolEvent::Stopped(c) => {
                self.counts = *c;
                self.running = 0;
                self.ended = Some(Instant::now());
            }
            _ => {}
        }
    }

    /// Wall time since the pool started (frozen when it stopped).
    pub fn wall(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    pub fn queued(&self) -> u64 {
        self.counts
            .submitted
            .saturating_sub(self.counts.finished() + self.running as u64)
    }

    /// Finished tasks per second, on average.
    pub fn rate(&self) -> f64 {
        let secs = self.wall().as_secs_f64();
        if secs > 0.0 {
            self.counts.finished() as f64 / secs
        } else {
            0.0
        }
    }

    /// Summed task time over wall time.
    pub fn speedup(&self) -> f64 {
        let wall = self.wall().as_secs_f64();
        if wall > 0.0 {
            self.task_time.as_secs_f64() / wall
        } else {
            0.0
        }
    }

    /// Whether every task is done.
    pub fn all_done(&self) -> bool {
        self.counts.done == self.counts.submitted
    }

    /// The exit status: 0 when every task is done, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.all_done() { 0 } else { 1 }
    }

    /// One line of progress: done/failed/running/queued, rate, ETA.
    pub fn progress_line(&self) -> String {
        let c = &self.counts;
        let rate = self.rate();
        let left = c.submitted.saturating_sub(c.finished());
        let eta = if rate > 0.0 && left > 0 {
            format!(
                " · ETA {}",
                human(Duration::from_secs_f64(left as f64 / rate))
            )
        } else {
            String::new()
        };
        format!(
            "{}/{} done · {} failed · {} running · {} queued · {:.1}/s{eta}",
            c.done,
            c.submitted,
            c.failed + c.timed_out + c.cancelled,
            self.running,
            self.queued(),
            rate
        )
    }

    /// The closing summary, several lines.
    pub fn summary_text(&self) -> String {
        let c = &self.counts;
        let speedup = self.speedup();
        let efficiency = if self.workers > 0 {
            speedup / self.workers as f64
        } else {
            0.0
        };
        format!(
            "pooltop: {} submitted = {} done + {} failed + {} timed out + {} cancelled\n\
             pooltop: wall {:.3}s · task time {:.3}s · speedup {:.2}× on {} workers · efficiency {:.0}%",
            c.submitted,
            c.done,
            c.failed,
            c.timed_out,
            c.cancelled,
            self.wall().as_secs_f64(),
            self.task_time.as_secs_f64(),
            speedup,
            self.workers,
            efficiency * 100.0
        )
    }
}

/// A short human duration: `850ms`, `12s`, `3m05s`, `2h10m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        format!("{}ms", d.as_millis())
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// The JSON object for one event, or none for events the stream leaves out
/// and for a [`PoolEvent::TasksDone`], which stands for several lines (see
/// [`crate::DoneRun::events`]).
pub fn event_json(ev: &PoolEvent, since: Duration) -> Option<Value> {
    let t = (since.as_secs_f64() * 1e6).round() / 1e6;
    let v = match ev {
        PoolEvent::WorkerSpawned { .. } => return None,
        PoolEvent::WorkerSlot { worker, slot } => {
            json!({"event": "worker_slot", "t": t, "worker": worker.0, "slot": slot})
        }
        PoolEvent::WorkerReady { worker, pid } => {
            json!({"event": "worker_started", "t": t, "worker": worker.0, "pid": pid})
        }
        PoolEvent::WorkerPaused { worker } => {
            json!({"event": "worker_paused", "t": t, "worker": worker.0})
        }
        PoolEvent::WorkerResumed { worker } => {
            json!({"event": "worker_resumed", "t": t, "worker": worker.0})
        }
        PoolEvent::WorkerStopping {
            worker,
            join_timeout,
        } => json!({"event": "worker_stopping", "t": t, "worker": worker.0,
                    "join_timeout_s": join_timeout.map(|d| d.as_secs_f64())}),
        PoolEvent::WorkerExited { worker, pid, how } => {
            let (signal, code) = match how {
                engine::ExitHow::Exited(c) => (None, Some(*c)),
                engine::ExitHow::Killed { signal, .. } => (Some(*signal), None),
                engine::ExitHow::Crashed { signal, code } => (*signal, *code),
            };
            json!({"event": "worker_exited", "t": t, "worker": worker.0, "pid": pid,
                   "how": how.word(), "detail": how.to_string(), "signal": signal, "code": code})
        }
        PoolEvent::TasksQueued { first, count, .. } => {
            json!({"event": "tasks_queued", "t": t, "first": first.0, "count": count})
        }
        PoolEvent::TaskStarted {
            task,
            worker,
            attempt,
            ..
        } => json!({"event": "task_started", "t": t, "task": task.0, "worker": worker.0,
                    "attempt": attempt}),
        PoolEvent::TaskRetrying {
            task,
            worker,
            reason,
        } => json!({"event": "task_retrying", "t": t, "task": task.0, "worker": worker.0,
                    "reason": reason}),
        PoolEvent::TasksDone(_) => return None,
        PoolEvent::TaskFinished(r) => {
            let mut v = json!({
                "event": "task_finished", "t": t, "task": r.task.0,
                "worker": r.worker.map(|w| w.0), "state": r.state.as_str(),
                "wall_s": r.wall.as_secs_f64(), "cpu_s": r.cpu.as_secs_f64(),
                "attempts": r.attempts, "line": &*r.line,
            });
            let obj = v.as_object_mut().expect("object");
            match &r.error {
                None => obj.insert("result".into(), json!(r.output.value)),
                Some(e) => obj.insert("error".into(), json!(e)),
            };
            if let Some(code) = r.output.exit_code {
                obj.insert("exit_code".into(), json!(code));
            }
            if !r.output.stdout.is_empty() {
                obj.insert("stdout".into(), json!(r.output.stdout));
            }
            if !r.output.stderr.is_empty() {
                obj.insert("stderr".into(), json!(r.output.stderr));
            }
            v
        }
        PoolEvent::DispatchPaused(p) => {
            json!({"event": if *p {"dispatch_paused"} else {"dispatch_resumed"}, "t": t})
        }
        PoolEvent::Scaled { workers } => json!({"event": "scaled", "t": t, "workers": workers}),
        PoolEvent::Error { worker, message } => {
            json!({"event": "error", "t": t, "worker": worker.map(|w| w.0), "message": message})
        }
        PoolEvent::Drained(_) => return None,
        PoolEvent::Stopped(_) => return None,
        PoolEvent::Sample(s) => sample_json(s, t),
        PoolEvent::WorkerHung {
            worker,
            pid,
            task,
            idle,
        } => json!({"event": "worker_hung", "t": t, "worker": worker.0, "pid": pid,
                    "task": task.0, "idle_s": idle.as_secs_f64()}),
        PoolEvent::WorkerUnhung { worker, task } => {
            json!({"event": "worker_unhung", "t": t, "worker": worker.0, "task": task.0})
        }
    };
    Some(v)
}

/// The `sample` line: each worker's CPU (% of one core, its process tree
/// summed) and RSS (bytes), each core's load (%), and pooltop's own figures.
fn sample_json(s: &engine::monitor::Sample, t: f64) -> Value {
    // One decimal: the figures are not more exact than that.
    let round = |x: f32| (f64::from(x) * 10.0).round() / 10.0;
    let workers: Vec<Value> = s
        .workers
        .iter()
        .map(|w| {
            json!({"worker": w.worker.0, "pid": w.pid, "cpu": round(w.stat.cpu),
                        "rss": w.stat.rss})
        })
        .collect();
    let cores: Vec<f64> = s.cores.iter().map(|&c| round(c)).collect();
    json!({"event": "sample", "t": t, "workers": workers, "cores": cores,
           "own": {"cpu": round(s.own.cpu), "rss": s.own.rss}})
}

/// The summary object written last to the JSON stream.
pub fn summary_json(tally: &Tally) -> Value {
    let c = &tally.counts;
    json!({
        "event": "summary", "submitted": c.submitted, "done": c.done, "failed": c.failed,
        "timed_out": c.timed_out, "cancelled": c.cancelled,
        "wall_s": tally.wall().as_secs_f64(), "task_s": tally.task_time.as_secs_f64(),
        "speedup": tally.speedup(), "workers": tally.workers,
    })
}

/// Where the JSON lines go.
pub type JsonSink = Box<dyn Write + Send>;

/// The JSON-lines event stream, when one was asked for. A failed write stops
/// the stream (with one warning on stderr), never the run.
struct JsonLines {
    out: Option<JsonSink>,
    started: Instant,
}

impl JsonLines {
    fn new(out: Option<JsonSink>, started: Instant) -> JsonLines {
        JsonLines { out, started }
    }

    fn is_on(&self) -> bool {
        self.out.is_some()
    }

    fn write(&mut self, line: Value) {
        if let Some(out) = self.out.as_mut()
            && writeln!(out, "{line}").is_err()
        {
            self.out = None;
            crate::say!("pooltop: cannot write the JSON event stream; going on without it");
        }
    }

    /// Writes the event's line, if it has one: a run of tasks done gets the
    /// lines of the events it stands for, so the stream shows every task.
    fn event(&mut self, ev: &PoolEvent) {
        if !self.is_on() {
            return;
        }
        if let PoolEvent::TasksDone(run) = ev {
            for each in run.events() {
                self.event(&each);
            }
        } else if let Some(v) = event_json(ev, self.started.elapsed()) {
            self.write(v);
        }
    }

    /// Hands what is buffered to the file (a no-op when nothing is).
    fn flush(&mut self) {
        if let Some(out) = self.out.as_mut()
            && out.flush().is_err()
        {
            self.out = None;
        }
    }

    /// The summary line last, then everything out.
    fn finish(&mut self, tally: &Tally) {
        self.write(summary_json(tally));
        self.flush();
    }
}

/// How the headless runner runs.
pub struct Options {
    /// Where the JSON lines go, if anywhere.
    pub json: Option<JsonSink>,
    /// The name of the pool's control endpoint.
    pub name: String,
    /// Keep running when the queue is empty, until `pooltop stop` or a signal.
    pub keep_alive: bool,
}

/// Runs `tasks` on a started pool until all have finished (or a signal stops
/// it), printing progress and the summary on stderr. Returns the exit status.
pub fn run(
    pool: engine::PoolHandle,
    mut events: EventStream,
    tasks: Vec<Task>,
    opts: Options,
) -> Result<i32, Error> {
    let Options {
        json,
        name,
        keep_alive,
    } = opts;
    let workers = pool.config().workers;
    if keep_alive {
        crate::say!(
            "pooltop: pool `{name}` is running; add tasks with `pooltop submit --pool {name} FILE`, stop it with `pooltop stop --pool {name}`"
        );
    }
    let stop_signals = watch_signals(pool.clone(), false);
    let mut tally = Tally::new(workers);
    let started = Instant::now();
    let show_progress = io::stderr().is_terminal();
    let mut last_progress = Instant::now() - Duration::from_secs(1);
    let mut json = JsonLines::new(json, started);

    if !tasks.is_empty() {
        pool.submit_all(tasks);
    } else if !keep_alive {
        pool.send(Command::Shutdown);
    }
    // Wait for an event; take the ones already waiting without flushing in
    // between; flush the JSON lines when the stream goes quiet, so a reader
    // (`tail -f`, a script) sees every event promptly without a write per event.
    loop {
        let ev = match events.try_recv() {
            Ok(ev) => ev,
            Err(_) => {
                json.flush();
                match events.recv() {
                    Ok(ev) => ev,
                    Err(_) => break,
                }
            }
        };
        // The engine reports hung workers; without a JSON stream, stderr says so.
        if let PoolEvent::WorkerHung {
            worker,
            pid,
            task,
            idle,
        } = &ev
            && !json.is_on()
        {
            if show_progress {
                let _ = write!(io::stderr(), "\r\x1b[K");
            }
            crate::say!(
                "pooltop: worker {worker} (pid {pid}) looks hung: task {task} has made no \
                 progress and its processes no CPU for {:.1}s",
                idle.as_secs_f64()
            );
        }
        tally.observe(&ev);
        json.event(&ev);
        match ev {
            PoolEvent::Drained(_) if !keep_alive => {
                pool.send(Command::Shutdown);
            }
            PoolEvent::Error { ref message, .. } if !show_progress && !json.is_on() => {
                crate::say!("pooltop: {message}");
            }
            PoolEvent::Stopped(_) => break,
            _ => {}
        }
        if show_progress && last_progress.elapsed() >= Duration::from_millis(100) {
            last_progress = Instant::now();
            let _ = write!(io::stderr(), "\r\x1b[K{}", tally.progress_line());
        }
    }
    if show_progress {
        let _ = write!(io::stderr(), "\r\x1b[K");
    }
    json.finish(&tally);
    crate::say!("{}", tally.summary_text());
    if let Some(sig) = stop_signals.caught() {
        crate::say!("pooltop: stopped by {}", crate::platform::signal_name(sig));
    }
    Ok(tally.exit_code())
}

/// Runs a command batch (`pooltop run -- CMD …`) on a pool until every job
/// has finished, been cancelled by `--halt`, or a signal stops it. The
/// session prints each job's output and writes the job log; stderr carries
/// nothing else but warnings, unless `progress` (`--eta`) asks for a
/// progress line and the summary. Returns the exit status: the session's
/// (GNU parallel's), or 128 + the signal that stopped the run.
pub fn run_batch(
    pool: engine::PoolHandle,
    mut events: EventStream,
    mut session: Session,
    json: Option<JsonSink>,
    progress: bool,
) -> Result<i32, Error> {
    let workers = pool.config().workers;
    // Ctrl-C stops a batch at once, as it does parallel (whose jobs share its
    // terminal); SIGTERM and SIGHUP start no new job and give the running
    // ones the join timeout.
    let stop_signals = watch_signals(pool.clone(), true);
    let mut tally = Tally::new(workers);
    let started = Instant::now();
    let live_line = progress && io::stderr().is_terminal();
    // A live line shows at once; lines in a log start after a second.
    let mut last_progress = if live_line {
        Instant::now() - Duration::from_secs(1)
    } else {
        Instant::now()
    };
    let mut json = JsonLines::new(json, started);

    let tasks: Vec<Task> = session
        .jobs()
        .iter()
        .map(|j| j.task(session.template()))
        .collect();
    match pool.submit_all(tasks).first() {
        Some(&first) => session.set_first_task(first),
        None => {
            pool.send(Command::Shutdown);
        }
    }
    for ev in events.by_ref() {
        tally.observe(&ev);
        json.event(&ev);
        if live_line
            && matches!(
                ev,
                PoolEvent::TaskFinished(_) | PoolEvent::TaskRetrying { .. }
            )
        {
            // The job's stderr and warnings go on a clean line.
            say_inline("\r\x1b[K");
            last_progress = Instant::now() - Duration::from_secs(1);
        }
        for cmd in session.on_event(&ev) {
            pool.send(cmd);
        }
        match ev {
            PoolEvent::Drained(_) => {
                pool.send(Command::Shutdown);
            }
            PoolEvent::Error { ref message, .. } if !json.is_on() => {
                crate::say!("pooltop: {message}");
            }
            PoolEvent::Stopped(_) => break,
            _ => {}
        }
        let every = if live_line {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        if progress && last_progress.elapsed() >= every {
            last_progress = Instant::now();
            if live_line {
                say_inline(&format!("\r\x1b[K{}", tally.progress_line()));
            } else {
                crate::say!("{}", tally.progress_line());
            }
        }
    }
    if live_line {
        say_inline("\r\x1b[K");
    }
    json.finish(&tally);
    if progress {
        crate::say!("{}", tally.summary_text());
    }
    if let Some(sig) = stop_signals.caught() {
        crate::say!("pooltop: stopped by {}", crate::platform::signal_name(sig));
        return Ok(128 + sig);
    }
    Ok(session.exit_status())
}

/// Writes to stderr without a newline (the live progress line); a closed
/// stderr is not an error.
fn say_inline(text: &str) {
    let mut err = io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Turns SIGINT, SIGTERM and SIGHUP into a graceful shutdown; a second one
/// kills the workers at once.
pub struct SignalWatch {
    caught: std::sync::Arc<std::sync::atomic::AtomicI32>,
}

impl SignalWatch {
    /// The first signal caught, if any.
    pub fn caught(&self) -> Option<i32> {
        match self.caught.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }
}

/// With `int_kills`, a first SIGINT kills the workers at once too.
fn watch_signals(pool: engine::PoolHandle, int_kills: bool) -> SignalWatch {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let watch = SignalWatch {
        caught: caught.clone(),
    };
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return watch;
    };
    let _ = std::thread::Builder::new()
        .name("pooltop-signals".into())
        .spawn(move || {
            for (n, sig) in signals.forever().enumerate() {
                if n == 0 {
                    caught.store(sig, std::sync::atomic::Ordering::Relaxed);
                    if int_kills && sig == SIGINT {
                        pool.send(Command::KillAll);
                    } else {
                        pool.send(Command::Shutdown);
                    }
                } else {
                    pool.send(Command::KillAll);
                }
            }
        });
    watch
}
