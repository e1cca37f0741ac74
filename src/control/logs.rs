//! `pooltop logs`, the pool's side: what the view keeps of the tasks'
//! output (see `tails`), and the stream that follows it to one client.

use std::io::{self, Write};
use std::sync::mpsc;

use super::tails::TaskLog;
use super::view::Shared;
use super::wire::Reply;
use pooltop::engine::{PoolEvent, TaskId};
use pooltop::ipc::Stream;
use pooltop::protocol::frame;

/// Output events a follower may fall behind by before it is dropped.
const FOLLOW_BACKLOG: usize = 10_000;

/// Answers a `Request::Logs` on `conn` (see there); returns when it is
/// answered, the followed task ended, the pool stopped or the client left.
pub fn serve(view: &Shared, conn: &Stream, task: Option<u64>, follow: bool) {
    let mut out = io::BufWriter::new(conn);
    let (tx, rx) = mpsc::sync_channel(FOLLOW_BACKLOG);
    // What was written so far, taken with the subscription under one lock:
    // nothing falls between the two.
    let (now, end) = {
        let (v, _) = &**view;
        let mut v = v.lock().unwrap_or_else(|p| p.into_inner());
        if follow && !v.stopped {
            v.follow(tx);
        }
        match task {
            None => {
                let all: Vec<(TaskId, TaskLog)> = v
                    .logs
                    .running
                    .iter()
                    .map(|(t, l)| (*t, l.clone()))
                    .collect();
                let end = (!follow || v.stopped).then(|| done(all.len(), "running task(s)"));
                (all, end)
            }
            Some(id) => match v.logs.of(TaskId(id)) {
                Some((log, running)) => {
                    let end = (!running || !follow || v.stopped).then(|| Reply::Done {
                        message: if running {
                            format!("task #{id} is running")
                        } else {
                            format!("task #{id} has ended")
                        },
                    });
                    (vec![(TaskId(id), log.clone())], end)
                }
                None if v.finished(id).is_some() => (
                    Vec::new(),
                    Some(Reply::Error {
                        message: format!("task #{id} has ended; its output is no longer kept"),
                    }),
                ),
                None if id == 0 || id > v.counts().submitted => (
                    Vec::new(),
                    Some(Reply::Error {
                        message: format!("no task #{id} in this pool"),
                    }),
                ),
                // Queued: it has no output yet; followed, it will.
                None => (
                    Vec::new(),
                    (!follow || v.stopped).then(|| Reply::Done {
                        message: format!("task #{id} has not started"),
                    }),
                ),
            },
        }
    };
    for (t, log) in now {
        for (i, text) in log.out.iter().enumerate() {
            if !text.is_empty() && send(&mut out, output(t, log.worker, i == 1, text)).is_err() {
                return;
            }
        }
    }
    if let Some(end) = end {
        let _ = send(&mut out, end);
        let _ = out.flush();
        return;
    }
    let _ = out.flush();
    while let Ok(ev) = rx.recv() {
        let reply = match ev {
            PoolEvent::TaskOutput {
                task: t,
                worker,
                stderr,
                text,
            } if task.is_none_or(|id| id == t.0) => output(t, worker.0, stderr, &text),
            PoolEvent::TaskFinished(r) if task == Some(r.task.0) => Reply::Done {
                message: format!("task {} ended {}", r.task, r.state.as_str()),
            },
            PoolEvent::Stopped(_) => Reply::Done {
                message: "the pool stopped".into(),
            },
            _ => continue,
        };
        let last = matches!(reply, Reply::Done { .. });
        if send(&mut out, reply).is_err() || out.flush().is_err() || last {
            return;
        }
    }
}

fn output(task: TaskId, worker: u32, stderr: bool, text: &str) -> Reply {
    Reply::Output {
        task: task.0,
        worker,
        stderr,
        text: text.to_string(),
    }
}

fn done(n: usize, what: &str) -> Reply {
    Reply::Done {
        message: format!("{n} {what}"),
    }
}

fn send(out: &mut impl Write, reply: Reply) -> io::Result<()> {
    frame::write_frame(out, &reply)
}
