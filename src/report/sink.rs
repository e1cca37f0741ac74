//! An output the user asked for (the JSON event stream, the job log, job
//! output on stdout, a run's results), checked on every write and flush.
//! The first failure is remembered with what was being written and the OS
//! error, said once on stderr, and the output is closed: the run goes on
//! without it, and its face turns [`Sink::lost`] into a non-zero exit status
//! ([`EXIT_LOST_RECORDS`], [`EXIT_BATCH_LOST_RECORDS`]).

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Exit status of a task-file run when an output it was asked for could not
/// be written whole (it wins over 1, failed tasks: the records that would
/// say which failed are incomplete).
pub const EXIT_LOST_RECORDS: i32 = 3;

/// The same for a command template: GNU parallel's statuses 1–101 count
/// failed jobs and 255 is bad input, so a lost record is 254.
pub const EXIT_BATCH_LOST_RECORDS: i32 = 254;

/// What a sink says when it fails and nothing else is said.
pub const GOES_ON: &str = "the run goes on without it";

/// The first write or flush of an output that failed.
#[derive(Debug)]
pub struct Lost {
    /// What was being written, with its path: "the job log `run.log`".
    pub what: String,
    pub error: io::Error,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write {}: {}", self.what, self.error)
    }
}

/// One output, checked; see the module documentation.
pub struct Sink {
    what: String,
    /// What happens after a failure, for the message.
    then: &'static str,
    /// A reader that went away (`EPIPE`) is not worth a message.
    quiet_when_closed: bool,
    /// `None` once lost.
    out: Option<Box<dyn Write + Send>>,
    lost: Option<Lost>,
}

impl Sink {
    /// A sink writing `what` (a description with the path, as
    /// [`Sink::describe`] makes it) to `out`. `out` should not buffer: each
    /// [`Sink::write_all`] is meant to reach it as one write.
    pub fn new(what: impl Into<String>, out: Box<dyn Write + Send>) -> Sink {
        Sink {
            what: what.into(),
            then: GOES_ON,
            quiet_when_closed: false,
            out: Some(out),
            lost: None,
        }
    }

    /// `kind` written to `path`, which is created (or emptied); `-` is
    /// standard output. The error names neither: the caller says what it
    /// was opening.
    pub fn create(kind: &str, path: &Path) -> io::Result<Sink> {
        let what = Sink::describe(kind, path);
        if path == Path::new("-") {
            return Ok(Sink::new(what, Box::new(io::stdout())));
        }
        Ok(Sink::new(what, Box::new(File::create(path)?)))
    }

    /// "the job log `run.log`", or "the job log on standard output" for `-`.
    pub fn describe(kind: &str, path: &Path) -> String {
        if path == Path::new("-") {
            format!("{kind} on standard output")
        } else {
            format!("{kind} `{}`", path.display())
        }
    }

    /// What the failure message says happens next (default [`GOES_ON`]).
    pub fn then(mut self, then: &'static str) -> Sink {
        self.then = then;
        self
    }

    /// A broken pipe (the reader went away, as `| head` does) closes the
    /// sink without a message; [`Sink::lost`] still says so.
    pub fn quiet_when_closed(mut self) -> Sink {
        self.quiet_when_closed = true;
        self
    }

    /// Writes `bytes` with one `write_all`; false if the sink is lost (now or
    /// before).
    pub fn write_all(&mut self, bytes: &[u8]) -> bool {
        let Some(out) = self.out.as_mut() else {
            return false;
        };
        match out.write_all(bytes) {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Copies `from` to the sink, a chunk at a time. An error reading `from`
    /// is returned (the sink stays open); one writing loses the sink and
    /// gives `Ok(false)`.
    pub fn copy_from(&mut self, from: &mut dyn io::Read) -> io::Result<bool> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(self.out.is_some()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if !self.write_all(&buf[..n]) {
                return Ok(false);
            }
        }
    }

    /// Flushes; false if the sink is lost (now or before).
    pub fn flush(&mut self) -> bool {
        let Some(out) = self.out.as_mut() else {
            return false;
        };
        match out.flush() {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Whether writes still go out.
    pub fn is_open(&self) -> bool {
        self.out.is_some()
    }

    /// The first failure, if there was one.
    pub fn lost(&self) -> Option<&Lost> {
        self.lost.as_ref()
    }

    /// Whether the sink was lost because its reader went away.
    pub fn was_closed(&self) -> bool {
        self.lost
            .as_ref()
            .is_some_and(|l| l.error.kind() == io::ErrorKind::BrokenPipe)
    }

    fn fail(&mut self, error: io::Error) {
        // Closing the file may fail too; the first error is the one to tell.
        self.out = None;
        let lost = Lost {
            what: self.what.clone(),
            error,
        };
        if !(self.quiet_when_closed && lost.error.kind() == io::ErrorKind::BrokenPipe) {
            pooltop::say!("pooltop: {lost}; {}", self.then);
        }
        self.lost = Some(lost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Keeps up to `room` bytes, then fails as a full disk does; counts the
    /// write calls it gets.
    #[derive(Clone)]
    struct Disk {
        kept: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        room: usize,
    }

    impl Disk {
        fn new(room: usize) -> Disk {
            Disk {
                kept: Default::default(),
                writes: Default::default(),
                room,
            }
        }
    }

    impl Write for Disk {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            *self.writes.lock().unwrap() += 1;
            let mut kept = self.kept.lock().unwrap();
            let n = b.len().min(self.room - kept.len());
            if n == 0 && !b.is_empty() {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            kept.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_first_failure_is_kept_with_its_path_and_os_error() {
        let disk = Disk::new(10);
        let mut sink = Sink::new(
            Sink::describe("the job log", Path::new("j.log")),
            Box::new(disk.clone()),
        );
        assert!(sink.write_all(b"12345\n"));
        assert_eq!(*disk.writes.lock().unwrap(), 1, "one write per record");
        assert!(!sink.write_all(b"678901\n"), "only 4 of 7 bytes fit");
        assert_eq!(disk.kept.lock().unwrap().as_slice(), b"12345\n6789");
        let lost = sink.lost().expect("lost");
        assert_eq!(
            lost.to_string(),
            "cannot write the job log `j.log`: No space left on device (os error 28)"
        );
        assert!(!sink.is_open() && !sink.was_closed());
        let writes = *disk.writes.lock().unwrap();
        assert!(!sink.write_all(b"x\n") && !sink.flush());
        assert_eq!(*disk.writes.lock().unwrap(), writes, "nothing after a loss");
    }

    #[test]
    fn a_broken_pipe_is_told_apart() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut sink = Sink::new("stdout", Box::new(Closed)).quiet_when_closed();
        assert!(sink.flush(), "nothing written yet");
        assert!(!sink.write_all(b"a"));
        assert!(sink.was_closed());
        assert_eq!(
            Sink::describe("the JSON event stream", Path::new("-")),
            "the JSON event stream on standard output"
        );
    }

    #[test]
    fn a_copy_tells_a_failed_read_from_a_lost_sink() {
        let disk = Disk::new(5);
        let mut sink = Sink::new("out", Box::new(disk.clone()));
        assert!(sink.copy_from(&mut &b"abc"[..]).unwrap());
        struct Unreadable;
        impl io::Read for Unreadable {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::EIO))
            }
        }
        assert!(sink.copy_from(&mut Unreadable).is_err());
        assert!(sink.is_open(), "a source that fails is not the sink's loss");
        assert!(!sink.copy_from(&mut &b"defg"[..]).unwrap());
        assert!(sink.lost().is_some());
        assert_eq!(disk.kept.lock().unwrap().as_slice(), b"abcde");
    }
}
