//! `pooltop logs`, the pool's side: the output of the running tasks (from
//! their `PoolEvent::TaskOutput`s) and of the latest ended ones (from their
//! reports), and the stream that follows it to one client.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Write};
use std::sync::mpsc;

use super::view::Shared;
use super::wire::Reply;
use pooltop::engine::{PoolEvent, TaskId};
use pooltop::ipc::Stream;
use pooltop::protocol::frame;

/// Bytes kept per stream of each running task: the tail.
const KEEP: usize = 64 * 1024;
/// How many ended tasks' output is kept for `pooltop logs TASK`.
const ENDED_KEPT: usize = 256;
/// Output events a follower may fall behind by before it is dropped.
const FOLLOW_BACKLOG: usize = 10_000;

/// One task's output: worker, stdout, stderr.
#[derive(Debug, Clone, Default)]
pub struct TaskLog {
    pub worker: u32,
    pub out: [String; 2],
}

/// Output of the running tasks and of the last [`ENDED_KEPT`] ended ones.
#[derive(Debug, Default)]
pub struct Logs {
    running: BTreeMap<TaskId, TaskLog>,
    ended: VecDeque<(TaskId, TaskLog)>,
}

impl Logs {
    pub fn observe(&mut self, ev: &PoolEvent) {
        match ev {
            PoolEvent::TaskStarted { task, worker, .. } => {
                self.running.insert(
                    *task,
                    TaskLog {
                        worker: worker.0,
                        ..TaskLog::default()
                    },
                );
            }
            PoolEvent::TaskOutput {
                task,
                worker,
                stderr,
                text,
            } => {
                let log = self.running.entry(*task).or_default();
                log.worker = worker.0;
                let kept = &mut log.out[usize::from(*stderr)];
                kept.push_str(text);
                if kept.len() > KEEP {
                    let mut cut = kept.len() - KEEP;
                    while !kept.is_char_boundary(cut) {
                        cut += 1;
                    }
                    kept.drain(..cut);
                }
            }
            PoolEvent::TaskFinished(r) => {
                self.running.remove(&r.task);
                if r.attempts == 0 {
                    return;
                }
                let log = TaskLog {
                    worker: r.worker.map_or(0, |w| w.0),
                    out: [r.output.stdout.clone(), r.output.stderr.clone()],
                };
                if self.ended.len() == ENDED_KEPT {
                    self.ended.pop_front();
                }
                self.ended.push_back((r.task, log));
            }
            _ => {}
        }
    }

    /// What task `task` wrote, and whether it runs still.
    pub fn of(&self, task: TaskId) -> Option<(&TaskLog, bool)> {
        if let Some(log) = self.running.get(&task) {
            return Some((log, true));
        }
        self.ended
            .iter()
            .rev()
            .find(|(t, _)| *t == task)
            .map(|(_, log)| (log, false))
    }
}

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
