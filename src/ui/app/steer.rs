//! The tasks pane's orders about one task: cancel, retry, retry every
//! failed one, move to the front. Each aims at the selected task's id (an
//! explicit selection, never the row under a followed window), and is
//! checked against what the pane knows of the task first, so a key that
//! cannot do anything says why instead of sending an order.

use pooltop::engine::events::{Command, TaskId};

use super::tasks::Phase;
use super::{App, Effect};
use crate::ui::focus::Pane;
use crate::ui::msg::Action;
use crate::ui::status::Level;

impl App {
    /// `a` is one of the task orders.
    pub(super) fn steer_task(&mut self, a: Action) -> Option<Effect> {
        if a == Action::RetryFailed {
            let c = self.tasks.counts;
            if c.failed + c.timed_out == 0 {
                self.toast(Level::Info, "no failed or timed-out task to retry");
                return None;
            }
            return Some(Effect::Send(Command::RetryFailed));
        }
        let Some(task) = self.selected_task() else {
            let (up, down) = (self.key_of(Action::Up), self.key_of(Action::Down));
            self.toast(
                Level::Info,
                format!("select a task in the tasks pane first ({up}/{down})"),
            );
            return None;
        };
        let phase = self.tasks.get(task).map(|r| r.phase)?;
        let (cmd, allowed, not_now) = match a {
            Action::CancelTask => (
                Command::CancelTask(task),
                !phase.is_terminal(),
                "has ended: nothing to cancel",
            ),
            Action::RetryTask => (
                Command::RetryTask(task),
                matches!(phase, Phase::Failed | Phase::TimedOut | Phase::Cancelled),
                "has not failed, timed out or been cancelled: nothing to retry",
            ),
            _ => (
                Command::FrontTask(task),
                phase == Phase::Queued,
                "is not queued",
            ),
        };
        if !allowed {
            self.toast(Level::Warn, format!("{task} {not_now}"));
            return None;
        }
        Some(Effect::Send(cmd))
    }

    /// The task the task orders act on: the tasks pane's selection, while
    /// that pane has the focus.
    fn selected_task(&self) -> Option<TaskId> {
        if self.focus != Pane::Tasks {
            return None;
        }
        self.tasks.selected.filter(|t| self.tasks.get(*t).is_some())
    }
}
