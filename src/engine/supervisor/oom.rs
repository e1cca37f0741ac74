//! A worker that died by a SIGKILL that pooltop did not send: most often the
//! kernel's OOM killer, when a built-in task (which runs in the worker
//! itself) used too much memory. The OOM killer's count in the pool's
//! memory cgroup (`platform::oom_kills`) tells whether it was: the count is
//! read when the pool starts and again at each such death, and a rise in
//! between names the OOM killer. (A task's own process that the OOM killer
//! killed is told by its worker, which outlives it: `worker::usage`.)

use crate::engine::events::{ExitHow, WorkerId};
use crate::platform;

/// The OOM killer's count as last read, to compare with at the next death.
pub(super) struct OomWatch {
    seen: Option<u64>,
}

impl OomWatch {
    /// Reads the count as the pool starts.
    pub(super) fn new() -> OomWatch {
        OomWatch {
            seen: platform::oom_kills(),
        }
    }

    /// Worker `w` ended as `how`: the reason its running task failed.
    /// For a crash by SIGKILL, the count is read again and the OOM killer
    /// named when it rose (or suspected when it cannot be read).
    pub(super) fn reason(&mut self, w: WorkerId, how: &ExitHow) -> String {
        if !matches!(
            how,
            ExitHow::Crashed {
                signal: Some(libc::SIGKILL),
                ..
            }
        ) {
            return format!("its worker {w} {how}");
        }
        let now = platform::oom_kills();
        let before = std::mem::replace(&mut self.seen, now);
        sigkill_reason(w, before.zip(now))
    }
}

/// Why a task failed whose worker `w` died by a SIGKILL nobody in pooltop
/// sent, given the OOM killer's count before and after (none: unreadable).
fn sigkill_reason(w: WorkerId, counts: Option<(u64, u64)>) -> String {
    match counts {
        Some((before, after)) if after > before => {
            format!("its worker {w} was killed by the kernel's OOM killer (out of memory)")
        }
        Some(_) => format!("its worker {w} crashed: SIGKILL"),
        None => format!("its worker {w} was killed by SIGKILL (perhaps out of memory)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rise_of_the_count_names_the_oom_killer() {
        let w = WorkerId(3);
        assert_eq!(
            sigkill_reason(w, Some((1, 2))),
            "its worker w3 was killed by the kernel's OOM killer (out of memory)"
        );
        assert_eq!(
            sigkill_reason(w, Some((2, 2))),
            "its worker w3 crashed: SIGKILL"
        );
        assert_eq!(
            sigkill_reason(w, None),
            "its worker w3 was killed by SIGKILL (perhaps out of memory)"
        );
    }

    #[test]
    fn other_ends_are_told_as_they_are() {
        let mut watch = OomWatch { seen: Some(0) };
        let how = ExitHow::Crashed {
            signal: Some(libc::SIGSEGV),
            code: None,
        };
        assert_eq!(
            watch.reason(WorkerId(1), &how),
            "its worker w1 crashed: SIGSEGV"
        );
        assert_eq!(watch.seen, Some(0), "the count is read only for a SIGKILL");
    }
}
