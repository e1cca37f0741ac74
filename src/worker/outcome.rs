//! The plain ways a task ends: with a value and nothing else, or with a
//! message and no output.
//!
//! Every way of running a task (the built-in kinds, starting a process,
//! capturing its output) ends through these, so they live below all of them.
//! Outcomes that carry captured output are built where the output is.

use crate::task::{TaskOutcome, TaskOutput};

/// A success whose only output is `value`.
pub(super) fn ok_value(value: String) -> TaskOutcome {
    TaskOutcome::Ok(TaskOutput {
        value,
        ..TaskOutput::default()
    })
}

/// A failure that says why in `message`, with no output.
pub(super) fn fail(message: String) -> TaskOutcome {
    TaskOutcome::Err {
        message,
        output: TaskOutput::default(),
    }
}

/// [`ok_value`] for a value, [`fail`] for a message.
pub(super) fn value_or_fail(result: Result<String, String>) -> TaskOutcome {
    match result {
        Ok(value) => ok_value(value),
        Err(message) => fail(message),
    }
}
