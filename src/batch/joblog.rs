//! GNU parallel's `--joblog`: one tab-separated row per finished job, and
//! reading an old log back for `--resume` / `--resume-failed`. Formatting and
//! parsing are pure and unit-tested; [`JobLog`] writes and flushes the rows,
//! each whole, and a resume drops a torn last row ([`drop_torn_row`]).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::report::sink::{Lost, Sink};

/// The first line of a job log.
pub const HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// One finished job, as a row of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    /// The job's sequence number (`{#}`).
    pub seq: u64,
    /// When its (last) run started.
    pub start: SystemTime,
    pub runtime: Duration,
    /// Bytes of standard output it produced.
    pub receive: u64,
    /// Its exit status: -1 when it did not exit by itself (timed out, lost).
    pub exitval: i32,
    /// The signal that ended it, or 0.
    pub signal: i32,
    /// The command line it ran.
    pub command: &'a str,
    /// The host it ran on (`--ssh`, `--launcher`); none: this machine, `:`.
    pub host: Option<&'a str>,
}

impl Row<'_> {
    /// The row exactly as parallel writes it: the host (`:` for this machine),
    /// start time in seconds since the epoch with 3 decimals, run time
    /// truncated to milliseconds in a field of 10, Send 0, and newlines in
    /// the command as NUL bytes (so that one row stays one line).
    pub fn format(&self) -> String {
        let start = self
            .start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let runtime_ms = self.runtime.as_millis() as f64 / 1000.0;
        format!(
            "{}\t{}\t{start:.3}\t{runtime_ms:10.3}\t0\t{}\t{}\t{}\t{}\n",
            self.seq,
            self.host.unwrap_or(":"),
            self.receive,
            self.exitval,
            self.signal,
            self.command.replace('\n', "\0"),
        )
    }
}

/// The sequence numbers an old log says need not run again: with
/// `failed_too` false (`--resume`) every job it lists; with `failed_too`
/// (`--resume-failed`) only those that succeeded (exit status 0, no signal).
/// The first line is the header. A row that is not a job log row is an error
/// naming its line.
pub fn finished_seqs(text: &str, failed_too: bool) -> Result<HashSet<u64>, String> {
    let mut done = HashSet::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(9, '\t').collect();
        let seq = fields.first().and_then(|s| s.parse::<u64>().ok());
        let (Some(seq), true) = (seq, fields.len() == 9) else {
            let shown: String = line.chars().take(80).collect();
            return Err(format!("line {}: not a job log row: `{shown}`", i + 1));
        };
        if !failed_too || (fields[6] == "0" && fields[7] == "0") {
            done.insert(seq);
        }
    }
    Ok(done)
}

/// An old log's whole rows, and the warning to give when its last row is
/// torn (it has no newline at its end: its write was cut short, by a full
/// disk or a crash). The torn row is dropped, so its job runs again; `name`
/// is the log's path, for the warning. A bad row anywhere else is still
/// [`finished_seqs`]' error.
pub fn drop_torn_row<'a>(text: &'a str, name: &str) -> (&'a str, Option<String>) {
    let whole = whole_len(text.as_bytes());
    if whole == text.len() {
        return (text, None);
    }
    let line = text[..whole].matches('\n').count() + 1;
    let shown: String = text[whole..].chars().take(40).collect();
    let shown = shown.escape_debug();
    let warning = format!(
        "pooltop: Warning: the job log `{name}` ends in a torn row (line {line}, `{shown}`, \
         has no newline): it is dropped and its job runs again"
    );
    (&text[..whole], Some(warning))
}

/// The bytes of a log up to and including its last newline: what is left
/// when a torn last row is cut off.
fn whole_len(log: &[u8]) -> usize {
    log.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// What the message says when the log cannot be written.
const LOST_THEN: &str = "starting no more jobs (`--resume` runs the ones not in the log)";

/// An open job log: each row is written whole, with one write, and flushed
/// as it comes, so a log cut short by a crash or a full disk still says
/// which jobs finished (and at worst ends in one torn row, which a resume
/// drops). A failed write is said once and remembered ([`JobLog::lost`]).
pub struct JobLog {
    out: Sink,
    /// The log file, to take its last row back ([`JobLog::take_back`]);
    /// none on standard output or another file that cannot be cut.
    file: Option<File>,
    /// Its length: up to the end of the last row written, and before it.
    len: u64,
    before_last: Option<u64>,
}

impl JobLog {
    /// Opens the log at `path` (`-`: standard output). With `append` (a
    /// resume) and a log that has a whole first line, rows are added to it,
    /// after cutting off a torn last row; otherwise it is created (or
    /// emptied) and starts with the header. An error here (the header
    /// cannot be written, say) means nothing should run.
    pub fn open(path: &Path, append: bool) -> io::Result<JobLog> {
        let what = Sink::describe("the job log", path);
        if path == Path::new("-") {
            let mut out = io::stdout();
            writeln!(out, "{HEADER}")?;
            out.flush()?;
            let out = Sink::new(what, Box::new(out)).then(LOST_THEN);
            return Ok(JobLog::to(out));
        }
        let kept = if append { keep_whole_rows(path)? } else { 0 };
        let mut file = if kept > 0 {
            OpenOptions::new().append(true).open(path)?
        } else {
            File::create(path)?
        };
        let mut len = kept;
        if kept == 0 {
            let header = format!("{HEADER}\n");
            file.write_all(header.as_bytes())?;
            len = header.len() as u64;
        }
        let cut = file
            .metadata()?
            .is_file()
            .then(|| file.try_clone())
            .transpose()?;
        let out = Sink::new(what, Box::new(file)).then(LOST_THEN);
        Ok(JobLog {
            file: cut,
            len,
            ..JobLog::to(out)
        })
    }

    /// A log written to `out`, its header already there, whose rows cannot
    /// be taken back.
    pub(crate) fn to(out: Sink) -> JobLog {
        JobLog {
            out: out.then(LOST_THEN),
            file: None,
            len: 0,
            before_last: None,
        }
    }

    /// Writes one row, whole, and flushes it; false when the log is lost
    /// (by this write or an earlier one).
    pub fn write(&mut self, row: &Row) -> bool {
        let line = row.format();
        let written = self.out.write_all(line.as_bytes()) && self.out.flush();
        if written {
            self.before_last = Some(self.len);
            self.len += line.len() as u64;
        }
        written
    }

    /// Takes the row just written out of the log again (its job's output
    /// could not be printed after all, so a resume must run it); false when
    /// it cannot be (a log on standard output, no row since the last
    /// take-back, or the cut failed).
    pub fn take_back(&mut self) -> bool {
        use std::io::{Seek, SeekFrom};
        let (Some(file), Some(at)) = (&mut self.file, self.before_last) else {
            return false;
        };
        // The clone shares the written file's offset: move it back too, so
        // that a log opened without O_APPEND goes on at the cut.
        if file
            .set_len(at)
            .and_then(|()| file.seek(SeekFrom::Start(at)))
            .is_err()
        {
            return false;
        }
        self.len = at;
        self.before_last = None;
        true
    }

    /// The failure that stopped the log, if one did.
    pub fn lost(&self) -> Option<&Lost> {
        self.out.lost()
    }
}

/// Cuts a torn last row off the log at `path`; returns the length kept (0
/// when there is no log, or nothing whole in it).
fn keep_whole_rows(path: &Path) -> io::Result<u64> {
    match std::fs::metadata(path) {
        // Only a file can be read to its end and cut (not /dev/full or a
        // fifo): anything else is started afresh.
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    }
    let bytes = std::fs::read(path)?;
    let whole = whole_len(&bytes);
    if whole < bytes.len() {
        OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(whole as u64)?;
    }
    Ok(whole as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_look_like_parallel_s() {
        let row = Row {
            seq: 12,
            start: UNIX_EPOCH + Duration::from_micros(1_795_310_453_633_400),
            runtime: Duration::from_micros(12_999),
            receive: 6,
            exitval: 3,
            signal: 0,
            command: "echo 'a b'; exit 3",
            host: None,
        };
        assert_eq!(
            row.format(),
            "12\t:\t1795310453.633\t     0.012\t0\t6\t3\t0\techo 'a b'; exit 3\n"
        );
        let long = Row {
            runtime: Duration::from_secs(123_456),
            exitval: -1,
            signal: 9,
            command: "printf 'a\nb'",
            ..row
        };
        assert_eq!(
            long.format(),
            "12\t:\t1795310453.633\t123456.000\t0\t6\t-1\t9\tprintf 'a\0b'\n"
        );
    }

    #[test]
    fn resume_reads_which_jobs_are_finished() {
        let log = format!(
            "{HEADER}\n\
             1\t:\t1.000\t     0.006\t0\t0\t0\t0\texit 0\n\
             2\t:\t1.000\t     0.000\t0\t0\t1\t0\texit 1\n\
             4\t:\t1.000\t     0.000\t0\t0\t0\t9\tkill -9 $$\n\
             2\t:\t2.000\t     0.000\t0\t8\t0\t0\techo again\twith a tab\n"
        );
        let all = finished_seqs(&log, false).unwrap();
        assert_eq!(all, HashSet::from([1, 2, 4]));
        let ok = finished_seqs(&log, true).unwrap();
        assert_eq!(ok, HashSet::from([1, 2]), "2 succeeded the second time");
        let e = finished_seqs(&format!("{HEADER}\nnonsense\n"), false).unwrap_err();
        assert!(e.starts_with("line 2: not a job log row"), "{e}");
        assert!(finished_seqs("", true).unwrap().is_empty());
    }

    #[test]
    fn a_log_starts_with_the_header_unless_a_resume_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let row = Row {
            seq: 1,
            start: UNIX_EPOCH,
            runtime: Duration::ZERO,
            receive: 0,
            exitval: 0,
            signal: 0,
            command: "true",
            host: None,
        };
        assert!(JobLog::open(&path, false).unwrap().write(&row));
        assert!(JobLog::open(&path, true).unwrap().write(&row));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert_eq!(text.lines().filter(|l| *l == HEADER).count(), 1);
        JobLog::open(&path, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n")
        );
    }

    #[test]
    fn a_torn_last_row_is_dropped_and_cut_off_before_a_resume_appends() {
        let whole = format!("{HEADER}\n1\t:\t1.000\t     0.006\t0\t0\t0\t0\texit 0\n");
        let torn = format!("{whole}1328\t:\t");
        let (kept, warning) = drop_torn_row(&torn, "j.log");
        assert_eq!(kept, whole);
        assert_eq!(
            warning.unwrap(),
            "pooltop: Warning: the job log `j.log` ends in a torn row (line 3, `1328\\t:\\t`, \
             has no newline): it is dropped and its job runs again"
        );
        assert_eq!(drop_torn_row(&whole, "j.log"), (whole.as_str(), None));
        // Torn anywhere but at the end is still not a job log.
        let middle = format!("{HEADER}\n1328\t:\t\n2\t:\t1.000\t0\t0\t0\t0\t0\tx\n");
        let (kept, warning) = drop_torn_row(&middle, "j.log");
        assert!(warning.is_none());
        assert!(finished_seqs(kept, false).is_err());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, &torn).unwrap();
        let row = Row {
            seq: 2,
            start: UNIX_EPOCH,
            runtime: Duration::ZERO,
            receive: 0,
            exitval: 0,
            signal: 0,
            command: "true",
            host: None,
        };
        assert!(JobLog::open(&path, true).unwrap().write(&row));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{whole}{}", row.format()));
        // A log torn inside its header starts again from the header.
        std::fs::write(&path, "Seq\tHo").unwrap();
        JobLog::open(&path, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n")
        );
    }

    #[test]
    fn the_last_row_can_be_taken_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let row = |seq| Row {
            seq,
            start: UNIX_EPOCH,
            runtime: Duration::ZERO,
            receive: 0,
            exitval: 0,
            signal: 0,
            command: "true",
            host: None,
        };
        for append in [false, true] {
            let mut log = JobLog::open(&path, append).unwrap();
            assert!(log.write(&row(1)) && log.write(&row(2)));
            assert!(log.take_back());
            assert!(!log.take_back(), "only the row just written");
            assert!(log.write(&row(3)));
            drop(log);
            let text = std::fs::read_to_string(&path).unwrap();
            let seqs: Vec<&str> = text.lines().skip(1).map(|l| &l[..1]).collect();
            let want: &[&str] = if append {
                &["1", "3", "1", "3"]
            } else {
                &["1", "3"]
            };
            assert_eq!(seqs, want, "{text:?}");
        }
        let mut log = JobLog::to(Sink::new("stdout", Box::new(io::sink())));
        assert!(log.write(&row(1)) && !log.take_back());
    }

    #[test]
    fn a_log_whose_header_cannot_be_written_is_refused() {
        for append in [false, true] {
            let e = JobLog::open(Path::new("/dev/full"), append).err().unwrap();
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        }
    }
}
