//! What a finished task shows on the terminal: its result on stdout, in the
//! form its kind's own tool prints, and on stderr its own error output and,
//! when it did not end done, a line naming it and why. The headless runner
//! prints these as tasks finish (or in input order: [`InOrder`]); `pooltop
//! wait --results` prints the same for the tasks it waited for.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use pooltop::engine::{TaskId, TaskReport, TaskState};
use pooltop::task::{TaskOutput, TaskSpec};

/// What one finished task shows. Plain data: it crosses the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    /// The task's id.
    pub task: u64,
    /// For stdout: the result, as its kind's tool prints it (empty when
    /// the task has nothing to print or did not end done, except a shell
    /// task's own output, which is printed either way).
    pub stdout: String,
    /// For stderr: a shell task's own error output, as it is.
    pub stderr: String,
    /// Why it did not end done: `task 3 failed (`fail x`): x` (none when
    /// done). The caller adds where the task came from, if it knows.
    pub problem: Option<Problem>,
}

/// A task that did not end done, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `failed`, `timed out` or `cancelled`.
    pub word: String,
    /// The task line as written.
    pub line: String,
    /// The reason the pool gave.
    pub reason: String,
    /// Whether it never started (a queued task cancelled at shutdown).
    pub never_started: bool,
}

impl Shown {
    /// What a finished task shows.
    pub fn of(report: &TaskReport) -> Shown {
        let kind = kind_of(&report.line);
        let output = &report.output;
        let done = report.state == TaskState::Done;
        let stdout = if kind == "shell" {
            output.stdout.clone()
        } else if done {
            result_text(&report.line, output)
        } else {
            String::new()
        };
        let problem = (!done).then(|| Problem {
            word: state_words(report.state).to_string(),
            line: report.line.to_string(),
            reason: report
                .error
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
            never_started: report.attempts == 0,
        });
        Shown {
            task: report.task.0,
            stdout,
            stderr: if kind == "shell" {
                output.stderr.clone()
            } else {
                String::new()
            },
            problem,
        }
    }

    /// The task's value when it was done in a run of instant tasks (see
    /// [`pooltop::DoneRun`]).
    pub fn of_value(task: TaskId, line: &str, value: &str) -> Shown {
        let mut stdout = String::new();
        push_value_result(&mut stdout, line, value);
        Shown {
            task: task.0,
            stdout,
            stderr: String::new(),
            problem: None,
        }
    }

    /// The line for stderr when it did not end done, with where it came
    /// from when that is known (`hills.txt:4`).
    pub fn problem_line(&self, origin: Option<&str>) -> Option<String> {
        let p = self.problem.as_ref()?;
        let from = match origin {
            Some(o) => format!("{o} `{}`", p.line),
            None => format!("`{}`", p.line),
        };
        Some(format!(
            "pooltop: task {} {} ({from}): {}",
            self.task, p.word, p.reason
        ))
    }

    /// Bytes kept (for bounded stores).
    pub fn size(&self) -> usize {
        self.stdout.len()
            + self.stderr.len()
            + self
                .problem
                .as_ref()
                .map_or(0, |p| p.line.len() + p.reason.len())
            + 64
    }
}

fn state_words(state: TaskState) -> &'static str {
    match state {
        TaskState::Done => "done",
        TaskState::Failed => "failed",
        TaskState::TimedOut => "timed out",
        TaskState::Cancelled => "cancelled",
    }
}

/// The first word of a task line: its kind.
fn kind_of(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

/// A done task's result as its kind's tool prints it: `sha256` as
/// `sha256sum` does (`HASH  PATH`), a `shell` task's stdout as it is, any
/// other the value on a line of its own; nothing for an empty value.
fn result_text(line: &str, output: &TaskOutput) -> String {
    match kind_of(line) {
        "shell" | "exec" => output.stdout.clone(),
        _ => {
            let mut text = String::new();
            push_value_result(&mut text, line, &output.value);
            text
        }
    }
}

/// Appends what a done task whose result is only `value` prints (any kind
/// but `shell`): no allocation of its own for the common case, since runs
/// of instant tasks print a million of these.
pub fn push_value_result(out: &mut String, line: &str, value: &str) {
    match kind_of(line) {
        "sha256" => match TaskSpec::parse(line) {
            Ok(TaskSpec::Sha256(path)) => out.push_str(&sha256sum_line(value, &path)),
            _ => {
                out.push_str(value);
                out.push('\n');
            }
        },
        _ if value.is_empty() => {}
        _ => {
            out.push_str(value);
            out.push('\n');
        }
    }
}

/// One line of `sha256sum`'s output, byte for byte (GNU coreutils 9.1): a
/// name with a backslash or a newline is escaped (`\\`, `\n`) and the line
/// then starts with a backslash, so `sha256sum -c` reads it back.
pub fn sha256sum_line(hex: &str, path: &str) -> String {
    if !path.contains(['\\', '\n']) {
        return format!("{hex}  {path}\n");
    }
    let mut line = format!("\\{hex}  ");
    for c in path.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            c => line.push(c),
        }
    }
    line.push('\n');
    line
}

/// Where a run's tasks came from: a task file's name and each task's line,
/// so a failure names `hills.txt:4`. Tasks submitted later (`pooltop
/// submit`) have no entry.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// The task file's name (`hills.txt`, `<stdin>`, `demo`).
    pub source: String,
    /// The first task's id (set once the tasks are submitted).
    pub first: Option<TaskId>,
    /// Each task's line number, in submission order.
    pub lines: Vec<usize>,
}

impl Origins {
    /// `hills.txt:4` for the task on line 4 of the task file.
    pub fn of(&self, task: TaskId) -> Option<String> {
        let i = task.0.checked_sub(self.first?.0)?;
        let line = self.lines.get(usize::try_from(i).ok()?)?;
        let mut s = String::new();
        let _ = write!(s, "{}:{line}", self.source);
        Some(s)
    }
}

/// Holds results back until every earlier task has finished, so they come
/// out in input (id) order (`-k`, `--keep-order`).
#[derive(Debug, Default)]
pub struct InOrder {
    next: u64,
    waiting: BTreeMap<u64, String>,
}

impl InOrder {
    /// Results from task `first` on.
    pub fn starting_at(first: TaskId) -> InOrder {
        InOrder {
            next: first.0,
            waiting: BTreeMap::new(),
        }
    }

    /// Takes task `task`'s text; returns what may be printed now, in order.
    pub fn push(&mut self, task: TaskId, text: String) -> String {
        if task.0 < self.next {
            return text; // submitted before the first: nothing to wait for
        }
        self.waiting.insert(task.0, text);
        let mut out = String::new();
        while let Some(t) = self.waiting.remove(&self.next) {
            out.push_str(&t);
            self.next += 1;
        }
        out
    }

    /// Whatever is still held back (tasks that never finished), in order.
    pub fn rest(&mut self) -> String {
        std::mem::take(&mut self.waiting).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::engine::WorkerId;
    use std::sync::Arc;
    use std::time::Duration;

    fn report(line: &str, state: TaskState, output: TaskOutput, error: Option<&str>) -> TaskReport {
        TaskReport {
            task: TaskId(3),
            worker: Some(WorkerId(1)),
            state,
            output,
            error: error.map(String::from),
            wall: Duration::from_millis(5),
            cpu: Duration::ZERO,
            attempts: 1,
            max_rss: None,
            line: Arc::from(line),
        }
    }

    fn value(v: &str) -> TaskOutput {
        TaskOutput {
            value: v.into(),
            ..TaskOutput::default()
        }
    }

    #[test]
    fn each_kind_prints_as_its_tool_does() {
        let done =
            |line: &str, out: TaskOutput| Shown::of(&report(line, TaskState::Done, out, None));
        assert_eq!(
            done("sha256 'a b.bin'", value("ab12")).stdout,
            "ab12  a b.bin\n"
        );
        assert_eq!(
            done("thumbnail x.png", value("out/x.png")).stdout,
            "out/x.png\n"
        );
        assert_eq!(done("square 4", value("16")).stdout, "16\n");
        assert_eq!(done("sleep 0.1", value("")).stdout, "", "nothing to say");
        let shell = TaskOutput {
            value: "hi".into(),
            stdout: "hi".into(),
            stderr: "warn\n".into(),
            exit_code: Some(0),
            ..TaskOutput::default()
        };
        let s = done("shell printf hi; echo warn >&2", shell);
        assert_eq!((s.stdout.as_str(), s.stderr.as_str()), ("hi", "warn\n"));
        assert_eq!(s.problem_line(Some("t.txt:1")), None);
    }

    #[test]
    fn sha256_lines_escape_names_as_sha256sum_does() {
        assert_eq!(sha256sum_line("ff", "we\\ird"), "\\ff  we\\\\ird\n");
        assert_eq!(sha256sum_line("ff", "new\nline"), "\\ff  new\\nline\n");
    }

    #[test]
    fn a_failure_names_the_task_its_line_and_why() {
        let r = report(
            "thumbnail imgs/nope.png",
            TaskState::Failed,
            TaskOutput::default(),
            Some("cannot read `imgs/nope.png`: No such file or directory (os error 2)"),
        );
        let s = Shown::of(&r);
        assert_eq!(s.stdout, "");
        assert_eq!(
            s.problem_line(Some("t.txt:7")).unwrap(),
            "pooltop: task 3 failed (t.txt:7 `thumbnail imgs/nope.png`): \
             cannot read `imgs/nope.png`: No such file or directory (os error 2)"
        );
        let mut r = r;
        r.state = TaskState::TimedOut;
        r.error = Some("timed out after 2.000s".into());
        assert_eq!(
            Shown::of(&r).problem_line(None).unwrap(),
            "pooltop: task 3 timed out (`thumbnail imgs/nope.png`): timed out after 2.000s"
        );
    }

    #[test]
    fn origins_name_the_file_and_line_of_each_task() {
        let o = Origins {
            source: "t.txt".into(),
            first: Some(TaskId(5)),
            lines: vec![1, 4],
        };
        assert_eq!(o.of(TaskId(6)).as_deref(), Some("t.txt:4"));
        assert_eq!(o.of(TaskId(4)), None);
        assert_eq!(o.of(TaskId(7)), None, "submitted later");
    }

    #[test]
    fn in_order_holds_results_until_the_earlier_ones_are_out() {
        let mut o = InOrder::starting_at(TaskId(1));
        assert_eq!(o.push(TaskId(2), "b\n".into()), "");
        assert_eq!(o.push(TaskId(4), "d\n".into()), "");
        assert_eq!(o.push(TaskId(1), "a\n".into()), "a\nb\n");
        assert_eq!(
            o.push(TaskId(3), String::new()),
            "d\n",
            "a failed task frees its place"
        );
        assert_eq!(o.push(TaskId(6), "f\n".into()), "");
        assert_eq!(o.rest(), "f\n");
    }
}
