//! Workers as Slurm tasks, started with `srun` (`pooltop run --slurm`).
//!
//! Inside an allocation (`SLURM_JOB_ID` set: a batch script, `salloc`) each
//! worker is one step of it, `--exact` so that a step holds only its own CPU
//! and steps run side by side instead of one taking the whole allocation;
//! outside, each worker is a job of its own, which Slurm may queue — the
//! worker shows as *pending* until Slurm starts it. Always `-u`: without it
//! srun relays the task's output line by line, and frames, which need not
//! end in a newline, stall (`../shared/SCALE-OUT.md` §2.1).
//!
//! The srun options a user would add (partition, time limit, memory,
//! account) are srun's own input environment variables (`SLURM_PARTITION`,
//! `SLURM_TIMELIMIT`, `SLURM_MEM_PER_CPU`, `SLURM_ACCOUNT` …), which srun
//! reads itself; pooltop passes its environment on.
//!
//! Every option is one word (`--jobid=J`, not `--jobid J`), so a stand-in
//! `srun` can drop the words that start with `-` and run the rest.

use std::sync::Arc;

use super::{CommandLauncher, Launcher};

/// Set inside an allocation: the job whose steps the workers become.
pub const JOB_ID: &str = "SLURM_JOB_ID";

/// What the workers' host is called until each says which node it landed
/// on (in its handshake: `SLURMD_NODENAME`, see `worker::stdio`).
pub const HOST: &str = "slurm";

/// The launcher for `--slurm`: steps of `allocation` when given (the value
/// of [`JOB_ID`]), else one job per worker.
pub fn launcher(allocation: Option<&str>) -> Launcher {
    let mut words: Vec<String> = ["srun", "-u", "-n1", "-N1"].map(String::from).into();
    if let Some(job) = allocation {
        words.push("--exact".into());
        words.push(format!("--jobid={job}"));
    }
    // The name `squeue` shows: the job's outside an allocation, the step's in one.
    words.push("--job-name=pooltop-w{id}".into());
    words.push("{cmd}".into());
    Launcher::Command(CommandLauncher {
        host: Arc::from(HOST),
        words,
        program: None,
        host_from_worker: true,
    })
}

/// The allocation pooltop runs in, if any: [`JOB_ID`] from `env`.
pub fn allocation_from(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    env(JOB_ID).filter(|job| !job.trim().is_empty())
}

/// What a line srun writes on its stderr says about the worker's place in
/// Slurm's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueNews {
    /// Slurm queued the job (or, in an allocation, the step): the worker
    /// waits for resources, for as long as Slurm takes.
    Waiting,
    /// Slurm gave it resources: the worker is starting.
    Granted,
}

/// Reads srun's lines about the queue (srun 22.05's wording), such as
/// `srun: job 5 queued and waiting for resources` and, in an allocation,
/// `srun: Job 5 step creation temporarily disabled, retrying (…)`.
pub fn queue_news(line: &str) -> Option<QueueNews> {
    let line = line.trim().strip_prefix("srun: ")?;
    if line.ends_with("queued and waiting for resources")
        || line.contains("step creation temporarily disabled")
    {
        Some(QueueNews::Waiting)
    } else if line.ends_with("has been allocated resources")
        || line.starts_with("Step created for job")
    {
        Some(QueueNews::Granted)
    } else {
        None
    }
}

/// The longest line looked at for queue news; srun's are far shorter.
const LINE_CAP: usize = 512;

/// Finds srun's queue lines in a launcher's stderr as it arrives in
/// pieces (any launcher: a `--launcher 'srun …'` is read the same way).
#[derive(Debug, Default)]
pub struct QueueLines {
    /// The line read so far (at most [`LINE_CAP`] bytes of it).
    partial: Vec<u8>,
}

impl QueueLines {
    /// Takes in more of the stream; returns the latest news in the lines
    /// it completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<QueueNews> {
        let mut news = None;
        for &byte in bytes {
            if byte == b'\n' {
                news = queue_news(&String::from_utf8_lossy(&self.partial)).or(news);
                self.partial.clear();
            } else if self.partial.len() < LINE_CAP {
                self.partial.push(byte);
            }
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::*;

    fn argv(allocation: Option<&str>) -> Vec<OsString> {
        launcher(allocation)
            .argv(Path::new("/opt/pooltop"), 4)
            .expect("a command")
    }

    #[test]
    fn outside_an_allocation_each_worker_is_a_job_of_its_own() {
        let words = "srun -u -n1 -N1 --job-name=pooltop-w4 /opt/pooltop worker --stdio";
        assert_eq!(
            argv(None),
            words.split(' ').map(OsString::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn inside_an_allocation_each_worker_is_an_exact_step_of_it() {
        let words = "srun -u -n1 -N1 --exact --jobid=77 --job-name=pooltop-w4 \
                     /opt/pooltop worker --stdio";
        assert_eq!(
            argv(Some("77")),
            words
                .split_whitespace()
                .map(OsString::from)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_empty_job_id_is_no_allocation() {
        let env = |value: &'static str| move |name: &str| (name == JOB_ID).then(|| value.into());
        assert_eq!(allocation_from(env("12")), Some("12".into()));
        assert_eq!(allocation_from(env(" ")), None);
        assert_eq!(allocation_from(|_| None), None);
    }

    #[test]
    fn queue_lines_are_found_across_pieces_and_only_once_whole() {
        let mut lines = QueueLines::default();
        assert_eq!(lines.feed(b"srun: job 5 queued and wai"), None);
        assert_eq!(
            lines.feed(b"ting for resources\nsrun: job 5 has"),
            Some(QueueNews::Waiting)
        );
        let rest = b" been allocated resources\n";
        assert_eq!(lines.feed(rest), Some(QueueNews::Granted));
        let both = b"srun: job 6 queued and waiting for resources\nsrun: job 6 has been allocated resources\n";
        assert_eq!(
            lines.feed(both),
            Some(QueueNews::Granted),
            "the latest wins"
        );
        let long = vec![b'x'; 10 * LINE_CAP];
        assert_eq!(lines.feed(&long), None);
        assert!(
            lines.partial.len() <= LINE_CAP,
            "a long line is not kept whole"
        );
        assert_eq!(lines.feed(b"\n"), None);
    }

    #[test]
    fn srun_s_queue_lines_are_read_and_others_are_not() {
        let cases = [
            (
                "srun: job 5 queued and waiting for resources",
                Some(QueueNews::Waiting),
            ),
            (
                "srun: job 5 has been allocated resources",
                Some(QueueNews::Granted),
            ),
            (
                "srun: Job 2 step creation temporarily disabled, retrying (Requested nodes are busy)",
                Some(QueueNews::Waiting),
            ),
            ("srun: Step created for job 2", Some(QueueNews::Granted)),
            ("srun: Partition in DOWN state", None),
            ("srun: error: vm: task 0: Killed", None),
            ("job 5 queued and waiting for resources", None),
        ];
        for (line, news) in cases {
            assert_eq!(queue_news(line), news, "{line}");
        }
    }
}
