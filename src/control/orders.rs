//! Between the engine's [`Command`] and the control wire's [`Order`], both
//! ways: an attached dashboard's command becomes an order on its way out
//! (client side), and an order becomes the commands it stands for when it
//! arrives (server side). The one place that knows how the two line up.

use super::wire::Order;
use pooltop::engine::{Command, TaskId, WorkerId};

/// The order that carries `cmd` over the wire, or none for one that cannot
/// travel (a scale beyond `u32`). Submissions are not commands: they go as a
/// `Request::Submit` of task lines, and the pool numbers the tasks itself.
pub fn order_for(cmd: Command) -> Option<Order> {
    let one = |id: WorkerId| vec![id.0];
    Some(match cmd {
        Command::Pause(id) => Order::Pause { workers: one(id) },
        Command::Resume(id) => Order::Resume { workers: one(id) },
        Command::Terminate(id) => Order::Terminate { workers: one(id) },
        Command::Kill(id) => Order::Kill { workers: one(id) },
        Command::PauseDispatch => Order::PauseDispatch,
        Command::ResumeDispatch => Order::ResumeDispatch,
        Command::CancelQueued => Order::CancelQueued,
        Command::CancelTask(t) => Order::Cancel { tasks: vec![t.0] },
        Command::RetryTask(t) => Order::Retry { tasks: vec![t.0] },
        Command::RetryFailed => Order::RetryFailed,
        Command::FrontTask(t) => Order::Front { task: t.0 },
        Command::Scale(n) => Order::Scale {
            workers: u32::try_from(n).ok()?,
        },
        Command::Shutdown => Order::Stop,
        Command::KillAll => Order::KillAll,
    })
}

/// The commands that carry out `order` on the pool `pool_name`, in order,
/// with the line that tells the client what is happening; or why the order
/// cannot be carried out.
pub fn commands_for(order: Order, pool_name: &str) -> Result<(Vec<Command>, String), String> {
    let each = |ids: Vec<u32>, make: fn(WorkerId) -> Command, verb: &str| {
        let message = format!("{verb} {} worker(s)", ids.len());
        let commands = ids.into_iter().map(|id| make(WorkerId(id))).collect();
        (commands, message)
    };
    Ok(match order {
        Order::Pause { workers } => each(workers, Command::Pause, "pausing"),
        Order::Resume { workers } => each(workers, Command::Resume, "resuming"),
        Order::Terminate { workers } => each(workers, Command::Terminate, "terminating"),
        Order::Kill { workers } => each(workers, Command::Kill, "killing"),
        Order::PauseDispatch => (vec![Command::PauseDispatch], "pausing dispatch".into()),
        Order::ResumeDispatch => (vec![Command::ResumeDispatch], "resuming dispatch".into()),
        Order::CancelQueued => (
            vec![Command::CancelQueued],
            "cancelling queued tasks".into(),
        ),
        Order::Cancel { tasks } => tasks_each(tasks, Command::CancelTask, "cancelling"),
        Order::Retry { tasks } => tasks_each(tasks, Command::RetryTask, "retrying"),
        Order::RetryFailed => (
            vec![Command::RetryFailed],
            "retrying every failed or timed-out task".into(),
        ),
        Order::Front { task } => (
            vec![Command::FrontTask(TaskId(task))],
            format!("moving task #{task} to the front"),
        ),
        Order::Scale { workers: 0 } => return Err("a pool needs at least 1 worker".into()),
        Order::Scale { workers } => (
            vec![Command::Scale(workers as usize)],
            format!("scaling to {workers} worker(s)"),
        ),
        Order::Stop => (
            vec![Command::Shutdown],
            format!("stopping pool `{pool_name}`"),
        ),
        Order::KillAll => (
            vec![Command::KillAll],
            format!("killing pool `{pool_name}` and its workers"),
        ),
    })
}

/// One command per task, and the line saying so.
fn tasks_each(ids: Vec<u64>, make: fn(TaskId) -> Command, verb: &str) -> (Vec<Command>, String) {
    let message = format!("{verb} {} task(s)", ids.len());
    (
        ids.into_iter().map(|id| make(TaskId(id))).collect(),
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Command has no PartialEq; its debug text says all of it.
    fn texts(commands: &[Command]) -> Vec<String> {
        commands.iter().map(|c| format!("{c:?}")).collect()
    }

    #[test]
    fn every_order_a_dashboard_gives_arrives_as_the_same_command() {
        let dashboard = [
            Command::Pause(WorkerId(3)),
            Command::Resume(WorkerId(3)),
            Command::Terminate(WorkerId(7)),
            Command::Kill(WorkerId(7)),
            Command::PauseDispatch,
            Command::ResumeDispatch,
            Command::CancelQueued,
            Command::CancelTask(TaskId(4)),
            Command::RetryTask(TaskId(5)),
            Command::RetryFailed,
            Command::FrontTask(TaskId(6)),
            Command::Scale(5),
            Command::Shutdown,
            Command::KillAll,
        ];
        for cmd in dashboard {
            let sent = texts(std::slice::from_ref(&cmd));
            let order = order_for(cmd).unwrap_or_else(|| panic!("{sent:?} cannot travel"));
            let (arrived, _) = commands_for(order, "p").unwrap();
            assert_eq!(texts(&arrived), sent);
        }
    }

    #[test]
    fn a_worker_order_names_each_worker_once_in_order() {
        let (commands, message) = commands_for(
            Order::Terminate {
                workers: vec![4, 2, 9],
            },
            "p",
        )
        .unwrap();
        assert_eq!(
            texts(&commands),
            [
                "Terminate(WorkerId(4))",
                "Terminate(WorkerId(2))",
                "Terminate(WorkerId(9))"
            ]
        );
        assert_eq!(message, "terminating 3 worker(s)");
        let (commands, message) = commands_for(Order::Stop, "batch").unwrap();
        assert_eq!(texts(&commands), ["Shutdown"]);
        assert_eq!(message, "stopping pool `batch`");
    }

    #[test]
    fn a_pool_cannot_be_scaled_to_nothing() {
        let err = commands_for(Order::Scale { workers: 0 }, "p").unwrap_err();
        assert_eq!(err, "a pool needs at least 1 worker");
        assert!(order_for(Command::Scale(usize::MAX)).is_none());
    }
}
