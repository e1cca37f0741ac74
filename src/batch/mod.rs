//! Command batches the way shell users expect from GNU parallel and
//! `xargs -P`: `pooltop run [OPTIONS] -- CMD [ARGS…]` runs CMD once per input.
//!
//! The pieces are pure and unit-tested: [`template`] (replacement strings,
//! quoting, running without a shell), [`input`] (`:::`, `::::`, lines),
//! [`joblog`] (`--joblog`, `--resume`), [`halt`] (`--halt`, the exit status)
//! and [`session`] (a run's output, log and halting, fed by pool events).
//! The headless runner drives a session; so can the dashboard.

mod args;
pub mod halt;
pub mod input;
pub mod joblog;
pub mod py;
pub mod session;
pub mod template;

use std::collections::HashSet;
use std::io;
use std::time::Duration;

use input::Source;
use pooltop::engine::{PoolConfig, Task};
use pooltop::task::TaskSpec;
use template::Template;

pub use args::BatchArgs;

/// The bytes of a job's stdout (and of its stderr) that travel in its
/// result unless `--output-cap` says otherwise; longer (or binary) output
/// goes whole through a file (`PoolConfig::spill_dir`). Bounds the memory
/// that `-k` holds per waiting job.
pub const OUTPUT_CAP: usize = 1024 * 1024;

/// What a batch will run: the template and the jobs, in input order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub template: Template,
    pub jobs: Vec<Job>,
    /// Jobs left out because the old job log lists them (`--resume`;
    /// parallel says nothing of them, and neither does pooltop: tests read it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub skipped: usize,
}

/// Builds the plan of `pooltop run [OPTIONS] -- WORDS…`: splits the command
/// from its input sources, reads them (`read` gets a file name, `-` for
/// standard input; with no source, standard input is read), makes one job
/// per combination of inputs, and leaves out those the old job log
/// (`old_log`, for `--resume`/`--resume-failed`) says are finished. `shell`
/// runs the command lines that need one.
pub fn plan(
    words: &[String],
    args: &BatchArgs,
    shell: &str,
    mut read: impl FnMut(&str) -> io::Result<Vec<u8>>,
    old_log: Option<&str>,
) -> Result<Plan, String> {
    let split = input::split_command(words).map_err(|e| e.0)?;
    let mut sources: Vec<Source> = args
        .arg_file
        .iter()
        .map(|f| Source::File(f.clone()))
        .collect();
    sources.extend(split.sources);
    if sources.is_empty() {
        sources.push(Source::File("-".into()));
    }
    let template =
        Template::parse(&split.command, args.quote, sources.len(), shell).map_err(|e| e.0)?;
    let mut values = Vec::with_capacity(sources.len());
    for s in sources {
        values.push(match s {
            Source::Args(a) => a,
            Source::File(name) => {
                let shown = if name == "-" {
                    "<stdin>"
                } else {
                    name.as_str()
                };
                let bytes = read(&name).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
                input::records(&bytes, args.null, shown).map_err(|e| e.0)?
            }
        });
    }
    let finished: HashSet<u64> = match old_log {
        Some(text) => joblog::finished_seqs(text, args.resume_failed)
            .map_err(|e| format!("the job log is not one pooltop or parallel wrote: {e}"))?,
        None => HashSet::new(),
    };
    let all = input::combinations(&values);
    let total = all.len();
    let jobs: Vec<Job> = all
        .into_iter()
        .enumerate()
        .map(|(i, args)| Job {
            seq: i as u64 + 1,
            args,
        })
        .filter(|j| !finished.contains(&j.seq))
        .collect();
    Ok(Plan {
        template,
        skipped: total - jobs.len(),
        jobs,
    })
}

/// Sets the pool up for a batch of `jobs` jobs, GNU parallel's way: a
/// failing job is retried (`--retries N` means N runs in all), `--timeout`
/// fixed or relative to the median, dispatch paused for `--halt` to decide
/// after the jobs it counts, quick jobs handed out in advance, [`OUTPUT_CAP`] unless a cap was given, and no
/// more workers than jobs. (The spill folder is the caller's to make.)
pub fn configure(
    config: &mut PoolConfig,
    retries: u32,
    timeout: Option<Timeout>,
    halt: halt::HaltPolicy,
    output_cap: Option<usize>,
    jobs: usize,
) {
    config.pause_dispatch_after = halt.pause_after();
    config.prefetch_quick = true;
    config.retries = retries.saturating_sub(1);
    config.retry_failed = true;
    match timeout {
        Some(Timeout::Fixed(d)) => config.task_timeout = Some(d),
        Some(Timeout::Median(f)) => config.task_timeout_median = Some(f),
        None => {}
    }
    config.output_cap = output_cap.unwrap_or(OUTPUT_CAP);
    config.workers = config.workers.min(jobs).max(1);
}

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
            spec: TaskSpec::Exec(Box::new(template.exec_spec(&self.args, self.seq))),
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
    use pooltop::engine::TaskState;

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

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plans_read_sources_and_skip_finished_jobs() {
        let args = BatchArgs::default();
        let read = |name: &str| match name {
            "-" => Ok(b"x\ny\n".to_vec()),
            "list" => Ok(b"1\n2\n".to_vec()),
            _ => Err(io::Error::from(io::ErrorKind::NotFound)),
        };
        let p = plan(&words(&["echo"]), &args, "sh", read, None).unwrap();
        let got: Vec<_> = p.jobs.iter().map(|j| (j.seq, j.args.join(","))).collect();
        assert_eq!(got, [(1, "x".to_string()), (2, "y".to_string())]);
        let p = plan(
            &words(&["echo", "{2}", "{1}", ":::", "a", "b", "::::", "list"]),
            &args,
            "sh",
            read,
            None,
        )
        .unwrap();
        assert_eq!(p.jobs.len(), 4);
        assert_eq!(
            p.template.command_line(&p.jobs[1].args, 2, None),
            "echo 2 a"
        );
        let log = format!(
            "{}\n2\t:\t1\t1\t0\t0\t1\t0\tx\n3\t:\t1\t1\t0\t0\t0\t0\tx\n",
            joblog::HEADER
        );
        let p = plan(
            &words(&["e", ":::", "a", "b", "c"]),
            &args,
            "sh",
            read,
            Some(&log),
        )
        .unwrap();
        assert_eq!(p.jobs.iter().map(|j| j.seq).collect::<Vec<_>>(), [1]);
        assert_eq!(p.skipped, 2);
        let failed_again = BatchArgs {
            resume_failed: true,
            ..BatchArgs::default()
        };
        let p = plan(
            &words(&["e", ":::", "a", "b", "c"]),
            &failed_again,
            "sh",
            read,
            Some(&log),
        )
        .unwrap();
        assert_eq!(p.jobs.iter().map(|j| j.seq).collect::<Vec<_>>(), [1, 2]);
        let e = plan(&words(&["e", "::::", "nope"]), &args, "sh", read, None).unwrap_err();
        assert!(e.starts_with("cannot read `nope`"), "{e}");
    }

    #[test]
    fn batches_retry_parallel_s_way() {
        let mut c = PoolConfig {
            workers: 8,
            ..PoolConfig::default()
        };
        let halt = "soon,fail=1".parse().unwrap();
        configure(&mut c, 3, Some(Timeout::Median(2.0)), halt, None, 5);
        assert_eq!(
            c.pause_dispatch_after,
            [TaskState::Failed, TaskState::TimedOut]
        );
        assert_eq!((c.retries, c.retry_failed), (2, true), "3 runs in all");
        assert_eq!(c.task_timeout_median, Some(2.0));
        assert_eq!(c.output_cap, OUTPUT_CAP);
        assert_eq!(c.workers, 5, "no more workers than jobs");
        configure(&mut c, 0, None, halt::HaltPolicy::NEVER, Some(10), 0);
        assert!(c.pause_dispatch_after.is_empty());
        assert_eq!((c.retries, c.output_cap, c.workers), (0, 10, 1));
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
