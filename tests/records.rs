//! No record lost without a word: the JSON stream, the job log and job
//! output that cannot be written are named once on stderr with the path and
//! the OS error, and the run exits 3 (task files) or 254 (templates); a job
//! log cut short by a full disk is resumed exactly. Runs the real binary.

mod helpers;

use std::collections::{BTreeSet, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use helpers::pooltop_command;

const ENOSPC: &str = "No space left on device (os error 28)";

/// Runs pooltop with `args`, `stdin` as its input and its stdout to
/// /dev/full when `full_stdout`.
fn pooltop(args: &[&str], stdin: &str, full_stdout: bool) -> Output {
    let mut cmd = pooltop_command();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if full_stdout {
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        cmd.stdout(full);
    }
    let mut child = cmd.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stderr lines that say `what` could not be written.
fn cannot_write<'a>(err: &'a str, what: &str) -> Vec<&'a str> {
    err.lines()
        .filter(|l| l.starts_with(&format!("pooltop: cannot write {what}")))
        .collect()
}

#[test]
fn a_json_stream_to_dev_full_is_named_once_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.txt");
    let lines: String = (1..=50).map(|i| format!("square {i}\n")).collect();
    std::fs::write(&tasks, lines).unwrap();
    let o = pooltop(
        &[
            "run",
            "--headless",
            "-j",
            "2",
            "--json",
            "/dev/full",
            tasks.to_str().unwrap(),
        ],
        "",
        false,
    );
    let err = stderr(&o);
    assert_eq!(
        cannot_write(&err, "the JSON event stream"),
        [format!(
            "pooltop: cannot write the JSON event stream `/dev/full`: {ENOSPC}; the run goes on without it"
        )],
        "{err}"
    );
    assert!(
        err.contains("50 submitted = 50 done"),
        "the tasks still ran: {err}"
    );
    assert_eq!(o.status.code(), Some(3), "{err}");

    // A template run with the same stream: its jobs' output is all there.
    let o = pooltop(
        &["run", "--json", "/dev/full", "--", "echo", ":::", "a", "b"],
        "",
        false,
    );
    let err = stderr(&o);
    assert_eq!(
        cannot_write(&err, "the JSON event stream").len(),
        1,
        "{err}"
    );
    let mut out: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    out.sort();
    assert_eq!(out, ["a", "b"]);
    assert_eq!(o.status.code(), Some(254), "{err}");
}

#[test]
fn a_job_log_on_dev_full_is_refused_before_anything_runs() {
    let o = pooltop(
        &[
            "run",
            "--joblog",
            "/dev/full",
            "--",
            "echo",
            ":::",
            "a",
            "b",
        ],
        "",
        false,
    );
    let err = stderr(&o);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [format!(
            "pooltop: cannot write the job log `/dev/full`: {ENOSPC}; nothing ran"
        )],
    );
    assert!(o.stdout.is_empty(), "no job ran");
    assert_eq!(o.status.code(), Some(255));
}

#[test]
fn job_output_to_dev_full_is_named_once_and_exits_254() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jobs.log");
    let inputs: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let args = [
        "run",
        "-j",
        "2",
        "--joblog",
        log.to_str().unwrap(),
        "--",
        "echo",
    ];
    let o = pooltop(&args, &inputs, true);
    let err = stderr(&o);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [format!(
            "pooltop: cannot write job output on standard output: {ENOSPC}; starting no more jobs"
        )],
    );
    assert_eq!(o.status.code(), Some(254));
    assert_eq!(
        logged_seqs(&log),
        Vec::<u64>::new(),
        "no job's output is out, so none is in the log"
    );

    let o = pooltop(&["run", "--dry-run", "--", "echo", ":::", "a"], "", true);
    assert_eq!(
        stderr(&o),
        format!("pooltop: cannot write command lines on standard output: {ENOSPC}; nothing ran\n")
    );
    assert_eq!(o.status.code(), Some(254));
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None (with a printed reason) when mounting is not permitted here.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                println!(
                    "skipped: cannot mount a tmpfs ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Gives the disk more room, as freeing space would.
    fn grow(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// The sequence numbers of a job log's whole rows (every one checked).
fn logged_seqs(log: &Path) -> Vec<u64> {
    let text = String::from_utf8(std::fs::read(log).unwrap()).unwrap();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let mut lines = whole.lines();
    assert!(lines.next().unwrap().starts_with("Seq\tHost"), "{text:?}");
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 9, "not a whole row: {l:?}");
            fields[0].parse().unwrap()
        })
        .collect()
}

#[test]
fn a_job_log_on_a_full_disk_is_resumed_exactly() {
    let Some(disk) = Tmpfs::mount("64k") else {
        return;
    };
    let log = disk.path("jobs.log");
    let log = log.to_str().unwrap();
    // Rows of about 250 bytes: 64 KiB holds fewer than 300 of them.
    let pad = "x".repeat(200);
    let n = 600;
    let inputs: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let cmd = ["--", "echo", "{}", pad.as_str()];
    let mut args = vec!["run", "-j", "2", "--joblog", log];
    args.extend(cmd);
    let first = pooltop(&args, &inputs, false);
    let err = stderr(&first);
    assert_eq!(
        cannot_write(&err, "the job log"),
        [format!(
            "pooltop: cannot write the job log `{log}`: {ENOSPC}; starting no more jobs (`--resume` runs the ones not in the log)"
        )],
        "{err}"
    );
    assert_eq!(first.status.code(), Some(254), "{err}");
    let torn = !std::fs::read(log).unwrap().ends_with(b"\n");
    let logged = logged_seqs(Path::new(log));
    assert!(
        logged.len() > 100 && logged.len() < n as usize,
        "the disk filled part way: {} rows",
        logged.len()
    );
    let printed = |o: &Output| -> Vec<u64> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                let (input, rest) = l.split_once(' ').unwrap();
                assert_eq!(rest, pad, "a whole line of output: {l:?}");
                input.parse().unwrap()
            })
            .collect()
    };
    let mut seen = printed(&first);
    let printed_first: BTreeSet<u64> = seen.iter().copied().collect();
    let logged_first: BTreeSet<u64> = logged.iter().copied().collect();
    assert_eq!(
        printed_first, logged_first,
        "a job's output is out exactly when its row is whole in the log"
    );

    disk.grow("1m");
    let mut args = vec!["run", "-j", "2", "--resume", "--joblog", log];
    args.extend(cmd);
    let second = pooltop(&args, &inputs, false);
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(0), "{err}");
    let warned = err
        .lines()
        .filter(|l| l.contains("ends in a torn row") && l.contains("its job runs again"))
        .count();
    assert_eq!(warned, usize::from(torn), "{err}");
    let printed_second = printed(&second);
    let not_logged: BTreeSet<u64> = (1..=n).filter(|s| !logged_first.contains(s)).collect();
    assert_eq!(
        printed_second.iter().copied().collect::<BTreeSet<u64>>(),
        not_logged,
        "the resume runs exactly the jobs not logged"
    );
    seen.extend(printed_second);
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=n).collect::<Vec<u64>>(),
        "every input's output seen exactly once"
    );
    // The log goes on cleanly after the torn bytes: every job, once.
    let mut all = logged_seqs(Path::new(log));
    assert!(std::fs::read(log).unwrap().ends_with(b"\n"));
    all.sort_unstable();
    assert_eq!(all, (1..=n).collect::<Vec<u64>>());
}

#[test]
fn a_json_stream_on_a_full_disk_is_whole_lines_but_a_torn_end() {
    let Some(disk) = Tmpfs::mount("64k") else {
        return;
    };
    let events = disk.path("events.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.txt");
    let lines: String = (1..=2000).map(|i| format!("square {i}\n")).collect();
    std::fs::write(&tasks, lines).unwrap();
    let o = pooltop(
        &[
            "run",
            "--headless",
            "-j",
            "2",
            "--json",
            events.to_str().unwrap(),
            tasks.to_str().unwrap(),
        ],
        "",
        false,
    );
    let err = stderr(&o);
    assert_eq!(
        cannot_write(&err, "the JSON event stream").len(),
        1,
        "{err}"
    );
    assert!(err.contains("2000 submitted = 2000 done"), "{err}");
    assert_eq!(o.status.code(), Some(3), "{err}");
    let text = std::fs::read(&events).unwrap();
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    assert!(whole > 32 * 1024, "the disk filled: {} bytes", text.len());
    let mut tasks_seen = HashSet::new();
    for line in text[..whole]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let v: serde_json::Value = serde_json::from_slice(line)
            .unwrap_or_else(|e| panic!("half an object before the end: {e}"));
        if v["event"] == "task_finished" {
            assert!(tasks_seen.insert(v["task"].as_u64().unwrap()));
        }
    }
}
