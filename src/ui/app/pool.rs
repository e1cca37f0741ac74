//! How pool events change the dashboard: rows, counters and the event log.

use crate::engine::events::{Command, ExitHow, PoolEvent, TaskState};
use crate::ui::fmt;

use super::log::Level;
use super::{App, Effect, Quitting};

impl App {
    pub(super) fn pool_event(&mut self, ev: PoolEvent) -> Option<Effect> {
        let now = self.now;
        match ev {
            PoolEvent::WorkerSpawned { worker, pid } => {
                self.log
                    .push(now, Level::Info, format!("{worker} started (pid {pid})"));
            }
            // The dashboard does not show job slots (yet); the worker table
            // (`App::workers`, fed in `App::update`) has taken in the rest.
            PoolEvent::WorkerSlot { .. } | PoolEvent::WorkerReady { .. } => {}
            PoolEvent::WorkerPaused { worker } => {
                self.log.push(now, Level::Info, format!("{worker} paused"));
            }
            PoolEvent::WorkerResumed { worker } => {
                self.log.push(now, Level::Info, format!("{worker} resumed"));
            }
            PoolEvent::WorkerStopping {
                worker,
                join_timeout,
            } => {
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
                self.tasks.started(task, worker, attempt, ms);
                if attempt > 1 {
                    self.log.push(
                        now,
                        Level::Warn,
                        format!("{task} attempt {attempt} on {worker}"),
                    );
                }
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
            }
            PoolEvent::TaskFinished(report) => {
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
            // The pool's hung detector decides; the worker table shows it.
            PoolEvent::WorkerHung { .. } | PoolEvent::WorkerUnhung { .. } => {}
        }
        None
    }
}
