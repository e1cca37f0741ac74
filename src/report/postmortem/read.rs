//! Reading a recording line by line, without loading it whole: the header
//! checked, each later line handed over as a [`Line`], and where the file
//! stopped being readable (a line cut short, a damaged one) said as
//! `FILE:LINE: …`.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::report::record::VERSION;

/// The recording's first line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Header {
    pub version: u64,
    pub started_unix: f64,
    #[serde(default)]
    pub pooltop: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub workers: u64,
    #[serde(default)]
    pub cores: u64,
    #[serde(default)]
    pub sample_every_s: Option<f64>,
}

/// One line after the header: the fields any event may have (see README's
/// "JSON lines"), borrowed from the line where they can be.
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(default)]
    pub t: f64,
    pub task: Option<u64>,
    pub worker: Option<u64>,
    pub slot: Option<u64>,
    pub pid: Option<u64>,
    pub count: Option<u64>,
    pub attempt: Option<u64>,
    pub attempts: Option<u64>,
    #[serde(borrow)]
    pub state: Option<Cow<'a, str>>,
    pub wall_s: Option<f64>,
    #[serde(borrow)]
    pub line: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub error: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub how: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub detail: Option<Cow<'a, str>>,
    /// A number (`scaled`, `summary`) or the samples' array (`sample`).
    pub workers: Option<Value>,
    pub cores: Option<Vec<f64>>,
    // The summary's figures.
    pub submitted: Option<u64>,
    pub done: Option<u64>,
    pub failed: Option<u64>,
    pub timed_out: Option<u64>,
    pub cancelled: Option<u64>,
    pub task_s: Option<f64>,
    pub speedup: Option<f64>,
}

/// How far a recording could be read.
#[derive(Debug, Clone, Default)]
pub struct End {
    /// Lines read whole, the header included.
    pub lines: u64,
    /// Where and why reading stopped before the file's end:
    /// `run.jsonl:812: the line is cut short (the run was killed, or is
    /// still being written)`.
    pub stopped: Option<String>,
}

/// Why nothing could be read.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the recording at `path`: its header, then `each` line in order,
/// until the end or the first line that is not whole or not an event.
pub fn read(path: &Path, mut each: impl FnMut(&Line<'_>)) -> Result<(Header, End), Unreadable> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Unreadable(format!("cannot read `{name}`: {e}")))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(4096);
    let header = match next_line(&mut input, &mut buf) {
        Ok(Some(true)) => parse_header(&buf, &name)?,
        Ok(Some(false)) => {
            return Err(Unreadable(format!(
                "{name}:1: the header line is cut short: nothing to report"
            )));
        }
        Ok(None) => {
            return Err(Unreadable(format!(
                "{name}: empty: not a pooltop recording"
            )));
        }
        Err(e) => return Err(Unreadable(format!("cannot read `{name}`: {e}"))),
    };
    let mut end = End {
        lines: 1,
        stopped: None,
    };
    loop {
        let n = end.lines + 1;
        match next_line(&mut input, &mut buf) {
            Ok(None) => break,
            Ok(Some(false)) => {
                end.stopped = Some(format!(
                    "{name}:{n}: the line is cut short (the run was killed, or is still \
                     being written); read up to line {}",
                    n - 1
                ));
                break;
            }
            Ok(Some(true)) => match serde_json::from_slice::<Line<'_>>(trim(&buf)) {
                Ok(line) => {
                    each(&line);
                    end.lines = n;
                }
                Err(_) if trim(&buf).is_empty() => end.lines = n,
                Err(e) => {
                    end.stopped = Some(format!(
                        "{name}:{n}: not an event ({e}); read up to line {}",
                        n - 1
                    ));
                    break;
                }
            },
            Err(e) => {
                end.stopped = Some(format!("{name}:{n}: cannot read on: {e}"));
                break;
            }
        }
    }
    Ok((header, end))
}

/// The next line into `buf`: `Some(true)` when it ended with a newline,
/// `Some(false)` when the file ended first, `None` at the end.
fn next_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    if input.read_until(b'\n', buf)? == 0 {
        return Ok(None);
    }
    Ok(Some(buf.last() == Some(&b'\n')))
}

fn trim(buf: &[u8]) -> &[u8] {
    buf.trim_ascii()
}

fn parse_header(buf: &[u8], name: &str) -> Result<Header, Unreadable> {
    let not_one = || {
        Unreadable(format!(
            "{name}:1: not a pooltop recording (no `recording` header)"
        ))
    };
    let v: Value = serde_json::from_slice(trim(buf)).map_err(|_| not_one())?;
    if v.get("event").and_then(Value::as_str) != Some("recording") {
        return Err(not_one());
    }
    let h: Header = serde_json::from_value(v).map_err(|e| Unreadable(format!("{name}:1: {e}")))?;
    if h.version != VERSION {
        return Err(Unreadable(format!(
            "{name}:1: recording format version {} is not one this pooltop reads (it reads {VERSION})",
            h.version
        )));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    const HEAD: &str = "{\"event\":\"recording\",\"version\":1,\"started_unix\":1.5,\"title\":\"x\",\"workers\":2,\"cores\":2}\n";

    #[test]
    fn a_line_cut_short_stops_the_reading_there() {
        let text =
            format!("{HEAD}{{\"event\":\"scaled\",\"t\":1,\"workers\":3}}\n{{\"event\":\"tas");
        let f = file(&text);
        let mut seen = Vec::new();
        let (h, end) = read(f.path(), |l| seen.push(l.event.to_string())).unwrap();
        assert_eq!((h.workers, h.title.as_str()), (2, "x"));
        assert_eq!(seen, ["scaled"]);
        assert_eq!(end.lines, 2);
        let msg = end.stopped.unwrap();
        assert!(
            msg.starts_with(&format!("{}:3: the line is cut short", f.path().display())),
            "{msg}"
        );
    }

    #[test]
    fn damage_mid_file_and_foreign_files() {
        let f = file(&format!(
            "{HEAD}garbage\n{{\"event\":\"scaled\",\"t\":1}}\n"
        ));
        let (_, end) = read(f.path(), |_| {}).unwrap();
        assert!(end.stopped.unwrap().contains(":2: not an event"));
        let f = file("{\"event\":\"task_started\"}\n");
        let e = read(f.path(), |_| {}).unwrap_err();
        assert!(
            e.0.ends_with(":1: not a pooltop recording (no `recording` header)"),
            "{e}"
        );
        let f = file(&HEAD.replace("\"version\":1", "\"version\":9"));
        assert!(read(f.path(), |_| {}).unwrap_err().0.contains("version 9"));
        let f = file("");
        assert!(read(f.path(), |_| {}).unwrap_err().0.contains("empty"));
    }
}
