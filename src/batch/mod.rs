//! Command batches the way shell users expect from GNU parallel and
//! `xargs -P`: `pooltop run [OPTIONS] -- CMD [ARGS…]` runs CMD once per input.
//!
//! The pieces are pure and unit-tested: [`template`] (replacement strings,
//! quoting, running without a shell), [`input`] (`:::`, `::::`, lines),
//! [`joblog`] (`--joblog`, `--resume`), [`halt`] (`--halt`, the exit status)
//! and [`session`] (a run's output, log and halting, fed by pool events).
//! The headless runner drives a session; so can the dashboard.

pub mod halt;
pub mod input;
pub mod joblog;
pub mod session;
pub mod template;

use std::time::Duration;

use crate::engine::Task;
use crate::task::TaskSpec;
use template::Template;

/// One job: its sequence number (`{#}`, 1-based, in input order, kept when
/// `--resume` skips jobs) and its inputs (one per input source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub seq: u64,
    pub args: Vec<String>,
}

impl Job {
    /// The pool task that runs this job.
    pub fn task(&self, template: &Template) -> Task {
        Task {
            spec: TaskSpec::Exec(template.exec_spec(&self.args, self.seq)),
            line: template.command_line(&self.args, self.seq, None).into(),
        }
    }
}

/// A `--timeout` value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timeout {
    /// A fixed limit.
    Fixed(Duration),
    /// This factor times the median run time of the jobs done so far.
    Median(f64),
}

/// Parses `--timeout`: seconds (fractions allowed, or with a unit `s`, `m`,
/// `h`, `d` as parallel allows), or a percentage of the median run time
/// such as `200%`.
pub fn parse_timeout(s: &str) -> Result<Timeout, String> {
    if let Some(pct) = s.strip_suffix('%') {
        return match pct.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 => Ok(Timeout::Median(p / 100.0)),
            _ => Err(format!(
                "`{s}`: a percentage of the median run time must be above 0%, e.g. 200%"
            )),
        };
    }
    let (num, unit) = match s.char_indices().last() {
        Some((i, c @ ('s' | 'm' | 'h' | 'd'))) => (&s[..i], c),
        _ => (s, 's'),
    };
    let scale = match unit {
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        _ => 1.0,
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n * scale <= 1e9 => {
            Ok(Timeout::Fixed(Duration::from_secs_f64(n * scale)))
        }
        _ => Err(format!(
            "`{s}`: --timeout wants seconds above 0 (e.g. 30, 1.5, 2m) or a percentage of the median run time (e.g. 200%)"
        )),
    }
}

/// The job slot `{%}` that `--dry-run` shows: jobs take slots 1..=workers
/// in turn, as they would if every job took the same time.
pub fn dry_run_slot(index: usize, workers: usize) -> u32 {
    (index % workers.max(1)) as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_in_seconds_units_or_percent() {
        assert_eq!(
            parse_timeout("1.5"),
            Ok(Timeout::Fixed(Duration::from_millis(1500)))
        );
        assert_eq!(
            parse_timeout("2m"),
            Ok(Timeout::Fixed(Duration::from_secs(120)))
        );
        assert_eq!(parse_timeout("200%"), Ok(Timeout::Median(2.0)));
        for bad in ["0", "-1", "x", "0%", "%", "1e12", "NaN"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jobs_become_exec_tasks_with_their_command_line() {
        let words: Vec<String> = ["echo", "{#}:{}"].map(String::from).to_vec();
        let tpl = Template::parse(&words, false, 1, "sh").unwrap();
        let job = Job {
            seq: 7,
            args: vec!["a b".into()],
        };
        let task = job.task(&tpl);
        assert_eq!(&*task.line, "echo 7:'a b'");
        let TaskSpec::Exec(spec) = task.spec else {
            panic!("an exec task")
        };
        assert_eq!(spec.argv, ["echo", "7:a b"]);
        assert_eq!(dry_run_slot(0, 2), 1);
        assert_eq!(dry_run_slot(3, 2), 2);
    }
}
