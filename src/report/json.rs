//! The JSON-lines event stream (`--json`): one object per event, the schema
//! README's "JSON lines" table documents, and the writer that keeps a failed
//! write from stopping the run (and from going unsaid).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::report::Tally;
use crate::report::sink::{Lost, Sink};
use pooltop::engine::{self, PoolEvent, TaskReport};

/// The JSON object for one event, or none for events the stream leaves out
/// and for a [`PoolEvent::TasksDone`], which stands for several lines (see
/// [`pooltop::DoneRun::events`]).
pub fn event_json(ev: &PoolEvent, since: Duration) -> Option<Value> {
    let t = (since.as_secs_f64() * 1e6).round() / 1e6;
    let v = match ev {
        PoolEvent::WorkerSpawned { .. } => return None,
        PoolEvent::WorkerHost { worker, host } => {
            json!({"event": "worker_host", "t": t, "worker": worker.0, "host": &**host})
        }
        PoolEvent::WorkerSlot { worker, slot } => {
            json!({"event": "worker_slot", "t": t, "worker": worker.0, "slot": slot})
        }
        PoolEvent::WorkerPending { worker, pending } => {
            json!({"event": "worker_pending", "t": t, "worker": worker.0, "pending": pending})
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
        PoolEvent::TaskRetried { .. }
        | PoolEvent::TaskToFront { .. }
        | PoolEvent::DispatchHeld(_) => {
            return steer_json(ev, t);
        }
        // Live output stays out of the stream: the task's report has its tails.
        PoolEvent::TaskOutput { .. } => return None,
        PoolEvent::TaskFinished(r) => task_finished_json(r, t),
        PoolEvent::DispatchPaused(p) => {
            json!({"event": if *p {"dispatch_paused"} else {"dispatch_resumed"}, "t": t})
        }
        PoolEvent::Scaled { workers } => json!({"event": "scaled", "t": t, "workers": workers}),
        PoolEvent::Error { worker, message } => {
            json!({"event": "error", "t": t, "worker": worker.map(|w| w.0), "message": message})
        }
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
        PoolEvent::Stalled { for_ } => {
            json!({"event": "manager_stalled", "t": t, "stalled_s": for_.as_secs_f64()})
        }
        PoolEvent::Drained(_) => return None,
        PoolEvent::Stopped(_) => return None,
    };
    Some(v)
}

/// The lines of the task orders' events (`task_retried`, `task_to_front`).
fn steer_json(ev: &PoolEvent, t: f64) -> Option<Value> {
    Some(match ev {
        PoolEvent::TaskRetried { task, retry } => {
            json!({"event": "task_retried", "t": t, "task": task.0, "retry": retry.0})
        }
        PoolEvent::TaskToFront { task } => {
            json!({"event": "task_to_front", "t": t, "task": task.0})
        }
        PoolEvent::DispatchHeld(Some(h)) => json!({"event": "dispatch_held", "t": t,
            "gate": h.gate, "now": h.now, "limit": h.limit, "detail": h.to_string()}),
        PoolEvent::DispatchHeld(None) => json!({"event": "dispatch_admitted", "t": t}),
        _ => return None,
    })
}

/// The `task_finished` line: the report, with only the fields it has.
fn task_finished_json(r: &TaskReport, t: f64) -> Value {
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
    if let Some(bytes) = r.max_rss {
        obj.insert("max_rss".into(), json!(bytes));
    }
    if !r.output.stdout.is_empty() {
        obj.insert("stdout".into(), json!(r.output.stdout));
    }
    if !r.output.stderr.is_empty() {
        obj.insert("stderr".into(), json!(r.output.stderr));
    }
    v
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
        "timed_out": c.timed_out, "cancelled": c.cancelled, "retried": c.retried,
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

/// Where the JSON lines go: a checked output that does not buffer (the
/// stream gathers whole lines itself).
pub type JsonSink = Sink;

/// How many bytes of whole lines the stream gathers before it writes them.
const GATHER: usize = 64 * 1024;

/// The JSON-lines event stream, when one was asked for. Lines are gathered
/// and handed to the sink only at a line's end, so a reader never sees half
/// an object except where the output itself failed. A failed write stops
/// the stream (the sink says so once on stderr, and the face's exit status
/// says so), never the run.
pub struct JsonLines {
    out: Option<JsonSink>,
    gathered: Vec<u8>,
    started: Instant,
}

impl JsonLines {
    pub fn new(out: Option<JsonSink>, started: Instant) -> JsonLines {
        JsonLines {
            out,
            gathered: Vec::new(),
            started,
        }
    }

    /// Whether lines still go out: asked for and not lost.
    pub fn is_on(&self) -> bool {
        self.out.as_ref().is_some_and(Sink::is_open)
    }

    /// Why the stream stopped, if a write or flush failed.
    pub fn lost(&self) -> Option<&Lost> {
        self.out.as_ref()?.lost()
    }

    pub fn write(&mut self, line: Value) {
        if !self.is_on() {
            return;
        }
        // A `Value` always serializes, and a Vec takes every byte.
        let _ = serde_json::to_writer(&mut self.gathered, &line);
        self.gathered.push(b'\n');
        if self.gathered.len() >= GATHER {
            self.flush();
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

    /// Hands the gathered lines to the output, in one write, and flushes it.
    pub fn flush(&mut self) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        if !self.gathered.is_empty() {
            out.write_all(&self.gathered);
            self.gathered.clear();
        }
        out.flush();
    }

    /// The summary line last, then everything out.
    pub fn finish(&mut self, tally: &Tally) {
        self.write(summary_json(tally));
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::engine::{TaskId, TaskReport, TaskState, WorkerId};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// An output that keeps what it is given (and the size of each write),
    /// or fails every write.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>, bool, Arc<Mutex<Vec<usize>>>);

    impl Write for Kept {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.1 {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.0.lock().unwrap().extend_from_slice(b);
            self.2.lock().unwrap().push(b.len());
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
            output: pooltop::task::TaskOutput {
                value: "49".into(),
                exit_code: Some(0),
                ..Default::default()
            },
            error: error.map(String::from),
            wall: Duration::from_millis(1500),
            cpu: Duration::from_millis(500),
            max_rss: None,
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
        let sink = Sink::new("the JSON event stream", Box::new(kept.clone()));
        let mut lines = JsonLines::new(Some(sink), Instant::now());
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

        let full = Kept(Default::default(), true, Default::default());
        let sink = Sink::new("the JSON event stream `e.jsonl`", Box::new(full));
        let mut lines = JsonLines::new(Some(sink), Instant::now());
        assert!(lines.is_on());
        lines.event(&PoolEvent::Scaled { workers: 2 });
        lines.flush();
        assert!(!lines.is_on(), "a failed write turns the stream off");
        assert_eq!(
            lines.lost().unwrap().to_string(),
            "cannot write the JSON event stream `e.jsonl`: No space left on device (os error 28)"
        );
    }

    #[test]
    fn every_write_ends_at_a_line_end() {
        let kept = Kept::default();
        let sink = Sink::new("the JSON event stream", Box::new(kept.clone()));
        let mut lines = JsonLines::new(Some(sink), Instant::now());
        for _ in 0..3000 {
            lines.event(&report(TaskState::Done, None));
        }
        lines.finish(&Tally::new(1));
        let text = kept.0.lock().unwrap().clone();
        let sizes = kept.2.lock().unwrap().clone();
        assert!(sizes.len() > 2, "gathered lines go out more than once");
        let mut at = 0;
        for n in sizes {
            at += n;
            assert_eq!(text[at - 1], b'\n', "a write ends mid-line at byte {at}");
        }
        assert_eq!(text.split(|&b| b == b'\n').count(), 3002);
    }
}
