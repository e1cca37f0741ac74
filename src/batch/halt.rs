//! GNU parallel's `--halt` rules and its exit status. Pure, unit-tested;
//! the rules follow parallel 20221122's `should_we_halt` and `halt`.

use std::fmt;
use std::str::FromStr;

use pooltop::engine::TaskState;

/// When to stop once the condition is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Run every job, whatever happens (the default).
    Never,
    /// Start no more jobs; let the running ones finish.
    Soon,
    /// Kill the running jobs and stop.
    Now,
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Fail,
    Success,
    Done,
}

/// How many: a number of jobs, or a share of all jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Count(u64),
    /// Percent of all jobs, 0–100.
    Percent(f64),
}

/// A `--halt` value: `never`, or `now|soon,fail|success|done=N|N%`, or one of
/// parallel's short forms `0`, `1`, `2`, `-1`, `-2`, `N%`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaltPolicy {
    pub when: When,
    pub why: Why,
    pub threshold: Threshold,
}

impl HaltPolicy {
    pub const NEVER: HaltPolicy = HaltPolicy {
        when: When::Never,
        why: Why::Fail,
        threshold: Threshold::Count(0),
    };

    /// The task states after which the pool must pause dispatch until the
    /// rule has been applied (`PoolConfig::pause_dispatch_after`): parallel
    /// decides before it starts the next job, and so must pooltop, or a job
    /// would start after the one that halted the run.
    pub fn pause_after(&self) -> Vec<TaskState> {
        let failed = [TaskState::Failed, TaskState::TimedOut];
        match (self.when, self.why) {
            (When::Never, _) => Vec::new(),
            (_, Why::Fail) => failed.to_vec(),
            (_, Why::Success) => vec![TaskState::Done],
            (_, Why::Done) => vec![TaskState::Done, TaskState::Failed, TaskState::TimedOut],
        }
    }
}

impl FromStr for HaltPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<HaltPolicy, String> {
        let long = match s {
            "0" => "never".to_string(),
            "1" => "soon,fail=1".to_string(),
            "2" => "now,fail=1".to_string(),
            "-1" => "soon,success=1".to_string(),
            "-2" => "now,success=1".to_string(),
            pct if pct.ends_with('%') && pct[..pct.len() - 1].parse::<u64>().is_ok() => {
                format!("soon,fail={pct}")
            }
            other => other.to_string(),
        };
        let mut pieces = long.splitn(2, ',');
        let when = match pieces.next().unwrap_or("") {
            "never" => return Ok(HaltPolicy::NEVER),
            "soon" => When::Soon,
            "now" => When::Now,
            other => {
                return Err(format!(
                    "`{other}`: --halt starts with never, soon or now (e.g. now,fail=1)"
                ));
            }
        };
        let rest = pieces.next().unwrap_or("");
        let (why, n) = rest
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected e.g. now,fail=1 or soon,success=50%"))?;
        let why = match why {
            "fail" => Why::Fail,
            "success" => Why::Success,
            "done" => Why::Done,
            other => return Err(format!("`{other}`: --halt counts fail, success or done")),
        };
        let bad = || format!("`{n}`: --halt wants a number of jobs or a percentage, e.g. 1 or 10%");
        let threshold = match n.strip_suffix('%') {
            Some(p) => {
                let p: u64 = p.parse().map_err(|_| bad())?;
                if p > 100 {
                    return Err(bad());
                }
                Threshold::Percent(p as f64)
            }
            None => Threshold::Count(n.parse().map_err(|_| bad())?),
        };
        Ok(HaltPolicy {
            when,
            why,
            threshold,
        })
    }
}

impl fmt::Display for HaltPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = match self.when {
            When::Never => return f.write_str("never"),
            When::Soon => "soon",
            When::Now => "now",
        };
        let why = match self.why {
            Why::Fail => "fail",
            Why::Success => "success",
            Why::Done => "done",
        };
        match self.threshold {
            Threshold::Count(n) => write!(f, "{when},{why}={n}"),
            Threshold::Percent(p) => write!(f, "{when},{why}={p}%"),
        }
    }
}

/// What to do after a job finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Go,
    /// The condition is met: start no more jobs (`soon`) …
    Soon,
    /// … or kill the running ones and stop (`now`).
    Now,
}

/// The message parallel prints about a job that counts towards the halt
/// condition: "This job failed:", "This job succeeded:", "This job finished:".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Failed,
    Succeeded,
    Finished,
}

impl Notice {
    pub fn text(self) -> &'static str {
        match self {
            Notice::Failed => "This job failed:",
            Notice::Succeeded => "This job succeeded:",
            Notice::Finished => "This job finished:",
        }
    }
}

/// The count of finished jobs against a policy, and the exit status.
#[derive(Debug, Clone)]
pub struct Halt {
    policy: HaltPolicy,
    /// All jobs of the run (for percentages).
    total_jobs: u64,
    completed: u64,
    failed: u64,
    /// Set once the condition is met.
    exit_status: Option<i32>,
}

impl Halt {
    pub fn new(policy: HaltPolicy, total_jobs: u64) -> Halt {
        Halt {
            policy,
            total_jobs,
            completed: 0,
            failed: 0,
            exit_status: None,
        }
    }

    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Whether the condition has been met.
    pub fn triggered(&self) -> bool {
        self.exit_status.is_some()
    }

    /// Counts a job that ran to its end: its exit status (-1 when it did not
    /// exit by itself) and the signal that ended it (or 0). Returns the
    /// notice to print about it, if any, and what to do.
    pub fn job_finished(&mut self, exitval: i32, signal: i32) -> (Option<Notice>, Verdict) {
        self.completed += 1;
        let failed = exitval != 0 || signal != 0;
        if failed {
            self.failed += 1;
        }
        let p = self.policy;
        if p.when == When::Never {
            return (None, Verdict::Go);
        }
        let (notice, count) = match p.why {
            Why::Fail if failed => (Notice::Failed, self.failed),
            Why::Success if !failed => (Notice::Succeeded, self.completed - self.failed),
            Why::Done => (Notice::Finished, self.completed),
            _ => return (None, Verdict::Go),
        };
        let needed = match p.threshold {
            Threshold::Count(n) => n as f64,
            Threshold::Percent(pct) => self.total_jobs as f64 * pct / 100.0,
        };
        if (count as f64) < needed {
            return (Some(notice), Verdict::Go);
        }
        if self.exit_status.is_none() {
            self.exit_status = Some(match (p.why, p.threshold) {
                (Why::Success, _) => 0,
                (_, Threshold::Percent(_)) => {
                    (self.failed as f64 / self.total_jobs.max(1) as f64 * 100.0).ceil() as i32
                }
                // One job was enough: its own status, or 128 + its signal
                // as a shell reports it.
                (_, Threshold::Count(1)) => match (exitval, signal) {
                    (0, 0) => 0,
                    (0, s) => 128 + s,
                    (e, _) => e,
                },
                (_, Threshold::Count(_)) => self.failed.min(101) as i32,
            });
        }
        let verdict = match p.when {
            When::Now => Verdict::Now,
            _ => Verdict::Soon,
        };
        (Some(notice), verdict)
    }

    /// The exit status of the whole run, as parallel's: the one set when the
    /// halt condition was met; else the number of failed jobs (101 for more
    /// than 100), or with a percentage policy the percent that failed.
    pub fn exit_status(&self) -> i32 {
        if let Some(s) = self.exit_status {
            return s;
        }
        match (self.policy.when, self.policy.threshold) {
            (When::Never, _) | (_, Threshold::Count(_)) => self.failed.min(101) as i32,
            (_, Threshold::Percent(_)) => {
                (self.failed as f64 / self.completed.max(1) as f64 * 100.0).ceil() as i32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(s: &str) -> HaltPolicy {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(policy("never"), HaltPolicy::NEVER);
        assert_eq!(policy("0"), HaltPolicy::NEVER);
        for (short, long) in [
            ("1", "soon,fail=1"),
            ("2", "now,fail=1"),
            ("-1", "soon,success=1"),
            ("-2", "now,success=1"),
            ("5%", "soon,fail=5%"),
            ("now,done=3", "now,done=3"),
            ("soon,fail=10%", "soon,fail=10%"),
        ] {
            assert_eq!(policy(short).to_string(), long, "{short}");
        }
        for bad in [
            "later,fail=1",
            "now",
            "now,crash=1",
            "now,fail=x",
            "now,fail=101%",
        ] {
            assert!(bad.parse::<HaltPolicy>().is_err(), "{bad}");
        }
    }

    /// Feeds (exitval, signal) pairs; returns the verdicts and the exit status.
    fn run(p: &str, total: u64, jobs: &[(i32, i32)]) -> (Vec<Verdict>, i32) {
        let mut h = Halt::new(policy(p), total);
        let verdicts = jobs.iter().map(|&(e, s)| h.job_finished(e, s).1).collect();
        (verdicts, h.exit_status())
    }

    use Verdict::*;

    #[test]
    fn exit_status_without_halt_counts_failures() {
        assert_eq!(run("never", 4, &[(0, 0), (1, 0), (2, 0), (3, 0)]).1, 3);
        assert_eq!(run("never", 2, &[(0, 0), (0, 0)]).1, 0);
        let many = vec![(1, 0); 150];
        assert_eq!(run("never", 150, &many).1, 101);
    }

    #[test]
    fn halt_rules_and_exit_status_match_parallel() {
        // The cases checked against GNU parallel 20221122 by hand:
        // --halt soon,fail=1 ::: 0 4 0 5  → stops after 4, exits 4.
        assert_eq!(
            run("soon,fail=1", 4, &[(0, 0), (4, 0)]),
            (vec![Go, Soon], 4)
        );
        // --halt soon,fail=2 ::: 0 4 0 5 → stops after 5, exits 2 (the count).
        assert_eq!(
            run("soon,fail=2", 6, &[(0, 0), (4, 0), (0, 0), (5, 0)]),
            (vec![Go, Go, Go, Soon], 2)
        );
        // now,fail=1 on a job killed by SIGKILL → 128 + 9.
        assert_eq!(run("now,fail=1", 3, &[(0, 9)]), (vec![Now], 137));
        // now,success=1 → 0 even though a job failed first.
        assert_eq!(
            run("now,success=1", 3, &[(1, 0), (0, 0)]),
            (vec![Go, Now], 0)
        );
        // A timed-out job (-1) as the one failure: exit -1, i.e. 255.
        assert_eq!(run("now,fail=1", 2, &[(-1, 9)]).1, -1);
        // fail=50% of 4 jobs: the second failure halts; 2 of 4 = 50.
        assert_eq!(
            run("soon,fail=50%", 4, &[(1, 0), (0, 0), (1, 0)]),
            (vec![Go, Go, Soon], 50)
        );
        // done=2: any two jobs.
        assert_eq!(run("now,done=2", 5, &[(1, 0), (0, 0)]), (vec![Go, Now], 1));
        // Never met: the count of failures, as without --halt.
        assert_eq!(run("soon,fail=3", 4, &[(1, 0), (0, 0)]).1, 1);
    }
}
