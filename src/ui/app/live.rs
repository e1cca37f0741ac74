//! Live output of the running tasks, as the pool reports it
//! (`PoolEvent::TaskOutput`), for the detail view: stdout and stderr merged
//! in the order they arrived, the last [`LIVE_KEEP`] bytes per task, dropped
//! when the task ends (its report then has its own tails).

use std::collections::HashMap;

use pooltop::engine::events::TaskId;

/// Bytes of live output kept per running task.
pub const LIVE_KEEP: usize = 64 * 1024;

/// The running tasks' live output.
#[derive(Debug, Default)]
pub struct LiveOutput {
    by_task: HashMap<TaskId, String>,
}

impl LiveOutput {
    /// Adds output of `task`, dropping its oldest beyond [`LIVE_KEEP`].
    pub fn push(&mut self, task: TaskId, text: &str) {
        let kept = self.by_task.entry(task).or_default();
        kept.push_str(text);
        if kept.len() > LIVE_KEEP {
            let mut cut = kept.len() - LIVE_KEEP;
            while !kept.is_char_boundary(cut) {
                cut += 1;
            }
            kept.drain(..cut);
        }
    }

    /// The task ended (or will run again): its live output goes.
    pub fn forget(&mut self, task: TaskId) {
        self.by_task.remove(&task);
    }

    /// What `task` has written so far, if anything.
    pub fn of(&self, task: TaskId) -> Option<&str> {
        self.by_task.get(&task).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_of_each_task_until_it_ends() {
        let mut l = LiveOutput::default();
        l.push(TaskId(1), "a\n");
        l.push(TaskId(2), "b\n");
        l.push(TaskId(1), &"é".repeat(LIVE_KEEP));
        let one = l.of(TaskId(1)).unwrap();
        assert!(one.len() <= LIVE_KEEP && one.chars().all(|c| c == 'é'));
        l.forget(TaskId(1));
        assert_eq!((l.of(TaskId(1)), l.of(TaskId(2))), (None, Some("b\n")));
    }
}
