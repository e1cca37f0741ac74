//! How the user's intents change the dashboard, and which commands they send.

use crate::ui::layout::Hit;
use crate::ui::msg::{Action, Edit};
use pooltop::engine::events::{Command, Task, WorkerId};

use super::prompt::Prompt;
use super::{App, Effect, Quitting};
use crate::ui::focus::{Mode, Pane};
use crate::ui::status::Level;

impl App {
    pub(super) fn action(&mut self, a: Action) -> Option<Effect> {
        if self.replay_action(a) {
            return None;
        }
        if a == Action::Quit && self.cfg.attached && self.quitting == Quitting::No {
            // Leave the pool running; only this dashboard goes.
            self.detached = true;
            return None;
        }
        if a == Action::Quit || a == Action::StopPool {
            return self.quit();
        }
        match self.mode {
            Mode::Normal => self.normal(a),
            Mode::Help | Mode::Detail => {
                match a {
                    Action::Help | Action::Back => {
                        self.mode = Mode::Normal;
                        self.overlay_scroll = 0;
                    }
                    Action::Up => self.overlay_scroll = self.overlay_scroll.saturating_sub(1),
                    Action::Down => self.overlay_scroll += 1,
                    Action::PageUp => self.overlay_scroll = self.overlay_scroll.saturating_sub(10),
                    Action::PageDown => self.overlay_scroll += 10,
                    _ => {}
                }
                None
            }
            // Prompts take edits, not actions.
            Mode::Submit | Mode::Filter => None,
        }
    }

    pub(super) fn quit(&mut self) -> Option<Effect> {
        self.mode = Mode::Normal;
        match self.quitting {
            Quitting::No => {
                self.quitting = Quitting::Graceful;
                let q = self.key_of(Action::Quit);
                self.log.push(
                    self.now,
                    Level::Warn,
                    format!("shutting down: workers get the join timeout ({q} again kills)"),
                );
                Some(Effect::Send(Command::Shutdown))
            }
            Quitting::Graceful => {
                self.quitting = Quitting::Killing;
                self.log
                    .push(self.now, Level::Warn, "killing every worker now");
                Some(Effect::Send(Command::KillAll))
            }
            Quitting::Killing => None,
        }
    }

    fn normal(&mut self, a: Action) -> Option<Effect> {
        if self.timeline_action(a) {
            return None;
        }
        let areas = self.areas();
        match a {
            Action::Up => self.move_sel(-1),
            Action::Down => self.move_sel(1),
            Action::PageUp => self.move_sel(-(self.page() as isize)),
            Action::PageDown => self.move_sel(self.page() as isize),
            Action::Home => self.move_sel(isize::MIN / 2),
            Action::End => {
                if self.focus == Pane::Tasks {
                    self.tasks.follow();
                } else {
                    self.move_sel(isize::MAX / 2);
                }
            }
            Action::NextPane => self.focus = self.focus.next(),
            Action::PrevPane => self.focus = self.focus.prev(),
            Action::Submit => {
                self.mode = Mode::Submit;
                self.submit = Prompt::default();
                self.submit_error = None;
            }
            Action::Filter => {
                self.mode = Mode::Filter;
                self.filter = Prompt::with(&self.tasks.filter);
            }
            Action::Help => {
                self.mode = Mode::Help;
                self.overlay_scroll = 0;
            }
            Action::Detail => {
                let task = match self.focus {
                    Pane::Workers => self
                        .selected_worker()
                        .and_then(|id| self.workers.row(id))
                        .and_then(|r| r.task.as_ref().map(|h| h.task)),
                    _ => self.tasks.focus_task(areas.task_rows()),
                };
                match task {
                    Some(t) => {
                        self.detail = Some(t);
                        self.mode = Mode::Detail;
                        self.overlay_scroll = 0;
                    }
                    None => self.toast(Level::Info, "no task here to show"),
                }
            }
            Action::Back => {
                if !self.tasks.filter.is_empty() {
                    self.tasks.set_filter("", self.now);
                } else if self.tasks.selected.is_some() {
                    self.tasks.follow();
                }
            }
            Action::ToggleDispatch => {
                let cmd = if self.dispatch_paused {
                    Command::ResumeDispatch
                } else {
                    Command::PauseDispatch
                };
                return Some(Effect::Send(cmd));
            }
            Action::ScaleUp => {
                self.target_workers += 1;
                return Some(Effect::Send(Command::Scale(self.target_workers)));
            }
            Action::ScaleDown => {
                if self.target_workers <= 1 {
                    self.toast(Level::Warn, "the pool keeps at least one worker");
                    return None;
                }
                self.target_workers -= 1;
                return Some(Effect::Send(Command::Scale(self.target_workers)));
            }
            Action::TogglePause => return self.toggle_pause(),
            Action::Terminate => return self.terminate(false),
            Action::Kill => return self.terminate(true),
            Action::CancelTask | Action::RetryTask | Action::RetryFailed | Action::FrontTask => {
                return self.steer_task(a);
            }
            Action::Quit | Action::StopPool => return self.quit(),
            // The timeline and the replay took theirs above.
            _ => {}
        }
        None
    }

    /// The first key bound to `action`, for messages that name it.
    pub fn key_of(&self, action: Action) -> String {
        self.keys
            .first_key(action)
            .unwrap_or_else(|| crate::ui::keymap::name(action).to_string())
    }

    /// The worker the keys act on: the selection.
    pub fn selected_worker(&self) -> Option<WorkerId> {
        self.workers
            .selected
            .filter(|id| self.workers.row(*id).is_some())
    }

    fn toggle_pause(&mut self) -> Option<Effect> {
        let id = self.selected_worker()?;
        let row = self.workers.row(id)?;
        if row.gone.is_some() {
            self.toast(Level::Warn, format!("{id} is gone"));
            return None;
        }
        if row.paused_at.is_some() {
            return Some(Effect::Send(Command::Resume(id)));
        }
        if self.workers.is_stopping(row) {
            self.toast(Level::Warn, format!("{id} is stopping: not paused"));
            return None;
        }
        Some(Effect::Send(Command::Pause(id)))
    }

    fn terminate(&mut self, kill: bool) -> Option<Effect> {
        let id = self.selected_worker()?;
        let row = self.workers.row(id)?;
        if row.gone.is_some() {
            self.toast(Level::Warn, format!("{id} is already gone"));
            return None;
        }
        if kill {
            return Some(Effect::Send(Command::Kill(id)));
        }
        if self.workers.stop_under_way(row) {
            let k = self.key_of(Action::Kill);
            self.toast(
                Level::Info,
                format!("{id} is already stopping ({k} kills now)"),
            );
            return None;
        }
        self.workers.stop_sent(id);
        Some(Effect::Send(Command::Terminate(id)))
    }

    fn page(&self) -> usize {
        let a = self.areas();
        match self.focus {
            Pane::Workers => a.worker_rows(),
            Pane::Tasks => a.task_rows(),
            Pane::Log => a.log_rows(),
        }
        .max(1)
    }

    fn move_sel(&mut self, delta: isize) {
        let a = self.areas();
        match self.focus {
            Pane::Workers => {
                self.workers.move_by(delta);
                self.workers.ensure_visible(a.worker_rows());
            }
            Pane::Tasks => self.tasks.move_by(delta, a.task_rows()),
            Pane::Log => self.log.scroll_by(delta),
        }
    }

    pub(super) fn edit(&mut self, e: Edit) -> Option<Effect> {
        match self.mode {
            Mode::Submit => self.edit_submit(e),
            Mode::Filter => {
                match e {
                    Edit::Confirm => self.mode = Mode::Normal,
                    Edit::Cancel => {
                        self.mode = Mode::Normal;
                        self.filter = Prompt::default();
                        self.tasks.set_filter("", self.now);
                    }
                    e => {
                        if self.filter.edit(e) {
                            let text = self.filter.text.clone();
                            self.tasks.set_filter(&text, self.now);
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }

    fn edit_submit(&mut self, e: Edit) -> Option<Effect> {
        match e {
            Edit::Cancel => {
                self.mode = Mode::Normal;
                None
            }
            Edit::Confirm => {
                if self.submit.text.trim().is_empty() {
                    self.submit_error = Some("type a task line, e.g. `spin 1e8`".into());
                    return None;
                }
                match Task::parse(&self.submit.text) {
                    Ok(task) if self.quitting == Quitting::No && self.refuses_output(&task) => None,
                    Ok(task) => {
                        self.mode = Mode::Normal;
                        self.submit = Prompt::default();
                        self.submit_error = None;
                        if self.quitting != Quitting::No {
                            self.toast(Level::Warn, "shutting down: task not submitted");
                            return None;
                        }
                        Some(Effect::Submit(task))
                    }
                    Err(err) => {
                        self.submit_error = Some(err.reason);
                        None
                    }
                }
            }
            e => {
                if self.submit.edit(e) {
                    self.submit_error = if self.submit.text.trim().is_empty() {
                        None
                    } else {
                        Task::parse(&self.submit.text).err().map(|e| e.reason)
                    };
                }
                None
            }
        }
    }

    /// Whether the task would write a file that a task of the run writes
    /// (the prompt then says so and keeps the line).
    fn refuses_output(&mut self, task: &Task) -> bool {
        let Some(claims) = &self.claims else {
            return false;
        };
        match claims.claim([(&task.spec, "<prompt>".to_string())]) {
            Ok(()) => false,
            Err(errors) => {
                self.submit_error = Some(errors.join("; "));
                true
            }
        }
    }

    pub(super) fn click(&mut self, col: u16, row: u16) {
        if self.mode != Mode::Normal {
            return;
        }
        let a = self.areas();
        match a.hit(col, row) {
            Hit::Worker(n) => {
                self.focus = Pane::Workers;
                if let Some(id) = self.workers.id_at(self.workers.offset + n) {
                    self.workers.selected = Some(id);
                }
            }
            Hit::Task(n) => {
                self.focus = Pane::Tasks;
                let h = a.task_rows();
                let start = self.tasks.window_start(h);
                self.tasks.offset = start;
                if start + n < self.tasks.list_len() {
                    self.tasks.select_pos(start + n, h);
                }
            }
            Hit::Log(_) => self.focus = Pane::Log,
            Hit::Pane(p) => self.focus = p,
            Hit::Nothing => {}
        }
    }

    pub(super) fn wheel(&mut self, col: u16, row: u16, down: bool) {
        if self.mode != Mode::Normal {
            let d = if down { 3 } else { -3isize };
            self.overlay_scroll = self.overlay_scroll.saturating_add_signed(d);
            return;
        }
        let d = if down { 3 } else { -3 };
        let a = self.areas();
        match a.hit(col, row) {
            Hit::Worker(_) | Hit::Pane(Pane::Workers) => {
                self.workers.move_by(d);
                self.workers.ensure_visible(a.worker_rows());
            }
            Hit::Task(_) | Hit::Pane(Pane::Tasks) => self.tasks.move_by(d, a.task_rows()),
            Hit::Log(_) | Hit::Pane(Pane::Log) => self.log.scroll_by(d),
            Hit::Nothing => {}
        }
    }
}
