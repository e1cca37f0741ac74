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

/// The task orders' keys: on the selected task's id, checked first.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::ui::app::{AppConfig, Effect};
    use crate::ui::focus::Pane;
    use crate::ui::msg::Action;
    use crate::ui::testkit::Script;
    use pooltop::engine::events::{PoolEvent, TaskId, TaskState};

    fn script() -> Script {
        let mut s = Script::new(
            AppConfig {
                title: "test".into(),
                workers: 1,
                join_timeout: Duration::from_secs(5),
                task_timeout: None,
                exit_when_done: false,
                attached: false,
            },
            100,
            30,
        );
        s.worker(1, 101);
        s
    }

    fn sent(e: Option<Effect>) -> Option<String> {
        match e {
            Some(Effect::Send(c)) => Some(format!("{c:?}")),
            _ => None,
        }
    }

    /// Three tasks: #1 running, #2 and #3 queued; the tasks pane focused.
    fn three_tasks() -> Script {
        let mut s = script();
        s.queue(&["sleep 9", "sleep 1", "fail x"]);
        s.start(1, 1);
        s.app.focus = Pane::Tasks;
        s
    }

    #[test]
    fn task_keys_need_a_selected_task_and_say_so() {
        let mut s = three_tasks();
        assert_eq!(sent(s.press("c")), None, "nothing selected: nothing sent");
        let toast = s.app.toast.clone().expect("a toast").0;
        assert!(toast.contains("select a task"), "{toast}");
        s.app.focus = Pane::Workers;
        s.app.tasks.selected = Some(TaskId(2));
        assert_eq!(sent(s.press("c")), None, "only in the tasks pane");
    }

    #[test]
    fn cancel_and_front_aim_at_the_selected_task_id() {
        let mut s = three_tasks();
        s.press("Down"); // the oldest unfinished task: #1
        assert_eq!(s.app.tasks.selected, Some(TaskId(1)));
        assert_eq!(sent(s.press("c")).as_deref(), Some("CancelTask(TaskId(1))"));
        assert_eq!(sent(s.press("f")), None, "a running task is not queued");
        s.press("Down");
        assert_eq!(s.app.tasks.selected, Some(TaskId(2)));
        assert_eq!(sent(s.press("f")).as_deref(), Some("FrontTask(TaskId(2))"));
        // The selection is the id: a task that ends keeps it.
        s.finish(
            1,
            1,
            TaskState::Cancelled,
            "",
            Some("cancelled by the user"),
            0.1,
        );
        assert_eq!(sent(s.press("c")).as_deref(), Some("CancelTask(TaskId(2))"));
        s.press("Up");
        assert_eq!(sent(s.press("c")), None, "#1 has ended");
        assert!(s.app.toast.clone().unwrap().0.contains("has ended"));
    }

    #[test]
    fn retry_takes_an_ended_unsuccessful_task_and_retry_failed_any() {
        let mut s = three_tasks();
        assert_eq!(sent(s.press("R")), None, "no failed task yet");
        s.finish(1, 1, TaskState::Done, "", None, 0.1);
        s.start(3, 1)
            .finish(3, 1, TaskState::Failed, "", Some("x"), 0.1);
        s.app.tasks.selected = Some(TaskId(1));
        assert_eq!(sent(s.press("r")), None, "a done task is not retried");
        s.app.tasks.selected = Some(TaskId(3));
        assert_eq!(sent(s.press("r")).as_deref(), Some("RetryTask(TaskId(3))"));
        assert_eq!(sent(s.press("R")).as_deref(), Some("RetryFailed"));
        // The pool's answer: #3 retried as #4, a task of its own.
        s.msg(PoolEvent::TaskRetried {
            task: TaskId(3),
            retry: TaskId(4),
        });
        s.msg(PoolEvent::TasksQueued {
            first: TaskId(4),
            count: 1,
            lines: vec!["fail x".into()],
        });
        assert_eq!(s.app.tasks.counts.queued, 2, "#2 and the retry #4");
        assert_eq!(s.app.tasks.counts.failed, 1, "#3 stays failed");
    }

    #[test]
    fn the_task_keys_are_in_the_footer_and_remappable() {
        let names: Vec<&str> = crate::ui::keymap::ACTIONS.iter().map(|e| e.name).collect();
        for name in ["cancel_task", "retry_task", "retry_failed", "front_task"] {
            assert!(names.contains(&name), "{name}");
        }
        for a in [
            Action::CancelTask,
            Action::RetryTask,
            Action::RetryFailed,
            Action::FrontTask,
        ] {
            assert!(crate::ui::keymap::FOOTER.contains(&a), "{a:?}");
        }
    }
}
