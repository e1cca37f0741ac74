//! Task kinds, how they are written as one line of text, and what they produce.
//!
//! Pure data: nothing here executes a task (that is `worker::exec`). A task line
//! is split into words the way a POSIX shell splits them (quotes group words,
//! backslash escapes), except `shell`, which keeps the rest of the line verbatim
//! as its command line.

use std::fmt;

use serde::{Deserialize, Serialize};

mod py;
pub use py::{PySpec, py_arg};

/// Default bounding box of `thumbnail` when the line gives none.
pub const DEFAULT_THUMB_SIZE: (u32, u32) = (128, 128);

/// One unit of work, as sent to a worker.
///
/// Wire type: keep it plain (no `skip_serializing_if`, no tagged or untagged
/// enums), because bincode is not self-describing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskSpec {
    /// Count N down to zero: the classic CPU-bound loop.
    Spin(u64),
    /// Sleep this many seconds: the classic I/O-bound stand-in.
    Sleep(f64),
    /// Return N×N: the trivial task that measures dispatch overhead.
    Square(i64),
    /// SHA-256 of a file, as lowercase hex (the same as `sha256sum`).
    Sha256(String),
    /// Blur, then shrink to fit `width`×`height` keeping the aspect ratio, saved as PNG.
    Thumbnail {
        path: String,
        width: u32,
        height: u32,
    },
    /// Run a command line with `sh -c`, capturing stdout, stderr and the exit status.
    Shell(String),
    /// Run a program directly, without a shell, capturing like [`TaskSpec::Shell`].
    /// Made by command templates (`pooltop run -- CMD …`); task files have no
    /// line for it.
    Exec(Box<ExecSpec>),
    /// Block forever without using CPU.
    Hang,
    /// Fail with this message.
    Fail(String),
    /// Abort the worker process itself.
    Crash,
    /// Call a Python function in the worker's persistent interpreter (see
    /// [`PySpec`]); added last so the other kinds keep their place on the wire.
    Py(Box<PySpec>),
}

/// A program to run directly (no shell): what [`TaskSpec::Exec`] holds.
///
/// It runs in the worker's process group, with stdin from /dev/null, and its
/// stdout and stderr are captured the way a `shell` task's are. A program
/// that cannot be started ends the way a shell would report it: exit status
/// 127 when it is not found, 126 when it may not be run, with the reason on
/// its stderr.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExecSpec {
    /// The program (looked up in `PATH` when it has no `/`) and its arguments.
    pub argv: Vec<String>,
    /// Variables added to the program's environment.
    pub env: Vec<(String, String)>,
    /// Where the job slot of the worker that runs it (see
    /// `PoolEvent::WorkerSlot`) is written into `argv`: (argument index, byte
    /// offset in the argument as it is here). Only the worker knows its slot,
    /// so it fills these in just before starting the program.
    pub slot_at: Vec<(u32, u32)>,
    /// An environment variable that receives the worker's job slot.
    pub slot_env: Option<String>,
}

impl ExecSpec {
    /// A spec that runs `argv` as it is.
    pub fn new(argv: Vec<String>) -> ExecSpec {
        ExecSpec {
            argv,
            ..ExecSpec::default()
        }
    }

    /// `argv` with the job slot written in at every place of `slot_at`
    /// (places out of range are ignored, and so are offsets that are not on a
    /// character boundary: a spec never makes them).
    pub fn argv_with_slot(&self, slot: u32) -> Vec<String> {
        let mut argv = self.argv.clone();
        if self.slot_at.is_empty() {
            return argv;
        }
        let digits = slot.to_string();
        // From the last place to the first, so earlier offsets stay valid.
        let mut places = self.slot_at.clone();
        places.sort_unstable();
        for &(arg, at) in places.iter().rev() {
            if let Some(a) = argv.get_mut(arg as usize)
                && a.is_char_boundary(at as usize)
            {
                a.insert_str(at as usize, &digits);
            }
        }
        argv
    }
}

/// The values and wall times of a run of tasks, in order, kept as one text
/// with the end of each value in it: a run of 2,000 squares is three
/// buffers rather than 2,000 strings to allocate, send and free.
///
/// Decoding checks that every value is whole whatever the bytes claimed,
/// and its room grows with what is read, not with what a length claims.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunValues {
    text: String,
    /// Where each value ends in `text` (it starts where the previous ends).
    ends: Vec<u32>,
    wall_ns: Vec<u64>,
}

impl RunValues {
    pub fn with_capacity(tasks: usize) -> RunValues {
        RunValues {
            text: String::with_capacity(tasks * 8),
            ends: Vec::with_capacity(tasks),
            wall_ns: Vec::with_capacity(tasks),
        }
    }

    /// Adds the next task's value and wall time. The text of a run stays
    /// under 4 GiB: runs come from one frame each, and frames are capped.
    pub(crate) fn push(&mut self, value: &str, wall_ns: u64) {
        self.text.push_str(value);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
        self.wall_ns.push(wall_ns);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of value text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Each task's value and wall time in nanoseconds, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .zip(&self.wall_ns)
            .map(|((start, &end), &ns)| {
                let value = self.text.get(start as usize..end as usize).unwrap_or("");
                (value, ns)
            })
    }

    /// The sum of the wall times, in nanoseconds (saturating: the times
    /// come from a worker, and a sum must not wrap or panic).
    pub fn total_wall_ns(&self) -> u64 {
        self.wall_ns
            .iter()
            .fold(0, |sum, &ns| sum.saturating_add(ns))
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.wall_ns.clear();
    }
}

impl<'a> FromIterator<(&'a str, u64)> for RunValues {
    fn from_iter<I: IntoIterator<Item = (&'a str, u64)>>(pairs: I) -> RunValues {
        let mut out = RunValues::default();
        for (value, wall_ns) in pairs {
            out.push(value, wall_ns);
        }
        out
    }
}

/// On the wire a run is three columns: `(text, ends, wall_ns)`. Decoding
/// then checks the text once rather than value by value (a per-value string
/// cost about as much as the rest of a task's bookkeeping in the manager).
impl Serialize for RunValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.text.as_str(), &self.ends, &self.wall_ns).serialize(s)
    }
}

impl<'de> Deserialize<'de> for RunValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (text, List(ends), List(wall_ns)): (String, List<u32>, List<u64>) =
            Deserialize::deserialize(d)?;
        // Each value must be whole: ends in order, within the text, on
        // character boundaries, one per wall time.
        let mut start = 0;
        for &end in &ends {
            let end = end as usize;
            if end < start || !text.is_char_boundary(end) {
                return Err(serde::de::Error::custom(
                    "a run's value ends out of order or mid-character",
                ));
            }
            start = end;
        }
        if start != text.len() || ends.len() != wall_ns.len() {
            return Err(serde::de::Error::custom("a run's columns do not match"));
        }
        Ok(RunValues {
            text,
            ends,
            wall_ns,
        })
    }
}

/// A list in a frame (a run's columns here, a chunk of task specs in
/// `protocol`), decoded without trusting the length it claims: serde
/// would reserve room for up to 1 MiB of elements on the claim alone (13
/// bytes could claim a million), while here the room grows with the
/// elements actually read, so decoding stays within its bound of 32 times
/// the frame's size.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct List<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Elements<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Elements<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<List<T>, A::Error> {
                const TRUSTED: usize = 16;
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(TRUSTED));
                while let Some(x) = seq.next_element()? {
                    out.push(x);
                }
                Ok(List(out))
            }
        }
        d.deserialize_seq(Elements(std::marker::PhantomData))
    }
}

/// What a task produced, as reported by the worker that ran it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskOutput {
    /// The task's result (`square`: the number, `sha256`: the hex digest, `shell`: stdout …).
    pub value: String,
    /// The captured tail of standard output (shell tasks only).
    pub stdout: String,
    /// The captured tail of standard error (shell tasks only).
    pub stderr: String,
    /// The exit code of a shell task.
    pub exit_code: Option<i32>,
    /// The signal that ended a shell or exec task's process, if one did.
    pub signal: Option<i32>,
    /// When an exec task's stdout was not UTF-8 text of at most the output
    /// cap and the pool spills (`PoolConfig::spill_dir`): the file that holds
    /// all of it, byte for byte (`stdout` is then empty). The consumer reads
    /// it and removes it.
    pub stdout_file: Option<String>,
    /// The same for stderr.
    pub stderr_file: Option<String>,
}

impl TaskOutput {
    /// Whether the output is a value and nothing else (no captured streams,
    /// exit status or spill files), as instant tasks produce.
    pub fn is_value_only(&self) -> bool {
        self.stdout.is_empty()
            && self.stderr.is_empty()
            && self.exit_code.is_none()
            && self.signal.is_none()
            && self.stdout_file.is_none()
            && self.stderr_file.is_none()
    }
}

/// How one run of a task ended inside the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskOutcome {
    /// The task completed; here is what it produced.
    Ok(TaskOutput),
    /// The task failed: the message says why; any captured output is kept.
    Err { message: String, output: TaskOutput },
}

/// Why a line of text is not a valid task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, e.g. "unknown task kind `spn`".
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ParseError {}

fn err(reason: impl Into<String>) -> ParseError {
    ParseError {
        reason: reason.into(),
    }
}

/// The kinds a task line may start with, for error messages and help.
pub const KINDS: &[&str] = &[
    "spin",
    "sleep",
    "square",
    "sha256",
    "thumbnail",
    "shell",
    "hang",
    "fail",
    "crash",
    "py",
];

/// The longest task line accepted, in bytes. Longer lines cannot run anyway:
/// Linux refuses a single `sh -c` argument over 128 KiB, and paths are far
/// shorter; they would only fill the manager's memory and the worker frames.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

impl TaskSpec {
    /// Parses one task line. Blank and comment lines are not tasks: see [`parse_lines`].
    pub fn parse(line: &str) -> Result<TaskSpec, ParseError> {
        if line.len() > MAX_LINE_BYTES {
            return Err(err(format!(
                "the line is {} bytes long; the limit is {} bytes",
                line.len(),
                MAX_LINE_BYTES
            )));
        }
        let trimmed = line.trim();
        let (kind, rest) = match trimmed.find(char::is_whitespace) {
            Some(i) => (&trimmed[..i], trimmed[i..].trim_start()),
            None => (trimmed, ""),
        };
        if kind.is_empty() {
            return Err(err("empty task line"));
        }
        if kind == "shell" {
            if rest.is_empty() {
                return Err(err("`shell` needs a command line, e.g. `shell echo hi`"));
            }
            return Ok(TaskSpec::Shell(rest.to_string()));
        }
        let args = shell_words::split(rest)
            .map_err(|e| err(format!("cannot split arguments: {e} (unbalanced quote?)")))?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match kind {
            "spin" => {
                let [n] = exactly::<1>(kind, "N", &args)?;
                Ok(TaskSpec::Spin(parse_count(n)?))
            }
            "sleep" => {
                let [s] = exactly::<1>(kind, "SECONDS", &args)?;
                let secs: f64 = s
                    .parse()
                    .map_err(|_| err(format!("`sleep` wants seconds, got `{s}`")))?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(err(format!(
                        "`sleep` wants a non-negative number of seconds, got `{s}`"
                    )));
                }
                Ok(TaskSpec::Sleep(secs))
            }
            "square" => {
                let [n] = exactly::<1>(kind, "N", &args)?;
                let n: i64 = n
                    .parse()
                    .map_err(|_| err(format!("`square` wants an integer, got `{n}`")))?;
                Ok(TaskSpec::Square(n))
            }
            "sha256" => {
                let [p] = exactly::<1>(kind, "PATH", &args)?;
                Ok(TaskSpec::Sha256(p.to_string()))
            }
            "thumbnail" => {
                let (path, size) = match args.as_slice() {
                    [p] => (*p, DEFAULT_THUMB_SIZE),
                    [p, s] => (*p, parse_size(s)?),
                    _ => {
                        return Err(err(format!(
                            "`thumbnail` takes PATH [WxH], got {} argument(s)",
                            args.len()
                        )));
                    }
                };
                Ok(TaskSpec::Thumbnail {
                    path: path.to_string(),
                    width: size.0,
                    height: size.1,
                })
            }
            "hang" => {
                exactly::<0>(kind, "", &args)?;
                Ok(TaskSpec::Hang)
            }
            "crash" => {
                exactly::<0>(kind, "", &args)?;
                Ok(TaskSpec::Crash)
            }
            "py" => match args.split_first() {
                Some((target, words)) => Ok(TaskSpec::Py(Box::new(PySpec::parse(target, words)?))),
                None => Err(err(
                    "`py` takes MODULE:FUNCTION [ARG ...], e.g. `py mymod:work 3`",
                )),
            },
            "fail" => Ok(TaskSpec::Fail(if args.is_empty() {
                "failed on purpose".to_string()
            } else {
                args.join(" ")
            })),
            other => Err(err(format!(
                "unknown task kind `{other}` (expected one of: {})",
                KINDS.join(", ")
            ))),
        }
    }

    /// Whether running it takes next to no time and cannot end the worker:
    /// only then may a worker hold back its result to report it together
    /// with the next ones (a held-back result must never wait behind a
    /// task that hangs or crashes).
    pub fn is_instant(&self) -> bool {
        matches!(self, TaskSpec::Square(_) | TaskSpec::Fail(_))
    }

    /// The kind's name, as written at the start of a task line.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskSpec::Spin(_) => "spin",
            TaskSpec::Sleep(_) => "sleep",
            TaskSpec::Square(_) => "square",
            TaskSpec::Sha256(_) => "sha256",
            TaskSpec::Thumbnail { .. } => "thumbnail",
            TaskSpec::Shell(_) => "shell",
            TaskSpec::Exec(_) => "exec",
            TaskSpec::Hang => "hang",
            TaskSpec::Fail(_) => "fail",
            TaskSpec::Crash => "crash",
            TaskSpec::Py(_) => "py",
        }
    }
}

impl TaskSpec {
    /// The file this task writes when it runs in a pool whose output folder
    /// is `out_dir`, if it writes one: a `thumbnail` writes
    /// `<out_dir>/<file stem>.png` (as `worker::kinds::thumbnail` names it).
    /// A run refuses two tasks that would write the same file.
    pub fn output_file(&self, out_dir: &std::path::Path) -> Option<std::path::PathBuf> {
        match self {
            TaskSpec::Thumbnail { path, .. } => {
                let mut name = std::path::Path::new(path)
                    .file_stem()
                    .unwrap_or(std::ffi::OsStr::new("thumbnail"))
                    .to_os_string();
                name.push(".png");
                Some(out_dir.join(name))
            }
            _ => None,
        }
    }
}

/// Checks that `args` holds exactly `N` arguments and returns them.
fn exactly<'a, const N: usize>(
    kind: &str,
    usage: &str,
    args: &[&'a str],
) -> Result<[&'a str; N], ParseError> {
    <[&str; N]>::try_from(args).map_err(|_| {
        if N == 0 {
            err(format!("`{kind}` takes no arguments, got {}", args.len()))
        } else {
            err(format!(
                "`{kind}` takes {usage}, got {} argument(s)",
                args.len()
            ))
        }
    })
}

/// Parses a count written as `100000000` or `1e8`.
fn parse_count(s: &str) -> Result<u64, ParseError> {
    if let Ok(n) = s.replace('_', "").parse::<u64>() {
        return Ok(n);
    }
    let bad = || {
        err(format!(
            "`spin` wants a whole number such as 100000000 or 1e8, got `{s}`"
        ))
    };
    let f: f64 = s.parse().map_err(|_| bad())?;
    // 2^64 is exactly representable; anything at or above it does not fit.
    if !f.is_finite() || f < 0.0 || f.fract() != 0.0 || f >= 18_446_744_073_709_551_616.0 {
        return Err(bad());
    }
    Ok(f as u64)
}

/// Parses a size written `WxH`, both at least 1.
fn parse_size(s: &str) -> Result<(u32, u32), ParseError> {
    let bad = || {
        err(format!(
            "`thumbnail` size must be WxH with both at least 1, e.g. 128x96, got `{s}`"
        ))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

/// One task line of a file, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// 1-based line number in the input.
    pub line_no: usize,
    /// The line as written (without the newline).
    pub text: String,
    /// The task it describes.
    pub spec: TaskSpec,
}

/// A line of the input that is not a valid task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the input.
    pub line_no: usize,
    /// The line as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long lines are cut so that one bad line cannot flood the terminal.
        const SHOWN: usize = 120;
        let shown: String = self.text.chars().take(SHOWN).collect();
        let cut = if self.text.chars().count() > SHOWN {
            "…"
        } else {
            ""
        };
        write!(
            f,
            "line {}: `{}{}`: {}",
            self.line_no, shown, cut, self.reason
        )
    }
}

/// Whether a line carries no task (blank or a `#` comment).
pub fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Parses every line of a task file. Returns all tasks, or every bad line.
pub fn parse_lines(input: &str) -> Result<Vec<ParsedLine>, Vec<LineError>> {
    let mut tasks = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in input.lines().enumerate() {
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        if is_blank_or_comment(text) {
            continue;
        }
        match TaskSpec::parse(text) {
            Ok(spec) => tasks.push(ParsedLine {
                line_no: i + 1,
                text: text.trim().to_string(),
                spec,
            }),
            Err(e) => errors.push(LineError {
                line_no: i + 1,
                text: text.to_string(),
                reason: e.reason,
            }),
        }
    }
    if errors.is_empty() {
        Ok(tasks)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_values_keep_each_value_whole_and_in_order() {
        let values: RunValues = [("1", 5), ("", 6), ("äö", 7), ("144", 8)]
            .into_iter()
            .collect();
        assert_eq!(values.len(), 4);
        let got: Vec<(&str, u64)> = values.iter().collect();
        assert_eq!(got, [("1", 5), ("", 6), ("äö", 7), ("144", 8)]);
        assert_eq!(values.total_wall_ns(), 26);
        assert_eq!(values.text_len(), 1 + 2 * 2 + 3);
    }

    #[test]
    fn run_values_travel_whole_and_broken_columns_are_refused() {
        let config = bincode::config::standard();
        let values: RunValues = [("25", 100), ("ü x", u64::MAX), ("", 0)]
            .into_iter()
            .collect();
        let encoded = bincode::serde::encode_to_vec(&values, config).unwrap();
        let (back, _): (RunValues, usize) =
            bincode::serde::decode_from_slice(&encoded, config).unwrap();
        assert_eq!(back, values);
        assert_eq!(back.total_wall_ns(), u64::MAX, "saturates");
        let decode = |text: &str, ends: Vec<u32>, walls: Vec<u64>| {
            let bytes = bincode::serde::encode_to_vec((text, ends, walls), config).unwrap();
            bincode::serde::decode_from_slice::<RunValues, _>(&bytes, config).map(|(v, _)| v)
        };
        assert!(decode("ab", vec![1, 2], vec![5, 6]).is_ok());
        assert!(
            decode("ab", vec![2, 1], vec![5, 6]).is_err(),
            "out of order"
        );
        assert!(
            decode("ab", vec![1, 3], vec![5, 6]).is_err(),
            "past the text"
        );
        assert!(decode("ab", vec![1], vec![5]).is_err(), "text left over");
        assert!(
            decode("ab", vec![1, 2], vec![5]).is_err(),
            "a wall time short"
        );
        assert!(
            decode("ü", vec![1, 2], vec![5, 6]).is_err(),
            "mid-character"
        );
    }

    #[test]
    fn refuses_lines_over_the_limit() {
        let long = format!("shell echo {}", "x".repeat(MAX_LINE_BYTES));
        let e = TaskSpec::parse(&long).unwrap_err();
        assert!(e.reason.contains("limit is 1048576 bytes"), "{e}");
        let fits = format!("fail {}", "x".repeat(MAX_LINE_BYTES - 5));
        assert!(TaskSpec::parse(&fits).is_ok());
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(TaskSpec::parse("spin 1e8"), Ok(TaskSpec::Spin(100_000_000)));
        assert_eq!(TaskSpec::parse("spin 1_000"), Ok(TaskSpec::Spin(1000)));
        assert_eq!(TaskSpec::parse("sleep 0.25"), Ok(TaskSpec::Sleep(0.25)));
        assert_eq!(TaskSpec::parse("square -7"), Ok(TaskSpec::Square(-7)));
        assert_eq!(
            TaskSpec::parse(r#"sha256 "my file.bin""#),
            Ok(TaskSpec::Sha256("my file.bin".into()))
        );
        assert_eq!(
            TaskSpec::parse(r"sha256 my\ file.bin"),
            Ok(TaskSpec::Sha256("my file.bin".into()))
        );
        assert_eq!(
            TaskSpec::parse("thumbnail a.png 64x32"),
            Ok(TaskSpec::Thumbnail {
                path: "a.png".into(),
                width: 64,
                height: 32
            })
        );
        assert_eq!(
            TaskSpec::parse("shell echo 'a  b' | wc -c"),
            Ok(TaskSpec::Shell("echo 'a  b' | wc -c".into()))
        );
        assert_eq!(TaskSpec::parse("hang"), Ok(TaskSpec::Hang));
        assert_eq!(TaskSpec::parse("crash"), Ok(TaskSpec::Crash));
        assert_eq!(
            TaskSpec::parse("fail disk on fire"),
            Ok(TaskSpec::Fail("disk on fire".into()))
        );
    }

    #[test]
    fn rejects_bad_lines_with_reasons() {
        for (line, needle) in [
            ("spn 5", "unknown task kind `spn`"),
            ("spin", "takes N"),
            ("spin -1", "whole number"),
            ("spin 1.5", "whole number"),
            ("spin 1e30", "whole number"),
            ("sleep -1", "non-negative"),
            ("sleep soon", "wants seconds"),
            ("square 1.5", "integer"),
            ("sha256", "takes PATH"),
            ("sha256 'unclosed", "unbalanced quote"),
            ("thumbnail a.png 0x5", "WxH"),
            ("thumbnail a.png big", "WxH"),
            ("hang now", "no arguments"),
            ("shell", "needs a command line"),
            ("py", "takes MODULE:FUNCTION"),
            ("py work", "no colon"),
            ("py :work", "module name is empty"),
            ("py mod:", "function name is empty"),
            ("py mod:a-b", "not a Python function name"),
            ("py mod:1x", "not a Python function name"),
        ] {
            let e = TaskSpec::parse(line).expect_err(line);
            assert!(e.reason.contains(needle), "{line}: {}", e.reason);
        }
    }

    #[test]
    fn exec_slot_goes_where_it_is_asked() {
        let spec = ExecSpec {
            argv: vec!["echo".into(), "slot-".into(), "é:".into(), "x".into()],
            slot_at: vec![(1, 5), (2, 2), (2, 0), (9, 0), (2, 1)],
            ..ExecSpec::default()
        };
        // (2, 1) is inside the two-byte "é": ignored rather than splitting it.
        assert_eq!(spec.argv_with_slot(12), ["echo", "slot-12", "12é12:", "x"]);
        assert_eq!(
            ExecSpec::new(vec!["true".into()]).argv_with_slot(3),
            ["true"]
        );
    }

    #[test]
    fn reports_all_bad_lines_with_numbers() {
        let input = "# comment\n\nsquare 2\nbogus\nspin x\r\nsleep 1\n";
        let errors = parse_lines(input).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line_no, 4);
        assert_eq!(errors[1].line_no, 5);
        assert_eq!(errors[1].text, "spin x");
        assert!(
            errors[0]
                .to_string()
                .starts_with("line 4: `bogus`: unknown task kind")
        );
        let ok = parse_lines("square 2\n  # indented comment\nsleep 0\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].line_no, 3);
    }
}
