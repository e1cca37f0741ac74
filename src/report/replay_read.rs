//! A recording read back as the events it was written from: each line of a
//! recording (`--record`, see README's "Recordings") or of a JSON event
//! stream (`--json`) turned back into [`PoolEvent`]s with its time, so the
//! dashboard replays a run through the same `App::update` that showed it
//! live.
//!
//! Streams: one line at a time from any `BufRead`, never the whole file.
//! A line cut short at the file's end (a run killed mid-write), or one that
//! is not an event, stops the reading with `FILE:LINE: why`; following a
//! file still being written, a line not yet whole is waited for instead.
//!
//! What the stream does not carry comes back as little as it can: the
//! `WorkerSpawned` of a worker is made up from its first line (its pid
//! once `worker_started` says it), a task's line is known from its
//! `task_finished` only (its `task_started` says `?`), and the `summary`
//! becomes the pool's `Stopped` with its counts.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use pooltop::engine::events::{
    Counts, ExitHow, PoolEvent, TaskId, TaskReport, TaskState, WorkerId,
};
use pooltop::engine::monitor::{ProcStat, Sample, WorkerStat};
use pooltop::task::TaskOutput;

/// The recording format versions this reader knows.
pub const KNOWN_VERSION: u64 = 1;

/// The line of a task not seen yet (the stream names it when it finishes).
pub const UNKNOWN_LINE: &str = "?";

/// What a recording's header says about the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub title: String,
    pub workers: usize,
    /// The run's start, in seconds since the Unix epoch.
    pub started_unix: f64,
}

/// One line read back: when, and the events it stands for (none, for a
/// line whose news waits for a later one).
#[derive(Debug, Clone)]
pub struct Replayed {
    /// Since the run's start.
    pub t: Duration,
    pub events: Vec<PoolEvent>,
}

/// What the next look at the file found.
#[derive(Debug)]
pub enum Next {
    Line(Replayed),
    /// Following: no whole line yet; look again later.
    Pending,
    /// The file ended after a whole line.
    End,
    /// The file cannot be read on from here: `FILE:LINE: why`.
    Stopped(String),
}

/// Reads a recording, line after line.
pub struct Reader<R> {
    input: R,
    name: String,
    follow: bool,
    /// The line being read (kept across looks while following).
    buf: Vec<u8>,
    /// Lines read whole.
    line: u64,
    header: Option<Header>,
    /// Workers already announced with a made-up `WorkerSpawned`.
    seen: HashSet<WorkerId>,
    /// Slots given to workers not yet started (the stream names a slot
    /// before the worker's pid; the slot is passed on with the pid).
    slots: HashMap<WorkerId, u32>,
    stopped: Option<String>,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `input`, named `name` in messages; `follow` waits for
    /// lines still being written instead of stopping at a cut one.
    pub fn new(input: R, name: impl Into<String>, follow: bool) -> Reader<R> {
        Reader {
            input,
            name: name.into(),
            follow,
            buf: Vec::new(),
            line: 0,
            header: None,
            seen: HashSet::new(),
            slots: HashMap::new(),
            stopped: None,
        }
    }

    /// The header, once read (a JSON event stream has none).
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Lines read whole so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// The next line's events.
    pub fn next_line(&mut self) -> Next {
        loop {
            if let Some(why) = &self.stopped {
                return Next::Stopped(why.clone());
            }
            match self.input.read_until(b'\n', &mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.stop(self.line + 1, &format!("cannot read: {e}")),
                Ok(_) => {}
            }
            if self.buf.is_empty() {
                return if self.follow {
                    Next::Pending
                } else {
                    Next::End
                };
            }
            if self.buf.last() != Some(&b'\n') {
                if self.follow {
                    return Next::Pending;
                }
                return self.stop(
                    self.line + 1,
                    "the line is cut short (the file ends mid-line)",
                );
            }
            self.line += 1;
            let text = std::mem::take(&mut self.buf);
            let Ok(text) = std::str::from_utf8(&text) else {
                return self.stop(self.line, "not UTF-8 text");
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match self.parse(text) {
                Ok(Some(r)) => return Next::Line(r),
                Ok(None) => continue,
                Err(why) => return self.stop(self.line, &why),
            }
        }
    }

    fn stop(&mut self, line: u64, why: &str) -> Next {
        let msg = format!("{}:{line}: {why}", self.name);
        self.stopped = Some(msg.clone());
        Next::Stopped(msg)
    }

    fn parse(&mut self, text: &str) -> Result<Option<Replayed>, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
        let kind = str_of(&v, "event")?;
        if kind == "recording" {
            if self.line != 1 {
                return Err("a second recording header".into());
            }
            let version = u64_of(&v, "version")?;
            if version != KNOWN_VERSION {
                return Err(format!(
                    "recording format version {version}; this pooltop reads version {KNOWN_VERSION}"
                ));
            }
            self.header = Some(Header {
                title: v["title"].as_str().unwrap_or("").to_string(),
                workers: v["workers"].as_u64().unwrap_or(0) as usize,
                started_unix: v["started_unix"].as_f64().unwrap_or(0.0),
            });
            return Ok(None);
        }
        let t = match kind {
            "summary" => v["wall_s"].as_f64().unwrap_or(0.0),
            _ => f64_of(&v, "t")?,
        };
        if !(t.is_finite() && t >= 0.0) {
            return Err(format!("`t` is {t}, not a time"));
        }
        let events = self.events(kind, &v)?;
        Ok(Some(Replayed {
            t: Duration::from_secs_f64(t),
            events,
        }))
    }

    /// A worker's made-up `WorkerSpawned`, the first time it is named.
    fn announce(&mut self, out: &mut Vec<PoolEvent>, worker: WorkerId, pid: u32) {
        if self.seen.insert(worker) {
            out.push(PoolEvent::WorkerSpawned { worker, pid });
        }
    }

    fn events(&mut self, kind: &str, v: &Value) -> Result<Vec<PoolEvent>, String> {
        let mut out = Vec::new();
        let worker = || u32_of(v, "worker").map(WorkerId);
        let task = || u64_of(v, "task").map(TaskId);
        let ev = match kind {
            "worker_slot" => {
                let (w, slot) = (worker()?, u32_of(v, "slot")?);
                if !self.seen.contains(&w) {
                    self.slots.insert(w, slot);
                    return Ok(out);
                }
                PoolEvent::WorkerSlot { worker: w, slot }
            }
            "worker_started" => {
                let (w, pid) = (worker()?, u32_of(v, "pid")?);
                self.announce(&mut out, w, pid);
                if let Some(slot) = self.slots.remove(&w) {
                    out.push(PoolEvent::WorkerSlot { worker: w, slot });
                }
                PoolEvent::WorkerReady { worker: w, pid }
            }
            "worker_paused" => PoolEvent::WorkerPaused { worker: worker()? },
            "worker_resumed" => PoolEvent::WorkerResumed { worker: worker()? },
            "worker_stopping" => PoolEvent::WorkerStopping {
                worker: worker()?,
                join_timeout: v["join_timeout_s"]
                    .as_f64()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64),
            },
            "worker_exited" => PoolEvent::WorkerExited {
                worker: worker()?,
                pid: u32_of(v, "pid")?,
                how: exit_how(v)?,
            },
            "tasks_queued" => PoolEvent::TasksQueued {
                first: TaskId(u64_of(v, "first")?),
                count: u64_of(v, "count")? as usize,
                lines: Vec::new(),
            },
            "task_started" => PoolEvent::TaskStarted {
                task: task()?,
                worker: worker()?,
                attempt: u32_of(v, "attempt")?,
                line: Arc::from(UNKNOWN_LINE),
            },
            "task_retrying" => PoolEvent::TaskRetrying {
                task: task()?,
                worker: worker()?,
                reason: v["reason"].as_str().unwrap_or("").to_string(),
            },
            "task_finished" => PoolEvent::TaskFinished(Box::new(report(v)?)),
            "dispatch_paused" => PoolEvent::DispatchPaused(true),
            "dispatch_resumed" => PoolEvent::DispatchPaused(false),
            "scaled" => PoolEvent::Scaled {
                workers: u64_of(v, "workers")? as usize,
            },
            "error" => PoolEvent::Error {
                worker: v["worker"].as_u64().map(|w| WorkerId(w as u32)),
                message: v["message"].as_str().unwrap_or("").to_string(),
            },
            "sample" => PoolEvent::Sample(Box::new(sample(v)?)),
            "worker_hung" => PoolEvent::WorkerHung {
                worker: worker()?,
                pid: u32_of(v, "pid")?,
                task: task()?,
                idle: Duration::from_secs_f64(f64_of(v, "idle_s")?.max(0.0)),
            },
            "worker_unhung" => PoolEvent::WorkerUnhung {
                worker: worker()?,
                task: task()?,
            },
            "summary" => PoolEvent::Stopped(Counts {
                submitted: u64_of(v, "submitted")?,
                done: u64_of(v, "done")?,
                failed: u64_of(v, "failed")?,
                timed_out: u64_of(v, "timed_out")?,
                cancelled: u64_of(v, "cancelled")?,
                // Older recordings have no retries of ended tasks.
                retried: v["retried"].as_u64().unwrap_or(0),
            }),
            // Events of a later pooltop: passed over, not an error.
            _ => return Ok(out),
        };
        out.push(ev);
        Ok(out)
    }
}

fn field<'a>(v: &'a Value, k: &str) -> Result<&'a Value, String> {
    v.get(k)
        .filter(|x| !x.is_null())
        .ok_or_else(|| format!("`{k}` is missing"))
}

fn str_of<'a>(v: &'a Value, k: &str) -> Result<&'a str, String> {
    field(v, k)?
        .as_str()
        .ok_or_else(|| format!("`{k}` is not a string"))
}

fn u64_of(v: &Value, k: &str) -> Result<u64, String> {
    field(v, k)?
        .as_u64()
        .ok_or_else(|| format!("`{k}` is not a whole number"))
}

fn u32_of(v: &Value, k: &str) -> Result<u32, String> {
    u32::try_from(u64_of(v, k)?).map_err(|_| format!("`{k}` is too large"))
}

fn f64_of(v: &Value, k: &str) -> Result<f64, String> {
    field(v, k)?
        .as_f64()
        .ok_or_else(|| format!("`{k}` is not a number"))
}

fn secs(v: &Value, k: &str) -> Duration {
    v[k].as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::ZERO, Duration::from_secs_f64)
}

fn exit_how(v: &Value) -> Result<ExitHow, String> {
    let signal = v["signal"].as_i64().map(|s| s as i32);
    let code = v["code"].as_i64().map(|c| c as i32);
    Ok(match str_of(v, "how")? {
        "exited" => ExitHow::Exited(code.unwrap_or(0)),
        "killed" => {
            // The detail reads "killed by SIGKILL (reason)".
            let detail = v["detail"].as_str().unwrap_or("");
            let reason = detail
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .unwrap_or(detail);
            ExitHow::Killed {
                signal: signal.unwrap_or(9),
                reason: reason.to_string(),
            }
        }
        "crashed" => ExitHow::Crashed { signal, code },
        other => return Err(format!("`how` is {other:?}, not exited, killed or crashed")),
    })
}

fn report(v: &Value) -> Result<TaskReport, String> {
    let state = match str_of(v, "state")? {
        "done" => TaskState::Done,
        "failed" => TaskState::Failed,
        "timed_out" => TaskState::TimedOut,
        "cancelled" => TaskState::Cancelled,
        other => return Err(format!("`state` is {other:?}, not a task state")),
    };
    let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
    Ok(TaskReport {
        task: TaskId(u64_of(v, "task")?),
        worker: v["worker"].as_u64().map(|w| WorkerId(w as u32)),
        state,
        output: TaskOutput {
            value: text("result"),
            stdout: text("stdout"),
            stderr: text("stderr"),
            exit_code: v["exit_code"].as_i64().map(|c| c as i32),
            ..TaskOutput::default()
        },
        error: v["error"].as_str().map(String::from),
        wall: secs(v, "wall_s"),
        cpu: secs(v, "cpu_s"),
        attempts: v["attempts"].as_u64().unwrap_or(0) as u32,
        max_rss: v["max_rss"].as_u64(),
        line: Arc::from(v["line"].as_str().unwrap_or(UNKNOWN_LINE)),
    })
}

fn stat(v: &Value) -> ProcStat {
    ProcStat {
        cpu: v["cpu"].as_f64().unwrap_or(0.0) as f32,
        rss: v["rss"].as_u64().unwrap_or(0),
        procs: 1,
    }
}

fn sample(v: &Value) -> Result<Sample, String> {
    let workers = field(v, "workers")?
        .as_array()
        .ok_or("`workers` is not a list")?
        .iter()
        .map(|w| {
            Ok(WorkerStat {
                worker: WorkerId(u32_of(w, "worker")?),
                pid: u32_of(w, "pid")?,
                stat: stat(w),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let cores = v["cores"]
        .as_array()
        .map(|c| c.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect())
        .unwrap_or_default();
    Ok(Sample {
        cores,
        workers,
        own: stat(&v["own"]),
        ..Sample::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> (Vec<Replayed>, Next) {
        let mut r = Reader::new(text.as_bytes(), "run.jsonl", false);
        let mut out = Vec::new();
        loop {
            match r.next_line() {
                Next::Line(l) => out.push(l),
                end => return (out, end),
            }
        }
    }

    const RUN: &str = r#"{"event":"recording","version":1,"started_unix":1764878400.5,"title":"demo","workers":1}
{"event":"worker_slot","t":0.001,"worker":1,"slot":1}
{"event":"worker_started","t":0.002,"worker":1,"pid":4242}
{"event":"tasks_queued","t":0.003,"first":1,"count":1}
{"event":"task_started","t":0.01,"task":1,"worker":1,"attempt":1}
{"event":"task_finished","t":0.5,"task":1,"worker":1,"state":"failed","wall_s":0.49,"cpu_s":0.1,"attempts":1,"line":"fail boom","error":"boom"}
{"event":"sample","t":0.6,"workers":[{"worker":1,"pid":4242,"cpu":99.5,"rss":1024}],"cores":[50.0,10.0],"own":{"cpu":1.0,"rss":2048}}
{"event":"summary","submitted":1,"done":0,"failed":1,"timed_out":0,"cancelled":0,"wall_s":0.7}
"#;

    #[test]
    fn a_recording_reads_back_as_its_events() {
        let (lines, end) = all(RUN);
        assert!(matches!(end, Next::End), "{end:?}");
        assert_eq!(lines.len(), 7, "the header is no event");
        assert!(
            lines[0].events.is_empty(),
            "a slot waits for its worker's pid"
        );
        assert!(matches!(
            lines[1].events[..],
            [
                PoolEvent::WorkerSpawned { pid: 4242, .. },
                PoolEvent::WorkerSlot { slot: 1, .. },
                PoolEvent::WorkerReady { pid: 4242, .. }
            ]
        ));
        let PoolEvent::TaskFinished(r) = &lines[4].events[0] else {
            panic!("{:?}", lines[4])
        };
        assert_eq!(
            (r.state, &*r.line, r.error.as_deref()),
            (TaskState::Failed, "fail boom", Some("boom"))
        );
        assert_eq!(lines[4].t, Duration::from_millis(500));
        let PoolEvent::Sample(s) = &lines[5].events[0] else {
            panic!()
        };
        assert_eq!((s.cores.len(), s.workers[0].stat.rss), (2, 1024));
        assert!(matches!(
            lines[6].events[..],
            [PoolEvent::Stopped(Counts { failed: 1, .. })]
        ));
    }

    #[test]
    fn a_line_cut_short_or_damaged_stops_there_naming_the_line() {
        let cut = &RUN[..RUN.find("\"state\"").unwrap()];
        let (lines, end) = all(cut);
        assert_eq!(lines.len(), 4);
        let Next::Stopped(why) = end else {
            panic!("{end:?}")
        };
        assert_eq!(
            why,
            "run.jsonl:6: the line is cut short (the file ends mid-line)"
        );

        let damaged = RUN.replace(r#""task":1,"worker":1,"attempt":1"#, r#""task":"one""#);
        let (lines, end) = all(&damaged);
        assert_eq!(lines.len(), 3);
        let Next::Stopped(why) = end else {
            panic!("{end:?}")
        };
        assert_eq!(why, "run.jsonl:5: `task` is not a whole number");

        let future = RUN.replace(r#""version":1"#, r#""version":7"#);
        let Next::Stopped(why) = all(&future).1 else {
            panic!()
        };
        assert!(
            why.starts_with("run.jsonl:1: recording format version 7"),
            "{why}"
        );
    }

    #[test]
    fn following_waits_for_the_rest_of_a_line() {
        let cut = RUN.find("\"state\"").unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        use std::io::Write;
        file.write_all(&RUN.as_bytes()[..cut]).unwrap();
        file.flush().unwrap();
        let input = io::BufReader::new(std::fs::File::open(file.path()).unwrap());
        let mut r = Reader::new(input, "run.jsonl", true);
        let mut n = 0;
        while let Next::Line(_) = r.next_line() {
            n += 1;
        }
        assert_eq!(n, 4);
        assert!(matches!(r.next_line(), Next::Pending));
        file.write_all(&RUN.as_bytes()[cut..]).unwrap();
        file.flush().unwrap();
        let Next::Line(l) = r.next_line() else {
            panic!()
        };
        assert!(
            matches!(l.events[0], PoolEvent::TaskFinished(_)),
            "the line read whole"
        );
        assert_eq!(r.lines_read(), 6);
    }
}
