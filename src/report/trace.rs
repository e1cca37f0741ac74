//! A recording as a Chrome trace-event file (`--trace`, `pooltop report
//! --trace`), which Perfetto and chrome://tracing open: one thread per
//! worker slot (pid 1, tid the slot, named by `M` metadata events), an `X`
//! slice per task attempt with its task, line, state and attempt as args,
//! and `C` counters for each core's load and each slot's CPU and RSS.
//!
//! Large runs stay openable: beyond [`MAX_SLICES`] attempts, consecutive
//! tiny ones on a lane (each shorter than the run's wall time × lanes /
//! `MAX_SLICES`, with gaps as short) become one slice named `N tasks`, with
//! the count, the first and last task and the states' counts as args.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::report::postmortem::read::{self, Line};
use crate::report::postmortem::spans::{Span, Spans};

/// The most slices a trace holds before tiny tasks are aggregated.
pub const MAX_SLICES: u64 = 200_000;

/// The one process of the trace.
const PID: u64 = 1;

/// Writes the trace of the recording at `recording` to `out`. A recording
/// cut short gives the trace up to where it stopped.
pub fn write_from(recording: &Path, out: &Path) -> io::Result<()> {
    let unreadable = |e: read::Unreadable| io::Error::other(e.0);
    // First pass: how many slices, over how long, on how many lanes.
    let mut spans = Spans::default();
    let (mut count, mut last_t, mut lanes) = (0u64, 0f64, BTreeSet::new());
    read::read(recording, |l| {
        last_t = last_t.max(l.t);
        if let Some(s) = spans.observe(l) {
            count += 1;
            lanes.insert(s.lane);
            last_t = last_t.max(s.end);
        }
    })
    .map_err(unreadable)?;
    let tiny = if count > MAX_SLICES {
        last_t * lanes.len().max(1) as f64 / MAX_SLICES as f64
    } else {
        0.0
    };
    let mut w = TraceWriter::new(BufWriter::with_capacity(1 << 20, File::create(out)?), tiny)?;
    let mut spans = Spans::default();
    let (header, _) = read::read(recording, |l| w.line(l, &mut spans)).map_err(unreadable)?;
    w.finish(&header)
}

/// Writes events as they come; a failed write is kept and returned at the end.
struct TraceWriter<W: Write> {
    out: W,
    first: bool,
    error: Option<io::Error>,
    tiny: f64,
    /// Per lane, the tiny spans gathered into one slice so far.
    open: BTreeMap<u64, Group>,
    lanes: BTreeSet<u64>,
}

/// Consecutive tiny spans of one lane.
struct Group {
    first: Span,
    last_task: u64,
    end: f64,
    count: u64,
    states: BTreeMap<String, u64>,
}

/// Microseconds, as the trace counts time.
fn us(secs: f64) -> f64 {
    (secs * 1e6 * 1000.0).round() / 1000.0
}

impl<W: Write> TraceWriter<W> {
    fn new(mut out: W, tiny: f64) -> io::Result<TraceWriter<W>> {
        out.write_all(b"{\"traceEvents\":[\n")?;
        Ok(TraceWriter {
            out,
            first: true,
            error: None,
            tiny,
            open: BTreeMap::new(),
            lanes: BTreeSet::new(),
        })
    }

    fn put(&mut self, v: &Value) {
        if self.error.is_some() {
            return;
        }
        let sep: &[u8] = if self.first { b"" } else { b",\n" };
        self.first = false;
        let r = self
            .out
            .write_all(sep)
            .and_then(|()| serde_json::to_writer(&mut self.out, v).map_err(io::Error::from));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn line(&mut self, l: &Line<'_>, spans: &mut Spans) {
        if let Some(span) = spans.observe(l) {
            self.lanes.insert(span.lane);
            self.span(span);
        } else if l.event == "sample" {
            self.sample(l, spans);
        }
    }

    fn span(&mut self, s: Span) {
        let len = s.end - s.start;
        if self.tiny > 0.0 && len < self.tiny {
            if let Some(g) = self.open.get_mut(&s.lane)
                && s.start - g.end < self.tiny
            {
                g.count += 1;
                g.last_task = s.task;
                g.end = s.end;
                *g.states.entry(s.state).or_default() += 1;
                return;
            }
            self.close(s.lane);
            let mut states = BTreeMap::new();
            states.insert(s.state.clone(), 1);
            self.open.insert(
                s.lane,
                Group {
                    last_task: s.task,
                    end: s.end,
                    count: 1,
                    states,
                    first: s,
                },
            );
            return;
        }
        self.close(s.lane);
        self.slice(&s);
    }

    fn slice(&mut self, s: &Span) {
        let name = s
            .line
            .split_whitespace()
            .next()
            .unwrap_or("task")
            .to_string();
        self.put(&json!({
            "name": if s.state == "retried" { "retried".to_string() } else { name },
            "cat": s.state, "ph": "X", "pid": PID, "tid": s.lane,
            "ts": us(s.start), "dur": us(s.end - s.start),
            "args": {"task": s.task, "line": s.line, "state": s.state,
                     "attempt": s.attempt, "worker": s.worker},
        }));
    }

    /// Writes the lane's gathered tiny spans: as themselves when only one.
    fn close(&mut self, lane: u64) {
        let Some(g) = self.open.remove(&lane) else {
            return;
        };
        if g.count == 1 {
            self.slice(&g.first);
            return;
        }
        let s = &g.first;
        self.put(&json!({
            "name": format!("{} tasks", g.count), "cat": "aggregated", "ph": "X",
            "pid": PID, "tid": lane, "ts": us(s.start), "dur": us(g.end - s.start),
            "args": {"count": g.count, "first_task": s.task, "last_task": g.last_task,
                     "states": g.states, "worker": s.worker},
        }));
    }

    fn sample(&mut self, l: &Line<'_>, spans: &Spans) {
        let ts = us(l.t);
        if let Some(cores) = &l.cores {
            let args: serde_json::Map<String, Value> = cores
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("core {i}"), json!(c)))
                .collect();
            self.put(
                &json!({"name": "core load %", "ph": "C", "pid": PID, "ts": ts, "args": args}),
            );
        }
        let Some(list) = l.workers.as_ref().and_then(Value::as_array) else {
            return;
        };
        for w in list {
            let Some(id) = w.get("worker").and_then(Value::as_u64) else {
                continue;
            };
            let lane = spans.lane(id);
            let (cpu, rss) = (w.get("cpu").cloned(), w.get("rss").cloned());
            self.put(
                &json!({"name": format!("slot {lane} cpu %"), "ph": "C", "pid": PID,
                             "ts": ts, "args": {"cpu": cpu}}),
            );
            self.put(
                &json!({"name": format!("slot {lane} rss"), "ph": "C", "pid": PID,
                             "ts": ts, "args": {"rss": rss}}),
            );
        }
    }

    fn finish(mut self, header: &read::Header) -> io::Result<()> {
        let lanes: Vec<u64> = self.open.keys().copied().collect();
        for lane in lanes {
            self.close(lane);
        }
        self.put(
            &json!({"name": "process_name", "ph": "M", "pid": PID, "tid": 0,
                         "args": {"name": format!("pooltop: {}", header.title)}}),
        );
        for lane in self.lanes.clone() {
            self.put(
                &json!({"name": "thread_name", "ph": "M", "pid": PID, "tid": lane,
                             "args": {"name": format!("slot {lane}")}}),
            );
            self.put(
                &json!({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": lane,
                             "args": {"sort_index": lane}}),
            );
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let other = json!({"title": header.title, "started_unix": header.started_unix,
                           "pooltop": header.pooltop, "max_slices": MAX_SLICES,
                           "tiny_s": self.tiny});
        write!(
            self.out,
            "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{other}}}\n"
        )?;
        self.out.flush()
    }
}
