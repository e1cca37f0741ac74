//! The results of the pool's most recently finished tasks, for `pooltop
//! wait --results`: bounded, so a long run does not fill the manager's
//! memory with results nobody asks for. Older results are let go first; a
//! wait for one of them says it is no longer kept.

use std::collections::{BTreeMap, VecDeque};

use crate::report::results::Shown;
use pooltop::engine::{DoneRun, PoolEvent, TaskId};
use pooltop::task::RunValues;

/// Results kept at most, in tasks.
pub const KEPT_TASKS: usize = 10_000;
/// Results kept at most, in bytes of text (so the reply fits in a frame).
pub const KEPT_BYTES: usize = 4 * 1024 * 1024;

/// One finished task's result, or a run of instant tasks' values (they
/// become lines only when someone asks, with the lines the view keeps).
#[derive(Debug)]
enum Kept {
    One(Shown),
    Run { first: u64, values: RunValues },
}

impl Kept {
    fn tasks(&self) -> usize {
        match self {
            Kept::One(_) => 1,
            Kept::Run { values, .. } => values.len(),
        }
    }

    fn size(&self) -> usize {
        match self {
            Kept::One(s) => s.size(),
            Kept::Run { values, .. } => values.text_len() + 12 * values.len(),
        }
    }

    fn first(&self) -> u64 {
        match self {
            Kept::One(s) => s.task,
            Kept::Run { first, .. } => *first,
        }
    }
}

/// A run's values (without its lines, which the view keeps anyway).
fn values_of(run: &DoneRun) -> RunValues {
    run.iter().map(|(_, value, _, _)| (value, 0)).collect()
}

/// The last [`KEPT_TASKS`] results (at most [`KEPT_BYTES`]), by task id.
#[derive(Debug, Default)]
pub struct ResultStore {
    /// By the first task id each holds.
    kept: BTreeMap<u64, Kept>,
    /// First task ids, oldest first.
    order: VecDeque<u64>,
    tasks: usize,
    bytes: usize,
}

impl ResultStore {
    /// Keeps the result of each task the event finished.
    pub fn observe(&mut self, ev: &PoolEvent) {
        let kept = match ev {
            PoolEvent::TaskFinished(r) => Kept::One(Shown::of(r)),
            PoolEvent::TasksDone(run) if !run.is_empty() => Kept::Run {
                first: run.first().0,
                values: values_of(run),
            },
            _ => return,
        };
        self.keep(kept);
    }

    fn keep(&mut self, kept: Kept) {
        let first = kept.first();
        self.tasks += kept.tasks();
        self.bytes += kept.size();
        if let Some(old) = self.kept.insert(first, kept) {
            // The same id again (a replay): count it once.
            self.tasks -= old.tasks();
            self.bytes -= old.size();
        } else {
            self.order.push_back(first);
        }
        while (self.tasks > KEPT_TASKS || self.bytes > KEPT_BYTES) && self.order.len() > 1 {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.kept.remove(&oldest) {
                self.tasks -= gone.tasks();
                self.bytes -= gone.size();
            }
        }
    }

    /// Task `id`'s result, if it is still kept; `line` is its task line.
    pub fn get(&self, id: u64, line: &str) -> Option<Shown> {
        let (_, kept) = self.kept.range(..=id).next_back()?;
        match kept {
            Kept::One(s) => (s.task == id).then(|| s.clone()),
            Kept::Run { first, values } => {
                let i = usize::try_from(id - first).ok()?;
                let (value, _) = values.iter().nth(i)?;
                Some(Shown::of_value(TaskId(id), line, value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::engine::{TaskReport, TaskState, WorkerId};
    use std::sync::Arc;
    use std::time::Duration;

    fn finished(id: u64, value: &str) -> PoolEvent {
        PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(id),
            worker: Some(WorkerId(1)),
            state: TaskState::Done,
            output: pooltop::task::TaskOutput {
                value: value.into(),
                ..Default::default()
            },
            error: None,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            attempts: 1,
            max_rss: None,
            line: Arc::from("square 2"),
        }))
    }

    #[test]
    fn keeps_single_results_and_runs_by_id() {
        let mut store = ResultStore::default();
        store.observe(&finished(1, "4"));
        let mut run = DoneRun::with_capacity(WorkerId(1), TaskId(2), 2);
        run.push("9", Duration::ZERO, Arc::from("square 3"));
        run.push("16", Duration::ZERO, Arc::from("square 4"));
        store.observe(&PoolEvent::TasksDone(Box::new(run)));
        assert_eq!(store.get(1, "square 2").unwrap().stdout, "4\n");
        assert_eq!(store.get(3, "square 4").unwrap().stdout, "16\n");
        assert_eq!(store.get(4, "square 5"), None);
    }

    #[test]
    fn lets_the_oldest_go_past_the_bound() {
        let mut store = ResultStore::default();
        for id in 1..=(KEPT_TASKS as u64 + 5) {
            store.observe(&finished(id, "4"));
        }
        assert_eq!(store.get(5, "square 2"), None, "let go");
        assert!(store.get(6, "square 2").is_some());
        assert_eq!(store.tasks, KEPT_TASKS);
        let big = "x".repeat(KEPT_BYTES / 2);
        store.observe(&finished(20_001, &big));
        store.observe(&finished(20_002, &big));
        assert!(store.bytes <= KEPT_BYTES, "{}", store.bytes);
        assert!(store.get(20_002, "square 2").is_some());
    }
}
