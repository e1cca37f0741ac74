//! One run of a command batch, fed by pool events: it prints each job's
//! output (grouped per job, in completion order or, with `--keep-order`, in
//! input order), writes the job log, applies `--halt`, and keeps the exit
//! status. No terminal, no pool: a runner feeds it events and sends the
//! commands it returns, so a test can drive it with made-up events.
//!
//! A job's log row is written before its output is printed; a job whose
//! row cannot be written is not printed, and one whose output cannot be
//! printed has its row taken back: so the log lists exactly the jobs whose
//! output is out, and `--resume` after a full disk runs the rest. Once the
//! job log or standard output is lost, no new job starts.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use super::Job;
use super::halt::{Halt, HaltPolicy, Verdict};
use super::joblog::{JobLog, Row};
use super::template::Template;
use crate::report::sink::{EXIT_BATCH_LOST_RECORDS, Sink};
use pooltop::engine::{Command, PoolEvent, Task, TaskId, TaskReport, TaskState, WorkerId};
use pooltop::task::PySpec;
use pooltop::worker::exec::split_truncated;

/// How a session behaves.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Print the jobs' output in input order (`-k`).
    pub keep_order: bool,
    pub halt: HaltPolicy,
}

/// A job's captured stream: text, or a file that holds it (long or binary
/// output, see `PoolConfig::spill_dir`), removed once printed.
enum Stream {
    Text(String),
    File(PathBuf),
}

impl Stream {
    fn of(text: &str, file: &Option<String>) -> Stream {
        match file {
            Some(f) => Stream::File(PathBuf::from(f)),
            None => Stream::Text(text.to_string()),
        }
    }

    /// Copies the stream to `out`, which is lost if a write fails. An error
    /// reading a spilled file is returned; the file is removed either way.
    fn write_to(&self, out: &mut Sink) -> io::Result<()> {
        match self {
            Stream::Text(t) => {
                out.write_all(t.as_bytes());
                Ok(())
            }
            Stream::File(path) => {
                let copied = std::fs::File::open(path).and_then(|mut f| out.copy_from(&mut f));
                let _ = std::fs::remove_file(path);
                copied.map(drop)
            }
        }
    }

    /// Copies the stream to the session's stderr (whose failure is not
    /// worth a word: it is where words go).
    fn write_err(&self, err: &mut dyn Write) {
        let _ = match self {
            Stream::Text(t) => err.write_all(t.as_bytes()),
            Stream::File(path) => std::fs::File::open(path)
                .and_then(|mut f| io::copy(&mut f, err))
                .map(drop),
        };
        self.discard();
    }

    /// Removes a spilled file that will not be printed.
    fn discard(&self) {
        if let Stream::File(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Its size in bytes (the job log's Receive).
    fn len(&self) -> u64 {
        match self {
            Stream::Text(t) => t.len() as u64,
            Stream::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Stream::Text(t) if t.is_empty())
    }
}

/// A finished job, waiting for its turn to be printed (with `-k`).
enum Finished {
    Ran {
        stdout: Stream,
        stderr: Stream,
        start: SystemTime,
        runtime: std::time::Duration,
        exitval: i32,
        signal: i32,
        command: String,
        /// Where it ran; none: this machine.
        host: Option<std::sync::Arc<str>>,
    },
    /// Never ran (cancelled): nothing to print or log.
    Skipped,
}

/// The last start of a job.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    start: Option<SystemTime>,
    worker: Option<WorkerId>,
}

/// One run of a batch; see the module documentation.
pub struct Session {
    template: Template,
    jobs: Vec<Job>,
    /// The task id of `jobs[0]`; the others follow in order.
    first_task: Option<TaskId>,
    slots: HashMap<WorkerId, u32>,
    /// The host of each launched worker (the job log's Host column).
    hosts: HashMap<WorkerId, std::sync::Arc<str>>,
    runs: Vec<Run>,
    running: usize,
    keep_order: bool,
    /// With `-k`: finished jobs waiting for the ones before them.
    waiting: BTreeMap<usize, Finished>,
    next_to_print: usize,
    joblog: Option<JobLog>,
    halt: Halt,
    /// After a task ends in one of these, the pool waits for our word.
    pause_after: Vec<TaskState>,
    stopping: Option<Verdict>,
    /// Job output (standard output): a reader that went away stops the run
    /// (141); any other failure is a lost record.
    out: Sink,
    err: Box<dyn Write + Send>,
    /// `--py`: the jobs call this Python function, and print its results.
    py: Option<PySpec>,
}

impl Session {
    /// A session for `jobs` (in input order), writing job output to `out`
    /// (unbuffered: a job's output is flushed as it is printed) and `err`,
    /// and rows to `joblog`.
    pub fn new(
        template: Template,
        jobs: Vec<Job>,
        options: SessionOptions,
        joblog: Option<JobLog>,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Session {
        let out = Sink::new("job output on standard output", out)
            .then("starting no more jobs")
            .quiet_when_closed();
        let n = jobs.len();
        Session {
            template,
            runs: vec![Run::default(); n],
            jobs,
            first_task: None,
            slots: HashMap::new(),
            hosts: HashMap::new(),
            running: 0,
            keep_order: options.keep_order,
            waiting: BTreeMap::new(),
            next_to_print: 0,
            joblog,
            halt: Halt::new(options.halt, n as u64),
            pause_after: options.halt.pause_after(),
            stopping: None,
            out,
            err,
            py: None,
        }
    }

    /// The jobs call the Python function `target` with their inputs
    /// (`pooltop run --py`), and each prints its result (see `batch::py`).
    pub fn calling_python(mut self, target: PySpec) -> Session {
        self.py = Some(target);
        self
    }

    /// The pool task that runs `job`.
    pub fn task(&self, job: &Job) -> Task {
        match &self.py {
            Some(target) => super::py::task(target, job, &self.template),
            None => job.task(&self.template),
        }
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Tells the session the task id of the first job; the others must
    /// follow it (as `PoolHandle::submit_all` gives them).
    pub fn set_first_task(&mut self, id: TaskId) {
        self.first_task = Some(id);
    }

    fn index(&self, task: TaskId) -> Option<usize> {
        let first = self.first_task?.0;
        let i = usize::try_from(task.0.checked_sub(first)?).ok()?;
        (i < self.jobs.len()).then_some(i)
    }

    /// Takes one pool event; returns the orders it calls for.
    pub fn on_event(&mut self, ev: &PoolEvent) -> Vec<Command> {
        match ev {
            PoolEvent::WorkerSlot { worker, slot } => {
                self.slots.insert(*worker, *slot);
            }
            PoolEvent::WorkerHost { worker, host } => {
                self.hosts.insert(*worker, host.clone());
            }
            PoolEvent::TaskStarted { task, worker, .. } => {
                if let Some(i) = self.index(*task) {
                    self.running += 1;
                    self.runs[i] = Run {
                        start: Some(SystemTime::now()),
                        worker: Some(*worker),
                    };
                }
            }
            PoolEvent::TaskRetrying { task, reason, .. } => {
                if let Some(i) = self.index(*task) {
                    self.running = self.running.saturating_sub(1);
                    if reason.starts_with("timed out") && self.stopping != Some(Verdict::Now) {
                        self.warn_timed_out(i);
                    }
                }
            }
            PoolEvent::TaskFinished(r) => return self.finished(r),
            // Jobs are commands, never instant tasks; were one in a run, it
            // would be seen as its own events.
            PoolEvent::TasksDone(run) => {
                return run.events().flat_map(|each| self.on_event(&each)).collect();
            }
            _ => {}
        }
        Vec::new()
    }

    /// The exit status, as GNU parallel's (see [`Halt::exit_status`]); 141
    /// (as if killed by SIGPIPE) when standard output went away; else
    /// [`EXIT_BATCH_LOST_RECORDS`] when job output or the job log could not
    /// be written, or `lost_elsewhere` (the JSON stream) says a record was
    /// lost.
    pub fn exit_status_with(&self, lost_elsewhere: bool) -> i32 {
        if self.out.was_closed() {
            return 128 + libc::SIGPIPE;
        }
        if lost_elsewhere || self.lost_records() {
            return EXIT_BATCH_LOST_RECORDS;
        }
        self.halt.exit_status()
    }

    /// The exit status when no other output was lost.
    #[cfg(test)]
    pub fn exit_status(&self) -> i32 {
        self.exit_status_with(false)
    }

    /// Whether job output (other than to a closed pipe) or the job log
    /// could not be written.
    pub fn lost_records(&self) -> bool {
        (self.out.lost().is_some() && !self.out.was_closed())
            || self.joblog.as_ref().is_some_and(|l| l.lost().is_some())
    }

    /// The command line a job ran, with the slot of the worker that ran it.
    fn command_of(&self, i: usize) -> String {
        let job = &self.jobs[i];
        let slot = self.runs[i]
            .worker
            .and_then(|w| self.slots.get(&w).copied());
        self.template
            .command_line(&job.args, job.seq, slot.or(Some(0)))
    }

    fn warn_timed_out(&mut self, i: usize) {
        let cmd = self.command_of(i);
        let _ = writeln!(
            self.err,
            "pooltop: Warning: This job was killed because it timed out:\npooltop: Warning: {cmd}"
        );
    }

    fn finished(&mut self, r: &TaskReport) -> Vec<Command> {
        let Some(i) = self.index(r.task) else {
            return Vec::new();
        };
        if r.attempts > 0 {
            self.running = self.running.saturating_sub(1);
        }
        if self.stopping == Some(Verdict::Now) {
            // parallel stops at once: nothing after the job that halted it.
            return Vec::new();
        }
        if r.state == TaskState::Cancelled {
            self.settle(i, Finished::Skipped);
            return self.after_output();
        }
        let (exitval, signal) = exit_of(r);
        if r.state == TaskState::TimedOut {
            self.warn_timed_out(i);
        }
        let command = self.command_of(i);
        let seq = self.jobs[i].seq;
        let mut warnings = Vec::new();
        let (dropped, mut stdout) = split_truncated(&r.output.stdout);
        let with_result;
        if self.py.is_some() && r.state == TaskState::Done {
            with_result = super::py::printed(stdout, &r.output.value);
            stdout = &with_result;
        }
        if let Some(n) = dropped {
            warnings.push(format!(
                "pooltop: Warning: job {seq} wrote more than --output-cap to stdout: its first {n} bytes were dropped"
            ));
        }
        let (dropped, stderr) = split_truncated(&r.output.stderr);
        if let Some(n) = dropped {
            warnings.push(format!(
                "pooltop: Warning: job {seq} wrote more than --output-cap to stderr: its first {n} bytes were dropped"
            ));
        }
        if r.state == TaskState::Failed
            && r.output.exit_code.is_none()
            && r.output.signal.is_none()
            && let Some(e) = &r.error
        {
            // Not the command's own failure (its worker died, say): say why.
            warnings.push(format!("pooltop: job {seq}: {e}"));
        }
        let start = self.runs[i]
            .start
            .unwrap_or_else(|| SystemTime::now() - r.wall);
        let finished = Finished::Ran {
            stdout: Stream::of(stdout, &r.output.stdout_file),
            stderr: Stream::of(stderr, &r.output.stderr_file),
            start,
            runtime: r.wall,
            exitval,
            signal,
            command: command.clone(),
            host: r.worker.and_then(|w| self.hosts.get(&w).cloned()),
        };
        let (notice, verdict) = self.halt.job_finished(exitval, signal);
        self.settle(i, finished);
        for w in warnings {
            let _ = writeln!(self.err, "{w}");
        }
        // First, so that a queue cancelled for a lost record is cancelled
        // before dispatch resumes.
        let mut cmds = self.after_output();
        if let Some(n) = notice {
            let _ = writeln!(self.err, "pooltop: {}\n{command}", n.text());
        }
        match verdict {
            Verdict::Go => {}
            Verdict::Soon if self.stopping.is_none() => {
                self.stopping = Some(Verdict::Soon);
                cmds.push(Command::CancelQueued);
                if self.running > 0 {
                    let _ = writeln!(
                        self.err,
                        "pooltop: Starting no more jobs. Waiting for {} jobs to finish.",
                        self.running
                    );
                }
            }
            Verdict::Soon => {}
            Verdict::Now if self.stopping != Some(Verdict::Now) => {
                self.stopping = Some(Verdict::Now);
                cmds.push(Command::KillAll);
            }
            Verdict::Now => {}
        }
        if self.pause_after.contains(&r.state) && self.stopping != Some(Verdict::Now) {
            // The pool paused dispatch for this decision: go on (after a
            // `soon`, only retries are left to start).
            cmds.push(Command::ResumeDispatch);
        }
        cmds
    }

    /// Stops everything once standard output is gone; starts no new job
    /// once job output or the job log is lost (what the jobs would print
    /// could not be printed, or not logged: `--resume` runs them).
    fn after_output(&mut self) -> Vec<Command> {
        if self.out.was_closed() && self.stopping != Some(Verdict::Now) {
            self.stopping = Some(Verdict::Now);
            return vec![Command::KillAll];
        }
        if self.lost_records() && self.stopping.is_none() {
            self.stopping = Some(Verdict::Soon);
            return vec![Command::CancelQueued];
        }
        Vec::new()
    }

    /// A job is over: print it now, or when its turn comes with `-k`.
    fn settle(&mut self, i: usize, f: Finished) {
        if !self.keep_order {
            self.print(i, f);
            return;
        }
        self.waiting.insert(i, f);
        while let Some(f) = self.waiting.remove(&self.next_to_print) {
            self.print(self.next_to_print, f);
            self.next_to_print += 1;
        }
    }

    /// Logs a job, then prints its stdout, then its stderr. A job that
    /// cannot be logged is not printed (`--resume` runs it again).
    fn print(&mut self, i: usize, f: Finished) {
        let Finished::Ran {
            stdout,
            stderr,
            start,
            runtime,
            exitval,
            signal,
            command,
            host,
        } = f
        else {
            return;
        };
        let seq = self.jobs[i].seq;
        if !self.out.is_open() && !stdout.is_empty() {
            // Its output cannot be printed: not logged either.
            stdout.discard();
            stderr.discard();
            return;
        }
        if let Some(log) = &mut self.joblog {
            let row = Row {
                seq,
                start,
                runtime,
                receive: stdout.len(),
                exitval,
                signal,
                command: &command,
                host: host.as_deref(),
            };
            if !log.write(&row) {
                stdout.discard();
                stderr.discard();
                return;
            }
        }
        if self.out.is_open() && !stdout.is_empty() {
            if let Err(e) = stdout.write_to(&mut self.out) {
                // The job's spilled file, not stdout itself.
                let _ = writeln!(
                    self.err,
                    "pooltop: cannot read the output of job {seq}: {e}"
                );
            }
            if !self.out.flush()
                && let Some(log) = &mut self.joblog
            {
                // Its output is not out after all: a resume runs it again.
                log.take_back();
            }
        } else {
            stdout.discard();
        }
        if !stderr.is_empty() {
            stderr.write_err(&mut self.err);
            let _ = self.err.flush();
        }
    }
}

/// A finished job's exit status and signal, as parallel logs them: a job
/// killed by a signal has status 0 and that signal; one that did not end by
/// itself (timed out: killed with SIGKILL; lost with its worker) has -1.
fn exit_of(r: &TaskReport) -> (i32, i32) {
    match r.state {
        TaskState::Done => (0, 0),
        TaskState::TimedOut => (-1, libc::SIGKILL),
        TaskState::Failed | TaskState::Cancelled => match (r.output.exit_code, r.output.signal) {
            (Some(code), _) => (code, 0),
            (None, Some(sig)) => (0, sig),
            (None, None) => (-1, 0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::task::TaskOutput;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A writer whose bytes a test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    struct Rig {
        s: Session,
        out: Shared,
        err: Shared,
    }

    fn rig(n: u64, keep_order: bool, halt: &str) -> Rig {
        let words: Vec<String> = ["echo", "{}"].map(String::from).to_vec();
        let tpl = Template::parse(&words, false, 1, "sh").unwrap();
        let jobs = (1..=n)
            .map(|seq| Job {
                seq,
                args: vec![format!("in{seq}")],
            })
            .collect();
        let (out, err) = (Shared::default(), Shared::default());
        let opts = SessionOptions {
            keep_order,
            halt: halt.parse().unwrap(),
        };
        let mut s = Session::new(
            tpl,
            jobs,
            opts,
            None,
            Box::new(out.clone()),
            Box::new(err.clone()),
        );
        s.set_first_task(TaskId(10));
        s.on_event(&PoolEvent::WorkerSlot {
            worker: WorkerId(1),
            slot: 1,
        });
        Rig { s, out, err }
    }

    impl Rig {
        fn start(&mut self, job: u64) {
            self.s.on_event(&PoolEvent::TaskStarted {
                task: TaskId(9 + job),
                worker: WorkerId(1),
                attempt: 1,
                line: Arc::from("x"),
            });
        }
        fn finish(&mut self, job: u64, state: TaskState, code: Option<i32>) -> Vec<Command> {
            self.s
                .on_event(&PoolEvent::TaskFinished(Box::new(TaskReport {
                    task: TaskId(9 + job),
                    worker: Some(WorkerId(1)),
                    state,
                    output: TaskOutput {
                        stdout: format!("out{job}\n"),
                        stderr: format!("err{job}\n"),
                        exit_code: code,
                        ..TaskOutput::default()
                    },
                    error: None,
                    wall: Duration::from_millis(5),
                    cpu: Duration::ZERO,
                    max_rss: None,
                    attempts: u32::from(state != TaskState::Cancelled),
                    line: Arc::from("x"),
                })))
        }
    }

    #[test]
    fn output_in_completion_order_or_input_order() {
        for keep in [false, true] {
            let mut r = rig(3, keep, "never");
            for j in 1..=3 {
                r.start(j);
            }
            r.finish(3, TaskState::Done, Some(0));
            r.finish(1, TaskState::Done, Some(0));
            r.finish(2, TaskState::Failed, Some(4));
            let want = if keep {
                "out1\nout2\nout3\n"
            } else {
                "out3\nout1\nout2\n"
            };
            assert_eq!(r.out.text(), want, "keep_order {keep}");
            assert_eq!(r.s.exit_status(), 1);
        }
    }

    #[test]
    fn keep_order_steps_over_cancelled_jobs() {
        let mut r = rig(3, true, "never");
        r.start(2);
        r.finish(2, TaskState::Done, Some(0));
        assert_eq!(r.out.text(), "", "job 1 has not finished yet");
        r.finish(1, TaskState::Cancelled, None);
        r.finish(3, TaskState::Cancelled, None);
        assert_eq!(r.out.text(), "out2\n");
        assert_eq!(r.s.exit_status(), 0);
    }

    #[test]
    fn halt_now_stops_printing_and_kills_the_rest() {
        let mut r = rig(4, false, "now,fail=1");
        for j in 1..=3 {
            r.start(j);
        }
        assert!(r.finish(1, TaskState::Done, Some(0)).is_empty());
        let cmds = r.finish(2, TaskState::Failed, Some(3));
        assert!(matches!(cmds.as_slice(), [Command::KillAll]), "{cmds:?}");
        // What the kill ends, and a job that raced it, are not printed.
        r.finish(3, TaskState::Done, Some(0));
        r.finish(4, TaskState::Cancelled, None);
        assert_eq!(r.out.text(), "out1\nout2\n");
        assert!(
            r.err
                .text()
                .ends_with("err2\npooltop: This job failed:\necho in2\n"),
            "{}",
            r.err.text()
        );
        assert_eq!(r.s.exit_status(), 3);
    }

    #[test]
    fn halt_soon_cancels_the_queue_and_lets_running_jobs_finish() {
        let mut r = rig(4, false, "soon,fail=1");
        r.start(1);
        r.start(2);
        let cmds = r.finish(1, TaskState::Failed, Some(5));
        assert!(
            matches!(
                cmds.as_slice(),
                [Command::CancelQueued, Command::ResumeDispatch]
            ),
            "the pool paused after the failure: cancel, then let retries run: {cmds:?}"
        );
        assert!(
            r.err
                .text()
                .contains("Starting no more jobs. Waiting for 1 jobs to finish."),
            "{}",
            r.err.text()
        );
        r.finish(2, TaskState::Done, Some(0));
        r.finish(3, TaskState::Cancelled, None);
        assert_eq!(r.out.text(), "out1\nout2\n");
        assert_eq!(r.s.exit_status(), 5);
    }

    #[test]
    fn timed_out_jobs_are_warned_about() {
        let mut r = rig(1, false, "never");
        r.start(1);
        r.finish(1, TaskState::TimedOut, None);
        assert!(
            r.err
                .text()
                .starts_with("pooltop: Warning: This job was killed because it timed out:\npooltop: Warning: echo in1\n"),
            "{}",
            r.err.text()
        );
        assert_eq!(r.s.exit_status(), 1);
    }

    #[test]
    fn a_closed_stdout_stops_the_run() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut r = rig(2, false, "never");
        r.s.out = Sink::new("stdout", Box::new(Closed)).quiet_when_closed();
        r.start(1);
        let cmds = r.finish(1, TaskState::Done, Some(0));
        assert!(matches!(cmds.as_slice(), [Command::KillAll]));
        assert_eq!(r.s.exit_status(), 141);
        assert_eq!(
            r.err.text(),
            "err1\n",
            "a broken pipe is not an error message"
        );
    }

    /// Takes `room` bytes, then fails as a full disk does.
    #[derive(Clone)]
    struct Full(Shared, usize);
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let kept = self.0.0.lock().unwrap().len();
            let n = b.len().min(self.1.saturating_sub(kept));
            if n == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.0.0.lock().unwrap().extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_job_the_log_cannot_take_is_not_printed_and_no_new_job_starts() {
        let mut r = rig(3, false, "never");
        let log = Shared::default();
        // Room for job 1's row and a few bytes of job 2's.
        let sink = Sink::new("the job log `j`", Box::new(Full(log.clone(), 60)));
        r.s.joblog = Some(JobLog::to(sink));
        for j in 1..=3 {
            r.start(j);
        }
        assert!(r.finish(1, TaskState::Done, Some(0)).is_empty());
        let cmds = r.finish(2, TaskState::Done, Some(0));
        assert!(
            matches!(cmds.as_slice(), [Command::CancelQueued]),
            "{cmds:?}"
        );
        assert!(r.finish(3, TaskState::Failed, Some(1)).is_empty());
        assert_eq!(r.out.text(), "out1\n", "only the logged job is printed");
        assert_eq!(r.err.text(), "err1\n");
        let rows = log.text();
        assert!(rows.starts_with("1\t") && !rows.ends_with('\n'), "{rows:?}");
        assert!(r.s.lost_records());
        assert_eq!(
            r.s.exit_status(),
            254,
            "a lost record wins over a failed job"
        );
    }

    #[test]
    fn job_output_that_cannot_be_written_stops_new_jobs_and_logging() {
        let mut r = rig(3, false, "never");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        r.s.joblog = Some(JobLog::open(&log, false).unwrap());
        let out = Shared::default();
        r.s.out = Sink::new("stdout", Box::new(Full(out.clone(), 6))).quiet_when_closed();
        for j in 1..=3 {
            r.start(j);
        }
        assert!(r.finish(1, TaskState::Done, Some(0)).is_empty());
        let cmds = r.finish(2, TaskState::Done, Some(0));
        assert!(
            matches!(cmds.as_slice(), [Command::CancelQueued]),
            "{cmds:?}"
        );
        r.finish(3, TaskState::Done, Some(0));
        assert_eq!(out.text(), "out1\no");
        let rows = std::fs::read_to_string(&log).unwrap();
        let seqs: Vec<&str> = rows.lines().skip(1).map(|l| &l[..1]).collect();
        assert_eq!(
            seqs,
            ["1"],
            "job 2's output failed: its row was taken back; job 3's was not printed: not logged"
        );
        assert_eq!(r.s.exit_status(), 254);
    }

    #[test]
    fn a_lost_json_stream_is_a_lost_record_too() {
        let mut r = rig(1, false, "never");
        r.start(1);
        r.finish(1, TaskState::Done, Some(0));
        assert_eq!(r.s.exit_status(), 0);
        assert_eq!(r.s.exit_status_with(true), 254);
    }
}
