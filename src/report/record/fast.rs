//! The lines of a run of instant tasks ([`DoneRun`]), written straight into
//! the recording's buffer: the very bytes [`event_json`](crate::report::json::event_json)
//! and serde_json give them (fields in serde_json's sorted order, numbers
//! as serde_json writes them, strings escaped by serde_json), without a
//! `Value` or a report per task. This is what keeps recording cheap on
//! millions of tiny tasks.

use std::time::Duration;

use pooltop::DoneRun;

/// Seconds as serde_json writes an `f64`.
fn float(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn int(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn string(out: &mut Vec<u8>, s: &str) {
    // A `&str` always serializes, and a Vec takes every byte.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A `task_started` and a `task_finished` line per task of `run`, all at
/// `since` (the lines of a run share its `t`).
pub fn done_run(out: &mut Vec<u8>, run: &DoneRun, since: Duration) {
    let t = (since.as_secs_f64() * 1e6).round() / 1e6;
    let mut t_text = Vec::with_capacity(24);
    float(&mut t_text, t);
    let mut worker = Vec::with_capacity(24);
    int(&mut worker, u64::from(run.worker().0));
    let mut wall_text = Vec::with_capacity(24);
    for (task, value, wall, line) in run.iter() {
        out.extend_from_slice(b"{\"attempt\":1,\"event\":\"task_started\",\"t\":");
        out.extend_from_slice(&t_text);
        out.extend_from_slice(b",\"task\":");
        int(out, task.0);
        out.extend_from_slice(b",\"worker\":");
        out.extend_from_slice(&worker);
        out.extend_from_slice(b"}\n{\"attempts\":1,\"cpu_s\":");
        // An instant task's CPU time is its wall time: one number, twice.
        let at = out.len();
        float(out, wall.as_secs_f64());
        wall_text.clear();
        wall_text.extend_from_slice(&out[at..]);
        out.extend_from_slice(b",\"event\":\"task_finished\",\"line\":");
        string(out, line);
        out.extend_from_slice(b",\"result\":");
        string(out, value);
        out.extend_from_slice(b",\"state\":\"done\",\"t\":");
        out.extend_from_slice(&t_text);
        out.extend_from_slice(b",\"task\":");
        int(out, task.0);
        out.extend_from_slice(b",\"wall_s\":");
        out.extend_from_slice(&wall_text);
        out.extend_from_slice(b",\"worker\":");
        out.extend_from_slice(&worker);
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::event_json;
    use pooltop::engine::{TaskId, WorkerId};
    use std::sync::Arc;

    #[test]
    fn the_lines_are_the_json_streams_byte_for_byte() {
        let mut run = DoneRun::with_capacity(WorkerId(3), TaskId(41), 4);
        run.push("49", Duration::from_nanos(2413), Arc::from("square 7"));
        run.push(
            "",
            Duration::from_millis(1500),
            Arc::from("say \"hi\"\\\t ünï"),
        );
        run.push("1e400", Duration::ZERO, Arc::from("square 123456789"));
        run.push("x", Duration::from_secs(3), Arc::from("sleep 3"));
        let since = Duration::from_nanos(12_345_678_901);
        let mut fast = Vec::new();
        done_run(&mut fast, &run, since);
        let mut slow = Vec::new();
        for ev in run.events() {
            let v = event_json(&ev, since).unwrap();
            serde_json::to_writer(&mut slow, &v).unwrap();
            slow.push(b'\n');
        }
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(slow).unwrap()
        );
    }
}
