//! Recordings: every run written to a file it can be looked at from
//! afterwards (`pooltop report`, `pooltop replay`, `--trace`).
//!
//! # The format (version 1)
//!
//! A recording is JSON lines, UTF-8, one object per line, append-only:
//!
//! 1. A header, always the first line:
//!    `{"event":"recording","version":1,"started_unix":1764878400.123456,
//!    "pooltop":"0.1.0","title":"demo","workers":4,"cores":2,"sample_every_s":1.0}`
//!    — `started_unix` is the run's start (seconds since the Unix epoch, to
//!    the microsecond): the instant every later line's `t` counts from.
//!    `title` is what ran (a task file's name, `demo`, a command template),
//!    `workers` the pool's size when it started, `cores` the machine's CPUs,
//!    `sample_every_s` the sampling period (null: no `sample` lines).
//!    A reader refuses a `version` it does not know.
//! 2. Then exactly the lines the JSON event stream (`--json`,
//!    [`super::json`]) writes for the run, in the order the face read the
//!    events: every task and worker event, `worker_hung` /
//!    `worker_unhung`, and the engine's `sample` lines (per-worker `cpu`
//!    and `rss`, per-core load).
//! 3. The `summary` line last, when the run ended (not when it was killed:
//!    a recording without one is a run cut short, readable up to its last
//!    whole line).
//!
//! A task's slice in time: it ends at its `task_finished` line's `t` and
//! lasted `wall_s`; its lane is the `slot` its `worker` was given by the
//! `worker_slot` line. Tasks a worker ran in one chunk share their lines'
//! `t` (the time the chunk's report was read); readers lay them end to end.
//!
//! Lines are gathered in memory and written whole, at the latest when the
//! event stream goes quiet and at least once a second, so a reader of a run
//! still going (or killed) sees whole lines up to a second old.
//!
//! # Where
//!
//! `--record PATH`, or by default one file per run under
//! `$XDG_STATE_HOME/pooltop/runs/` (else `~/.local/state/pooltop/runs/`),
//! named `YYYYMMDDTHHMMSSZ-PID.jsonl` by its start (UTC) and pooltop's pid,
//! of which the newest `record.keep` are kept. `record.enabled = false` or
//! `--no-record` turns the default recording off.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::report::Tally;
use crate::report::json::{event_json, summary_json};
use crate::report::sink::{Lost, Sink};
use pooltop::engine::PoolEvent;

mod fast;

/// The format's version, the header's `version`.
pub const VERSION: u64 = 1;

/// How long gathered lines may wait before they are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The file name ending of a recording (the default folder holds nothing else).
const EXT: &str = "jsonl";

/// The header line, in the documented order.
#[derive(Serialize)]
struct HeaderLine<'a> {
    event: &'static str,
    version: u64,
    started_unix: f64,
    pooltop: &'static str,
    title: &'a str,
    workers: usize,
    cores: usize,
    sample_every_s: Option<f64>,
}

/// What the header says about the run.
#[derive(Debug, Clone)]
pub struct RecordMeta {
    /// What ran: a task file's name, `demo`, a command template.
    pub title: String,
    /// The pool's size when it started.
    pub workers: usize,
    /// The sampling period (none: no `sample` lines).
    pub sample_every: Option<Duration>,
}

/// Writes one run's recording; see the module documentation. Every face
/// hands it each event it reads ([`Recorder::event`]); the lines are made
/// and written on a thread of their own, so that recording costs the face's
/// loop a clone and a send per event, not the formatting and the writes. It
/// keeps its own tally for the summary line, which it writes when it sees
/// the pool stop (or at [`Recorder::finish`]).
pub struct Recorder {
    /// Until the header is written; kept here too if no thread could start,
    /// and back here once the recording is finished.
    writer: Option<Writer>,
    to_thread: Option<mpsc::SyncSender<Msg>>,
    thread: Option<thread::JoinHandle<Writer>>,
    started: Option<Instant>,
    /// Asked for with `--record PATH` (a lost one is a lost record).
    pub asked: bool,
}

/// What the face's loop hands the writer's thread.
enum Msg {
    /// An event, and when it was read (since the run's start).
    Event(PoolEvent, Duration),
    Finish,
}

/// Events the writer's thread may fall behind by before the face waits.
const BACKLOG: usize = 4096;

impl Recorder {
    /// Creates (or empties) the recording at `path`; nothing is written yet.
    pub fn create(path: &Path, meta: RecordMeta) -> io::Result<Recorder> {
        Ok(Recorder {
            writer: Some(Writer::create(path, meta)?),
            to_thread: None,
            thread: None,
            started: None,
            asked: false,
        })
    }

    /// Writes the header: the run started at `started`, the instant every
    /// line's `t` counts from (the face's JSON stream's too); the lines are
    /// written on their own thread from now on.
    pub fn start(&mut self, started: Instant) {
        if self.started.is_some() {
            return;
        }
        self.started = Some(started);
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        w.start(started);
        let (tx, rx) = mpsc::sync_channel(BACKLOG);
        // The writer goes to the thread and comes back at its end.
        let handoff = Arc::new(Mutex::new(self.writer.take()));
        let theirs = handoff.clone();
        let spawned = thread::Builder::new()
            .name("pooltop-record".into())
            .spawn(move || {
                let w = theirs.lock().ok().and_then(|mut w| w.take());
                write_lines(w.expect("the writer is handed over"), &rx)
            });
        match spawned {
            Ok(handle) => {
                self.to_thread = Some(tx);
                self.thread = Some(handle);
            }
            // No thread: the lines are written on the face's own.
            Err(_) => self.writer = handoff.lock().ok().and_then(|mut w| w.take()),
        }
    }

    /// Records one event (a run of tasks done as the lines of each task);
    /// the pool's stop ends the recording with its summary.
    pub fn event(&mut self, ev: &PoolEvent) {
        let started = match self.started {
            Some(s) => s,
            None => {
                let now = Instant::now();
                self.start(now);
                now
            }
        };
        let since = started.elapsed();
        if let Some(tx) = &self.to_thread {
            // A thread gone (it panicked) takes no more.
            let _ = tx.send(Msg::Event(ev.clone(), since));
        } else if let Some(w) = self.writer.as_mut() {
            w.event(ev, since);
        }
    }

    /// Writes the gathered lines now (the event stream went quiet). With
    /// its own thread, the writer does this itself whenever it has caught up.
    pub fn flush(&mut self) {
        if let Some(w) = self.writer.as_mut() {
            w.flush();
        }
    }

    /// The summary line (unless the pool's stop already wrote it), then
    /// everything out; later events are ignored.
    pub fn finish(&mut self) {
        if self.started.is_none() {
            self.start(Instant::now());
        }
        if let Some(tx) = self.to_thread.take() {
            let _ = tx.send(Msg::Finish);
        }
        if let Some(handle) = self.thread.take()
            && let Ok(w) = handle.join()
        {
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            w.finish();
        }
    }

    /// Why the recording stopped, if a write failed (said once on stderr
    /// when it happened; known here once the recording is finished).
    pub fn lost(&self) -> Option<&Lost> {
        self.writer.as_ref()?.lost()
    }
}

/// The writer's thread: events in, lines out; what is gathered is written
/// whenever the thread has caught up with the face (the stream went
/// quiet), and at least every [`FLUSH_EVERY`].
fn write_lines(mut w: Writer, rx: &mpsc::Receiver<Msg>) -> Writer {
    loop {
        let msg = match rx.try_recv() {
            Ok(m) => m,
            Err(mpsc::TryRecvError::Empty) => {
                w.flush();
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        match msg {
            Msg::Event(ev, since) => w.event(&ev, since),
            Msg::Finish => {
                w.finish();
                break;
            }
        }
    }
    w.flush();
    w
}

/// Makes and writes the lines of one recording.
struct Writer {
    /// The file; closed (by [`Sink`]) after a failed write.
    sink: Sink,
    /// Whole lines not written yet.
    gathered: Vec<u8>,
    meta: RecordMeta,
    tally: Tally,
    /// The header was written.
    started: bool,
    /// The summary was written: nothing more goes in.
    finished: bool,
    last_flush: Instant,
}

/// How many bytes of whole lines are gathered before they are written.
const GATHER: usize = 64 * 1024;

impl Writer {
    fn create(path: &Path, meta: RecordMeta) -> io::Result<Writer> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let sink = Sink::new(Sink::describe("the recording", path), Box::new(file));
        let workers = meta.workers;
        Ok(Writer {
            sink,
            gathered: Vec::with_capacity(GATHER + 4096),
            meta,
            tally: Tally::new(workers),
            started: false,
            finished: false,
            last_flush: Instant::now(),
        })
    }

    /// The header line, written at once.
    fn start(&mut self, started: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(started.elapsed());
        let started_unix = (unix.as_secs_f64() * 1e6).round() / 1e6;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.tally = Tally::new(self.meta.workers);
        // A struct, not a `Value`, so that the fields keep the documented order.
        let header = HeaderLine {
            event: "recording",
            version: VERSION,
            started_unix,
            pooltop: env!("CARGO_PKG_VERSION"),
            title: &self.meta.title,
            workers: self.meta.workers,
            cores,
            sample_every_s: self.meta.sample_every.map(|d| d.as_secs_f64()),
        };
        let _ = serde_json::to_writer(&mut self.gathered, &header);
        self.gathered.push(b'\n');
        self.flush();
    }

    /// Gathers one event's lines, `since` the start.
    fn event(&mut self, ev: &PoolEvent, since: Duration) {
        if self.finished || !self.sink.is_open() {
            return;
        }
        self.tally.observe(ev);
        match ev {
            // The hot path: thousands of instant tasks a millisecond.
            PoolEvent::TasksDone(run) => fast::done_run(&mut self.gathered, run, since),
            ev => {
                if let Some(v) = event_json(ev, since) {
                    self.line(&v);
                }
            }
        }
        if matches!(ev, PoolEvent::Stopped(_)) {
            self.finish();
        } else if self.gathered.len() >= GATHER || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    fn line(&mut self, v: &serde_json::Value) {
        // A `Value` always serializes, and a Vec takes every byte.
        let _ = serde_json::to_writer(&mut self.gathered, v);
        self.gathered.push(b'\n');
    }

    /// Writes the gathered lines, whole.
    fn flush(&mut self) {
        if !self.gathered.is_empty() {
            self.sink.write_all(&self.gathered);
            self.gathered.clear();
        }
        self.sink.flush();
        self.last_flush = Instant::now();
    }

    /// The summary line, then everything out; later events are ignored.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let summary = summary_json(&self.tally);
        self.line(&summary);
        self.flush();
    }

    fn lost(&self) -> Option<&Lost> {
        self.sink.lost()
    }
}

/// The folder of the default recordings: `$XDG_STATE_HOME/pooltop/runs`,
/// else `$HOME/.local/state/pooltop/runs`; none without either.
pub fn default_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = match env("XDG_STATE_HOME").filter(|s| Path::new(s).is_absolute()) {
        Some(state) => PathBuf::from(state),
        None => PathBuf::from(env("HOME").filter(|h| !h.is_empty())?).join(".local/state"),
    };
    Some(base.join("pooltop").join("runs"))
}

/// The default recording's file name for a run started at `unix` by `pid`:
/// `20261204T200015Z-1234.jsonl`, which sorts by start time.
pub fn file_name(unix: SystemTime, pid: u32) -> String {
    let secs = unix
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{pid}.{EXT}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Makes `dir` (0700: recordings hold task lines and output) and a new
/// recording's path in it, then removes the oldest recordings so that,
/// with the new one, at most `keep` remain (0: keep all).
pub fn default_path(dir: &Path, keep: u32) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = dir.join(file_name(SystemTime::now(), std::process::id()));
    if keep > 0 {
        prune(dir, keep as usize - 1)?;
    }
    // Created now, so that a second run in the same second by another pid
    // counts it when it prunes.
    File::create(&path)?;
    Ok(path)
}

/// Removes the oldest recordings in `dir` (by name, which is by start time)
/// until at most `keep` remain. Other files are left alone.
pub fn prune(dir: &Path, keep: usize) -> io::Result<()> {
    let mut runs: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_recording_name(p))
        .collect();
    runs.sort();
    let extra = runs.len().saturating_sub(keep);
    for old in &runs[..extra] {
        // One that another run removed first is gone all the same.
        match fs::remove_file(old) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `path` is named as a default recording is.
fn is_recording_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(stem) = name.strip_suffix(&format!(".{EXT}")) else {
        return false;
    };
    let b = stem.as_bytes();
    b.len() > 17
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[..8].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_start_time() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_878_415);
        assert_eq!(file_name(t, 42), "20251204T200015Z-42.jsonl");
        assert_eq!(file_name(UNIX_EPOCH, 1), "19700101T000000Z-1.jsonl");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert!(file_name(leap, 1).starts_with("20000229T"));
        assert!(is_recording_name(Path::new("/x/20251204T200015Z-42.jsonl")));
        assert!(!is_recording_name(Path::new("/x/notes.jsonl")));
    }

    #[test]
    fn the_default_dir_follows_xdg() {
        let env = |k: &str| match k {
            "XDG_STATE_HOME" => Some("/s".to_string()),
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(default_dir(&env), Some(PathBuf::from("/s/pooltop/runs")));
        let home = |k: &str| (k == "HOME").then(|| "/h".to_string());
        assert_eq!(
            default_dir(&home),
            Some(PathBuf::from("/h/.local/state/pooltop/runs"))
        );
        assert_eq!(default_dir(&|_| None), None);
    }

    #[test]
    fn pruning_keeps_the_newest_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            fs::write(dir.path().join(format!("2025010{i}T000000Z-1.jsonl")), "").unwrap();
        }
        fs::write(dir.path().join("mine.txt"), "").unwrap();
        prune(dir.path(), 2).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "20250103T000000Z-1.jsonl",
                "20250104T000000Z-1.jsonl",
                "mine.txt"
            ]
        );
    }
}
