//! A task-file run's results on stdout and its failures on stderr, as
//! tasks finish (or, with `-k`, results in input order): the report
//! layer's [`Shown`] written out.

use std::io::{self, BufWriter, Stdout, Write};

use crate::report::results::{InOrder, Origins, Shown, push_value_result};
use pooltop::engine::{PoolEvent, TaskId};

use super::runner::Progress;

/// How many cancellations of tasks that never started are named on
/// stderr (at shutdown there may be thousands; the summary counts them).
const NAMED_NEVER_STARTED: usize = 10;

/// What a task-file run prints as tasks finish.
#[derive(Debug, Clone, Default)]
pub struct Printing {
    /// Where each task came from, for the failure lines.
    pub origins: Origins,
    /// Results in input order (`-k`), not as tasks finish.
    pub keep_order: bool,
    /// Nothing but the summary (`--quiet`).
    pub quiet: bool,
    /// The JSON lines go to stdout (`--json -`): results stay out of it.
    pub json_on_stdout: bool,
}

/// Writes each finished task's result and failure.
pub(super) struct ResultPrinter {
    origins: Origins,
    order: Option<InOrder>,
    /// Results go to stdout.
    results: bool,
    /// Failures and tasks' own stderr go to stderr.
    failures: bool,
    stdout: BufWriter<Stdout>,
    /// A run's results, gathered before they are written (reused).
    text: String,
    /// Stdout refused a write: no more results are tried.
    broken: bool,
    never_started_named: usize,
}

impl ResultPrinter {
    pub fn new(printing: Printing) -> ResultPrinter {
        let Printing {
            origins,
            keep_order,
            quiet,
            json_on_stdout,
        } = printing;
        let first = origins.first.unwrap_or(TaskId(1));
        ResultPrinter {
            origins,
            order: keep_order.then(|| InOrder::starting_at(first)),
            results: !quiet && !json_on_stdout,
            failures: !quiet,
            stdout: BufWriter::with_capacity(64 * 1024, io::stdout()),
            text: String::new(),
            broken: false,
            never_started_named: 0,
        }
    }

    /// Prints what a finished task shows, if the event finished any.
    pub fn event(&mut self, ev: &PoolEvent, progress: &mut Progress) {
        match ev {
            PoolEvent::TaskFinished(r) if self.results || self.failures => {
                self.show(Shown::of(r), progress);
            }
            // Done, each with only a value: nothing for stderr.
            PoolEvent::TasksDone(run) if self.results => {
                if let Some(order) = &mut self.order {
                    for (task, value, _, line) in run.iter() {
                        let text = order.push(task, Shown::of_value(task, line, value).stdout);
                        self.text.push_str(&text);
                    }
                } else {
                    for (_, value, _, line) in run.iter() {
                        push_value_result(&mut self.text, line, value);
                    }
                }
                let text = std::mem::take(&mut self.text);
                self.write(&text);
                self.text = text;
                self.text.clear();
            }
            _ => {}
        }
    }

    fn show(&mut self, shown: Shown, progress: &mut Progress) {
        if self.failures && (shown.problem.is_some() || !shown.stderr.is_empty()) {
            self.say(&shown, progress);
        }
        if !self.results {
            return;
        }
        let text = match &mut self.order {
            Some(order) => order.push(TaskId(shown.task), shown.stdout),
            None => shown.stdout,
        };
        self.write(&text);
    }

    /// The task's own stderr, then why it did not end done.
    fn say(&mut self, shown: &Shown, progress: &mut Progress) {
        if let Some(p) = &shown.problem
            && p.never_started
        {
            self.never_started_named += 1;
            if self.never_started_named > NAMED_NEVER_STARTED {
                return;
            }
        }
        // Results so far come first, so the two streams read in order.
        self.flush();
        progress.clear_and_redraw();
        let mut err = io::stderr().lock();
        let _ = err.write_all(shown.stderr.as_bytes());
        let origin = self.origins.of(TaskId(shown.task));
        if let Some(line) = shown.problem_line(origin.as_deref()) {
            let _ = writeln!(err, "{line}");
        }
    }

    fn write(&mut self, text: &str) {
        if text.is_empty() || self.broken {
            return;
        }
        if let Err(e) = self.stdout.write_all(text.as_bytes()) {
            self.stopped(&e);
        }
    }

    fn stopped(&mut self, e: &io::Error) {
        self.broken = true;
        // A reader that went away (`| head`) is not worth a word.
        if e.kind() != io::ErrorKind::BrokenPipe {
            pooltop::say!(
                "pooltop: cannot write results to standard output: {e}; results stop here"
            );
        }
    }

    /// Writes out what is buffered (when the event stream goes quiet).
    pub fn flush(&mut self) {
        if !self.broken
            && let Err(e) = self.stdout.flush()
        {
            self.stopped(&e);
        }
    }

    /// The run is over: results still held back for order, then a flush.
    pub fn finish(&mut self) {
        if let Some(order) = &mut self.order {
            let rest = order.rest();
            self.write(&rest);
        }
        self.flush();
    }
}
