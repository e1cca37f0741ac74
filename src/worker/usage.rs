//! What a task used, from the kernel, and why a task killed by SIGKILL
//! died: peak RSS for the task's report, and the OOM killer named when it
//! was the one.
//!
//! A task that ran a process (shell, template, anything through
//! `capture`) reports that process's peak as `wait4` gave it; a built-in
//! task, which runs in the worker itself, the worker's own peak (VmHWM),
//! reset before the task so it is this task's. Instant tasks are not
//! measured: the system calls would cost more than the task.

use crate::platform;
use crate::task::{TaskOutcome, TaskSpec};

use super::capture;

/// What a task killed by SIGKILL is told when the OOM killer's count in
/// the worker's memory cgroup moved meanwhile.
pub const OOM_KILLED: &str = "killed by the kernel's OOM killer (out of memory)";
/// When that count cannot be read (no memory cgroup visible).
pub const MAYBE_OOM: &str = "killed by SIGKILL (perhaps out of memory)";

/// The readings taken before a task, to compare with after it.
pub(super) struct Meter {
    /// Not measured at all (an instant task).
    off: bool,
    /// The worker's peak RSS was reset: after the task it is the task's.
    peak_reset: bool,
    /// The OOM killer's count before the task, if readable.
    oom_before: Option<u64>,
}

impl Meter {
    /// Takes the readings before `spec` runs.
    pub(super) fn start(spec: &TaskSpec) -> Meter {
        if spec.is_instant() {
            return Meter {
                off: true,
                peak_reset: false,
                oom_before: None,
            };
        }
        // A reading left over from an earlier task is not this task's.
        let _ = capture::take_child_usage();
        // A task that runs a process is measured by `wait4`, and its process
        // may be the OOM killer's victim; a built-in task by the worker's
        // own peak (were it the victim, the worker is gone: the manager
        // tells). Each reading costs a file in /proc or /sys: only the ones
        // the task needs.
        let runs_process = matches!(spec, TaskSpec::Shell(_) | TaskSpec::Exec(_));
        // A `py` task's interpreter reports its own figures (`python::run`);
        // if the OOM killer takes it, the worker dies the same way.
        let reported = matches!(spec, TaskSpec::Py(_));
        Meter {
            off: false,
            peak_reset: !runs_process && !reported && platform::reset_peak_rss(),
            oom_before: if runs_process {
                platform::oom_kills()
            } else {
                None
            },
        }
    }

    /// The task ended with `outcome`: its peak RSS in bytes (none when not
    /// measured or not known), and its error told as out of memory when a
    /// SIGKILL came from the OOM killer.
    pub(super) fn finish(&self, outcome: &mut TaskOutcome) -> Option<u64> {
        if self.off {
            return None;
        }
        let max_rss = match capture::take_child_usage() {
            Some(child) => Some(child.max_rss),
            None if self.peak_reset => platform::peak_rss(),
            None => None,
        };
        if let TaskOutcome::Err { message, output } = outcome {
            // Killed itself, or a shell whose command was (exit status 137).
            let by_signal = output.exit_code.is_none() && output.signal == Some(libc::SIGKILL);
            let by_child = output.exit_code == Some(128 + libc::SIGKILL);
            if by_signal || by_child {
                match self
                    .oom_before
                    .map(|before| (before, platform::oom_kills()))
                {
                    Some((before, Some(after))) if after > before => *message = OOM_KILLED.into(),
                    // An exit status stays as it is: it says what the shell said.
                    None | Some((_, None)) if by_signal => *message = MAYBE_OOM.into(),
                    _ => {}
                }
            }
        }
        max_rss
    }
}
