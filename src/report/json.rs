//! The JSON-lines event stream (`--json`): one object per event, the schema
//! README's "JSON lines" table documents, and the writer that keeps a failed
//! write from stopping the run.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::{self, PoolEvent};
use crate::report::Tally;
use crate::report::hung::HungNews;

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
    };
    Some(v)
}

/// The summary object written last to the JSON stream.
pub fn summary_json(tally: &Tally) -> Value {
    let c = &tally.counts;
    json!({
        "event": "summary", "submitted": c.submitted, "done": c.done, "failed": c.failed,
        "timed_out": c.timed_out, "cancelled": c.cancelled,
        "wall_s": tally.wall().as_secs_f64(), "task_s": tally.task_time.as_secs_f64(),
        "killed_s": tally.lost.killed.as_secs_f64(),
        "timed_out_s": tally.lost.timed_out.as_secs_f64(),
        "cancelled_s": tally.lost.cancelled.as_secs_f64(),
        "speedup": tally.speedup(), "efficiency": tally.efficiency(),
        "workers": tally.workers(),
        "workers_min": tally.workers_range().map(|r| r.0),
        "workers_max": tally.workers_range().map(|r| r.1),
        "workers_avg": tally.workers_average(),
    })
}

/// Where the JSON lines go.
pub type JsonSink = Box<dyn Write + Send>;

/// The JSON-lines event stream, when one was asked for. A failed write stops
/// the stream (with one warning on stderr), never the run.
pub struct JsonLines {
    out: Option<JsonSink>,
    started: Instant,
}

impl JsonLines {
    pub fn new(out: Option<JsonSink>, started: Instant) -> JsonLines {
        JsonLines { out, started }
    }

    pub fn is_on(&self) -> bool {
        self.out.is_some()
    }

    pub fn write(&mut self, line: Value) {
        if let Some(out) = self.out.as_mut()
            && writeln!(out, "{line}").is_err()
        {
            self.out = None;
            crate::say!("pooltop: cannot write the JSON event stream; going on without it");
        }
    }

    /// Writes the event's line, if it has one: a run of tasks done gets the
    /// lines of the events it stands for, so the stream shows every task.
    pub fn event(&mut self, ev: &PoolEvent) {
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
    pub fn flush(&mut self) {
        if let Some(out) = self.out.as_mut()
            && out.flush().is_err()
        {
            self.out = None;
        }
    }

    /// The summary line last, then everything out.
    pub fn finish(&mut self, tally: &Tally) {
        self.write(summary_json(tally));
        self.flush();
    }
}

/// The JSON object for a change in a worker's hung state.
pub fn hung_json(news: &HungNews, since: Duration) -> Value {
    let t = (since.as_secs_f64() * 1e6).round() / 1e6;
    match news {
        HungNews::Hung {
            worker,
            pid,
            task,
            idle,
        } => json!({"event": "worker_hung", "t": t, "worker": worker.0, "pid": pid,
                    "task": task.0, "idle_s": idle.as_secs_f64()}),
        HungNews::Unhung { worker, task } => {
            json!({"event": "worker_unhung", "t": t, "worker": worker.0, "task": task.0})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{TaskId, TaskReport, TaskState, WorkerId};
    use std::sync::{Arc, Mutex};

    /// A sink that keeps what it is given, or fails every write.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>, bool);

    impl Write for Kept {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.1 {
                return Err(std::io::Error::other("disk full"));
            }
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn report(state: TaskState, error: Option<&str>) -> PoolEvent {
        PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(7),
            worker: Some(WorkerId(2)),
            state,
            output: crate::task::TaskOutput {
                value: "49".into(),
                exit_code: Some(0),
                ..Default::default()
            },
            error: error.map(String::from),
            wall: Duration::from_millis(1500),
            cpu: Duration::from_millis(500),
            attempts: 1,
            line: Arc::from("square 7"),
        }))
    }

    #[test]
    fn a_finished_task_has_its_result_or_its_error() {
        let v = event_json(&report(TaskState::Done, None), Duration::from_millis(2500)).unwrap();
        assert_eq!(v["event"], "task_finished");
        assert_eq!(v["t"], 2.5);
        assert_eq!(v["task"], 7);
        assert_eq!(v["worker"], 2);
        assert_eq!(v["state"], "done");
        assert_eq!(v["result"], "49");
        assert_eq!(v["wall_s"], 1.5);
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["line"], "square 7");
        assert!(v.get("error").is_none() && v.get("stdout").is_none());
        let v = event_json(&report(TaskState::Failed, Some("boom")), Duration::ZERO).unwrap();
        assert_eq!(v["error"], "boom");
        assert!(v.get("result").is_none());
    }

    #[test]
    fn events_the_stream_leaves_out_have_no_line() {
        assert!(event_json(&PoolEvent::Stopped(Default::default()), Duration::ZERO).is_none());
        let v = event_json(&PoolEvent::Scaled { workers: 3 }, Duration::ZERO).unwrap();
        assert_eq!(v, json!({"event": "scaled", "t": 0.0, "workers": 3}));
    }

    #[test]
    fn the_writer_ends_with_the_summary_and_stops_after_a_failed_write() {
        let kept = Kept::default();
        let mut lines = JsonLines::new(Some(Box::new(kept.clone())), Instant::now());
        lines.event(&PoolEvent::Scaled { workers: 2 });
        lines.finish(&Tally::new(2));
        let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        let events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 2, "{text}");
        assert_eq!(events[1]["event"], "summary");
        assert_eq!(events[1]["workers"], 2);

        let mut lines = JsonLines::new(
            Some(Box::new(Kept(Default::default(), true))),
            Instant::now(),
        );
        assert!(lines.is_on());
        lines.event(&PoolEvent::Scaled { workers: 2 });
        assert!(!lines.is_on(), "a failed write turns the stream off");
    }
}
