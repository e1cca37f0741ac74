//! The output of a pool's tasks as the control server keeps it for
//! `pooltop logs`: the running tasks' (from their `PoolEvent::TaskOutput`s)
//! and the latest ended ones' (from their reports).

use std::collections::{BTreeMap, VecDeque};

use pooltop::engine::{PoolEvent, TaskId};

/// Bytes kept per stream of each running task: the tail.
const KEEP: usize = 64 * 1024;
/// How many ended tasks' output is kept for `pooltop logs TASK`.
const ENDED_KEPT: usize = 256;

/// One task's output: worker, stdout, stderr.
#[derive(Debug, Clone, Default)]
pub struct TaskLog {
    pub worker: u32,
    pub out: [String; 2],
}

/// Output of the running tasks and of the last [`ENDED_KEPT`] ended ones.
#[derive(Debug, Default)]
pub struct Logs {
    pub running: BTreeMap<TaskId, TaskLog>,
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
