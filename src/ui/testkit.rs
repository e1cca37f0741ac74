//! A scripted pool for tests and benches: builds pool events and monitor
//! samples and feeds them to an [`App`] on a fake clock, so every duration on
//! screen is exact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pooltop::engine::events::{PoolEvent, TaskId, TaskReport, TaskState, WorkerId};
use pooltop::engine::monitor::{ProcStat, Sample, WorkerStat};
use pooltop::task::TaskOutput;

use super::app::{App, AppConfig, Effect};
use super::msg::Msg;
use super::theme::Theme;

/// An app on a fake clock.
pub struct Script {
    pub app: App,
    pub t0: Instant,
    next_task: u64,
}

impl Script {
    /// A dashboard sized `w`×`h`, with `cfg`, at time zero.
    pub fn new(cfg: AppConfig, w: u16, h: u16) -> Script {
        let t0 = Instant::now();
        let mut app = App::new(cfg, Theme::COLOR, t0);
        app.update(Msg::Resize {
            width: w,
            height: h,
        });
        Script {
            app,
            t0,
            next_task: 1,
        }
    }

    /// Moves the clock to `secs` after the start.
    pub fn at(&mut self, secs: f64) -> &mut Script {
        self.app.set_now(self.t0 + Duration::from_secs_f64(secs));
        self
    }

    /// Feeds a message.
    pub fn msg(&mut self, m: impl Into<Msg>) -> Option<Effect> {
        self.app.update(m.into())
    }

    /// Presses a key, spelt as the config file spells it (`"x"`,
    /// `"Ctrl-c"`, `"F1"`), through the app's keymap; `None` when the key
    /// means nothing in the current mode (or does nothing).
    pub fn press(&mut self, key: &str) -> Option<Effect> {
        use ratatui::crossterm::event::{Event, KeyEvent, KeyModifiers};
        let k = super::keys::Key::parse(key).unwrap_or_else(|| panic!("{key} is not a key"));
        let mut mods = KeyModifiers::NONE;
        if k.ctrl {
            mods |= KeyModifiers::CONTROL;
        }
        if k.alt {
            mods |= KeyModifiers::ALT;
        }
        if key.chars().count() == 1 && key.chars().all(char::is_uppercase) {
            mods |= KeyModifiers::SHIFT;
        }
        let msg = self
            .app
            .keys
            .lookup(self.app.mode, &Event::Key(KeyEvent::new(k.code, mods)))?;
        self.app.update(msg)
    }

    /// A worker spawned and ready.
    pub fn worker(&mut self, id: u32, pid: u32) -> &mut Script {
        let worker = WorkerId(id);
        self.msg(PoolEvent::WorkerSpawned { worker, pid });
        self.msg(PoolEvent::WorkerReady { worker, pid });
        self
    }

    /// Submits and queues these task lines; returns the first id.
    pub fn queue<S: AsRef<str>>(&mut self, lines: &[S]) -> TaskId {
        let first = TaskId(self.next_task);
        self.next_task += lines.len() as u64;
        let lines: Vec<Arc<str>> = lines.iter().map(|l| Arc::from(l.as_ref())).collect();
        self.app.submitted(first, lines.iter().cloned());
        self.msg(PoolEvent::TasksQueued {
            first,
            count: lines.len(),
            lines,
        });
        first
    }

    /// Queues `n` tasks `square 1 … square n` in one go.
    pub fn queue_many(&mut self, n: usize) -> TaskId {
        let first = TaskId(self.next_task);
        self.next_task += n as u64;
        let lines: Vec<Arc<str>> = (1..=n).map(|i| Arc::from(format!("square {i}"))).collect();
        self.app.submitted(first, lines.iter().cloned());
        self.msg(PoolEvent::TasksQueued {
            first,
            count: n,
            lines,
        });
        first
    }

    /// Task `task` starts on worker `w`.
    pub fn start(&mut self, task: u64, w: u32) -> &mut Script {
        let line = self
            .app
            .tasks
            .get(TaskId(task))
            .map_or_else(|| Arc::from("?"), |r| r.line.clone());
        self.msg(PoolEvent::TaskStarted {
            task: TaskId(task),
            worker: WorkerId(w),
            attempt: 1,
            line,
        });
        self
    }

    /// Task `task` ends on worker `w`.
    pub fn finish(
        &mut self,
        task: u64,
        w: u32,
        state: TaskState,
        value: &str,
        error: Option<&str>,
        wall: f64,
    ) -> &mut Script {
        let line = self
            .app
            .tasks
            .get(TaskId(task))
            .map_or_else(|| Arc::from("?"), |r| r.line.clone());
        self.msg(PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(task),
            worker: Some(WorkerId(w)),
            state,
            output: TaskOutput {
                value: value.into(),
                ..Default::default()
            },
            error: error.map(String::from),
            wall: Duration::from_secs_f64(wall),
            cpu: Duration::from_secs_f64(wall * 0.9),
            max_rss: Some(48 << 20),
            attempts: 1,
            line,
        })));
        self
    }

    /// A monitor sample: core loads and (pid, cpu %, rss MiB) per process.
    pub fn sample(&mut self, cores: &[f32], procs: &[(u32, f32, u64)]) -> &mut Script {
        // Figures are given by pid; the sample names the worker of each.
        let workers: Vec<WorkerStat> = procs
            .iter()
            .filter_map(|&(pid, cpu, mib)| {
                let row = self.app.workers.rows().find(|r| r.pid == pid)?;
                Some(WorkerStat {
                    worker: row.id,
                    pid,
                    stat: ProcStat {
                        cpu,
                        rss: mib * 1024 * 1024,
                        procs: 1,
                    },
                })
            })
            .collect();
        self.msg(Msg::Sample(Sample {
            cores: cores.to_vec(),
            workers,
            own: ProcStat {
                cpu: 0.4,
                rss: 9 * 1024 * 1024,
                procs: 1,
            },
            monitor_cpu: 0.1,
            cost: Duration::from_micros(300),
            hosts: Vec::new(),
        }));
        self
    }
}
