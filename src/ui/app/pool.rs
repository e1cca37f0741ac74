//! How pool events change the dashboard: rows, counters and the event log.

use crate::engine::events::{Command, ExitHow, PoolEvent, TaskState};
use crate::ui::fmt;

use super::log::Level;
use super::workers::{Held, Stopping};
use super::{App, Effect, Quitting};

impl App {
    pub(super) fn pool_event(&mut self, ev: PoolEvent) -> Option<Effect> {
        let now = self.now;
        match ev {
            PoolEvent::WorkerSpawned { worker, pid } => {
                self.workers.spawned(worker, pid, now);
                self.log
                    .push(now, Level::Info, format!("{worker} started (pid {pid})"));
            }
            // The dashboard does not show job slots (yet).
            PoolEvent::WorkerSlot { .. } => {}
            PoolEvent::WorkerReady { worker, pid } => {
                let row = self.workers.entry(worker, now);
                row.pid = Some(pid);
                row.ready = true;
            }
            PoolEvent::WorkerPaused { worker } => {
                self.workers.entry(worker, now).paused_at = Some(now);
                self.log.push(now, Level::Info, format!("{worker} paused"));
            }
            PoolEvent::WorkerResumed { worker } => {
                let row = self.workers.entry(worker, now);
                if let (Some(at), Some(h)) = (row.paused_at.take(), row.task.as_mut()) {
                    h.paused_for += now.saturating_duration_since(at.max(h.started));
                }
                self.log.push(now, Level::Info, format!("{worker} resumed"));
            }
            PoolEvent::WorkerStopping {
                worker,
                join_timeout,
            } => {
                self.workers.entry(worker, now).stopping = Some(Stopping {
                    deadline: join_timeout.map(|t| now + t),
                    pending: false,
                });
                let text = match join_timeout {
                    Some(t) => format!("{worker} stopping (killed after {})", fmt::dur(t)),
                    None => format!("{worker} retiring after its task"),
                };
                self.log.push(now, Level::Info, text);
            }
            PoolEvent::WorkerExited { worker, pid, how } => {
                let level = match how {
                    ExitHow::Exited(_) => Level::Info,
                    ExitHow::Killed { .. } => Level::Warn,
                    ExitHow::Crashed { .. } => Level::Error,
                };
                self.log
                    .push(now, level, format!("{worker} (pid {pid}) {how}"));
                let row = self.workers.entry(worker, now);
                row.gone = Some((how, now));
                row.hung_since = None;
                row.stopping = None;
                row.paused_at = None;
                row.task = None;
            }
            PoolEvent::TasksQueued {
                first,
                count,
                lines,
            } => {
                // Known already when this dashboard submitted them; news when
                // they came from elsewhere (a task file, `pooltop submit`).
                self.tasks.submitted(first, lines);
                self.tasks.queued(first, count);
                let last = first.0 + count as u64 - 1;
                let text = if count == 1 {
                    format!("queued {first}")
                } else {
                    format!("queued {count} tasks ({first}..#{last})")
                };
                self.log.push(now, Level::Info, text);
                self.drained = None;
            }
            PoolEvent::TaskStarted {
                task,
                worker,
                attempt,
                ..
            } => {
                let ms = self.ms_since_start();
                let line = self.tasks.started(task, worker, attempt, ms);
                if attempt > 1 {
                    self.log.push(
                        now,
                        Level::Warn,
                        format!("{task} attempt {attempt} on {worker}"),
                    );
                }
                let row = self.workers.entry(worker, now);
                row.ready = true;
                row.task = Some(Held {
                    task,
                    line,
                    attempt,
                    started: now,
                    paused_for: Default::default(),
                });
            }
            PoolEvent::TaskRetrying {
                task,
                worker,
                reason,
            } => {
                self.tasks.retrying(task);
                self.log.push(
                    now,
                    Level::Warn,
                    format!("{task} will retry ({worker}: {reason})"),
                );
                let row = self.workers.entry(worker, now);
                if row.task.as_ref().is_some_and(|h| h.task == task) {
                    row.task = None;
                }
            }
            PoolEvent::TaskFinished(report) => {
                if let Some(row) = report.worker.and_then(|w| self.workers.rows.get_mut(&w)) {
                    if row.task.as_ref().is_some_and(|h| h.task == report.task) {
                        row.task = None;
                    }
                    match report.state {
                        TaskState::Done => row.done += 1,
                        TaskState::Failed | TaskState::TimedOut => row.failed += 1,
                        TaskState::Cancelled => {}
                    }
                }
                let on = report
                    .worker
                    .map(|w| format!(" on {w}"))
                    .unwrap_or_default();
                match report.state {
                    TaskState::Failed => self.log.push(
                        now,
                        Level::Error,
                        format!(
                            "{} failed{on}: {}",
                            report.task,
                            fmt::first_line(report.error.as_deref().unwrap_or("?"))
                        ),
                    ),
                    TaskState::TimedOut => {
                        self.log
                            .push(now, Level::Error, format!("{} timed out{on}", report.task))
                    }
                    // Done and cancelled tasks are counted, not logged one by
                    // one (a shutdown may cancel a million).
                    TaskState::Done | TaskState::Cancelled => {}
                }
                self.tasks.finished(report);
            }
            // Each task keeps its row and its report for the detail view.
            PoolEvent::TasksDone(run) => {
                for each in run.events() {
                    self.pool_event(each);
                }
            }
            PoolEvent::DispatchPaused(paused) => {
                self.dispatch_paused = paused;
                let text = if paused {
                    "dispatch paused: no new task starts"
                } else {
                    "dispatch resumed"
                };
                self.log.push(now, Level::Info, text);
            }
            PoolEvent::Scaled { workers } => {
                self.target_workers = workers;
                self.log.push(
                    now,
                    Level::Info,
                    format!("pool scaled to {workers} workers"),
                );
            }
            PoolEvent::Error { worker, message } => {
                let who = worker.map(|w| format!("{w}: ")).unwrap_or_default();
                self.log
                    .push(now, Level::Error, format!("error: {who}{message}"));
            }
            PoolEvent::Drained(counts) => {
                self.drained = Some(counts);
                self.log.push(
                    now,
                    Level::Info,
                    format!("all {} tasks finished", counts.finished()),
                );
                if self.cfg.exit_when_done && self.quitting == Quitting::No {
                    self.quitting = Quitting::Graceful;
                    return Some(Effect::Send(Command::Shutdown));
                }
            }
            PoolEvent::Stopped(counts) => {
                if counts.cancelled > 0 {
                    self.log.push(
                        now,
                        Level::Warn,
                        format!("{} tasks cancelled", counts.cancelled),
                    );
                }
                self.log.push(now, Level::Info, "pool stopped");
                self.stopped = Some(counts);
            }
            PoolEvent::Sample(sample) => self.sample(&sample),
            // The pool's hung detector decides; the row shows it.
            PoolEvent::WorkerHung { worker, idle, .. } => {
                self.workers.hung(worker, Some(idle), now)
            }
            PoolEvent::WorkerUnhung { worker, .. } => self.workers.hung(worker, None, now),
        }
        None
    }
}
