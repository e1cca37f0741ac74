//! GNU parallel's `--joblog`: one tab-separated row per finished job, and
//! reading an old log back for `--resume` / `--resume-failed`. Formatting and
//! parsing are pure and unit-tested; [`JobLog`] writes and flushes the rows.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}

impl Row<'_> {
    /// The row exactly as parallel writes it: host `:` (this machine),
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
            "{}\t:\t{start:.3}\t{runtime_ms:10.3}\t0\t{}\t{}\t{}\t{}\n",
            self.seq,
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

/// An open job log: each row is written and flushed as it comes, so a log
/// cut short by a crash still says which jobs finished.
pub struct JobLog {
    out: Box<dyn Write + Send>,
}

impl JobLog {
    /// Opens the log at `path` (`-`: standard output). With `append` (a
    /// resume) and a log that has a first line, rows are added to it;
    /// otherwise it is created (or emptied) and starts with the header.
    pub fn open(path: &Path, append: bool) -> io::Result<JobLog> {
        if path == Path::new("-") {
            let mut out = io::stdout();
            writeln!(out, "{HEADER}")?;
            return Ok(JobLog { out: Box::new(out) });
        }
        let has_header = append
            && File::open(path)
                .and_then(|mut f| {
                    let mut b = [0u8; 1];
                    f.read(&mut b)
                })
                .is_ok_and(|n| n > 0);
        let mut file = if has_header {
            OpenOptions::new().append(true).open(path)?
        } else {
            File::create(path)?
        };
        if !has_header {
            writeln!(file, "{HEADER}")?;
        }
        Ok(JobLog {
            out: Box::new(file),
        })
    }

    /// Writes one row and flushes it.
    pub fn write(&mut self, row: &Row) -> io::Result<()> {
        self.out.write_all(row.format().as_bytes())?;
        self.out.flush()
    }
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
        };
        JobLog::open(&path, false).unwrap().write(&row).unwrap();
        JobLog::open(&path, true).unwrap().write(&row).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert_eq!(text.lines().filter(|l| *l == HEADER).count(), 1);
        JobLog::open(&path, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n")
        );
    }
}
