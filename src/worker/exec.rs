//! How each task kind runs inside a worker process.
//!
//! [`run`] executes one [`TaskSpec`] on the calling thread and turns every
//! failure into a [`TaskOutcome::Err`] whose message names what went wrong
//! (the path, the OS error, the exit status). It does not panic on bad input.
//! Two kinds never return, on purpose: `hang` blocks the thread forever without
//! using CPU, and `crash` aborts the whole worker process.
//!
//! Paths (`sha256`, `thumbnail`) are taken relative to the worker's current
//! directory.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use sha2::{Digest, Sha256};

use crate::task::{ExecSpec, TaskOutcome, TaskOutput, TaskSpec};

/// A sensible [`ExecContext::output_cap`]: 64 KiB of each stream.
pub const DEFAULT_OUTPUT_CAP: usize = 64 * 1024;

/// Environment variables whose names start with this are removed from the
/// environment of `shell` tasks: the worker's secrets (its pool token) live there.
pub const HIDDEN_ENV_PREFIX: &str = "POOLTOP_";

/// Size of the read buffer for hashing files and draining pipes.
const CHUNK: usize = 64 * 1024;

/// Largest decoded image `thumbnail` accepts, in bytes of pixel data
/// (the same as the `image` crate's default allocation limit).
const MAX_DECODED_BYTES: u64 = 512 * 1024 * 1024;

/// Where and how a worker runs its tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecContext {
    /// Folder that `thumbnail` writes into (created when missing).
    pub out_dir: PathBuf,
    /// How much output of a `shell` task is kept, per stream: the last
    /// `output_cap` bytes of stdout and of stderr.
    ///
    /// When a stream produced more, its text starts with the line
    /// `…[truncated N bytes]\n`, where N counts the bytes of the stream that are
    /// not shown; the text after that line is at most `output_cap` bytes (invalid
    /// UTF-8 is shown as U+FFFD and counts as 3 bytes; a character cut in half at
    /// the start is dropped whole).
    pub output_cap: usize,
    /// The worker's job slot (1 up), written into [`ExecSpec`] commands.
    pub slot: u32,
    /// Where exec tasks spill output: with a folder, they keep all of it,
    /// exactly (see `PoolConfig::spill_dir`); without, the tail as shell
    /// tasks do.
    pub spill_dir: Option<PathBuf>,
}

/// Runs one task to its end and reports how it went.
///
/// `Hang` never returns and `Crash` aborts the process.
pub fn run(spec: &TaskSpec, ctx: &ExecContext) -> TaskOutcome {
    match spec {
        TaskSpec::Spin(n) => ok_value(spin(*n).to_string()),
        TaskSpec::Sleep(secs) => match Duration::try_from_secs_f64(*secs) {
            Ok(d) => {
                thread::sleep(d);
                ok_value(String::new())
            }
            Err(_) => fail(format!("cannot sleep {secs} seconds: not a valid duration")),
        },
        TaskSpec::Square(n) => {
            let mut value = String::new();
            write_square(*n, &mut value);
            ok_value(value)
        }
        TaskSpec::Sha256(path) => value_or_fail(sha256_file(Path::new(path))),
        TaskSpec::Thumbnail {
            path,
            width,
            height,
        } => value_or_fail(
            thumbnail(Path::new(path), *width, *height, &ctx.out_dir)
                .map(|p| p.display().to_string()),
        ),
        TaskSpec::Shell(cmd) => shell(cmd, ctx.output_cap),
        TaskSpec::Exec(spec) => exec(spec, ctx.slot, ctx.output_cap, ctx.spill_dir.as_deref()),
        TaskSpec::Hang => loop {
            // park() may return spuriously; parking again costs no CPU.
            thread::park();
        },
        TaskSpec::Fail(msg) => fail(msg.clone()),
        TaskSpec::Crash => std::process::abort(),
    }
}

/// Runs `spec` if it is an instant task that ends with only a value,
/// appending the value to `out` (no allocation: a million squares are not
/// a million strings); false, with nothing written, for any other task,
/// which [`run`] runs.
pub fn value_into(spec: &TaskSpec, out: &mut String) -> bool {
    match spec {
        TaskSpec::Square(n) => {
            write_square(*n, out);
            true
        }
        _ => false,
    }
}

fn ok_value(value: String) -> TaskOutcome {
    TaskOutcome::Ok(TaskOutput {
        value,
        ..TaskOutput::default()
    })
}

fn fail(message: String) -> TaskOutcome {
    TaskOutcome::Err {
        message,
        output: TaskOutput::default(),
    }
}

fn value_or_fail(result: Result<String, String>) -> TaskOutcome {
    match result {
        Ok(value) => ok_value(value),
        Err(message) => fail(message),
    }
}

/// Counts `n` down to zero and returns the rate in iterations per second
/// (0 when `n` is 0).
fn spin(n: u64) -> u64 {
    let start = Instant::now();
    // black_box hides the counter from the optimizer, so the loop cannot be
    // folded away or replaced by a closed form.
    let mut i = black_box(n);
    while i > 0 {
        i = black_box(i - 1);
    }
    if n == 0 {
        return 0;
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    (n as f64 / secs).round() as u64
}

/// n×n, which always fits in an i128 (|i64::MIN|² = 2¹²⁶).
/// Appends `n²` in decimal: exact for every `i64` (the square of one needs
/// 127 bits).
fn write_square(n: i64, out: &mut String) {
    let magnitude = n.unsigned_abs();
    let mut digits = itoa::Buffer::new();
    out.push_str(match magnitude.checked_mul(magnitude) {
        // The common case: printing a u64 is about twice as fast as a u128.
        Some(small) => digits.format(small),
        None => digits.format(u128::from(magnitude) * u128::from(magnitude)),
    });
}

/// SHA-256 of a file as lowercase hex, read in chunks (never the whole file at once).
fn sha256_file(path: &Path) -> Result<String, String> {
    let cannot = |e: io::Error| format!("cannot read `{}`: {e}", path.display());
    let mut file = File::open(path).map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(cannot(e)),
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The size of a `w`×`h` image shrunk to fit within `max_w`×`max_h`, keeping
/// its aspect ratio (rounded to whole pixels, at least 1). An image that
/// already fits is returned at its own size: thumbnails never enlarge.
fn fit_within(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (max_w, max_h) = (max_w.max(1), max_h.max(1));
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    let (w64, h64) = (u64::from(w), u64::from(h));
    let round_div = |a: u64, b: u64| ((a + b / 2) / b).max(1) as u32;
    if w64 * u64::from(max_h) >= h64 * u64::from(max_w) {
        // The width is the tighter limit.
        (max_w, round_div(h64 * u64::from(max_w), w64).min(max_h))
    } else {
        (round_div(w64 * u64::from(max_h), h64).min(max_w), max_h)
    }
}

/// Opens and decodes an image (format from its content), upright per its EXIF orientation.
fn load_image(path: &Path) -> Result<DynamicImage, String> {
    let shown = path.display();
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let not_image = |e: image::ImageError| format!("cannot decode `{shown}` as an image: {e}");
    let mut decoder = reader.into_decoder().map_err(not_image)?;
    // `into_decoder` does not check the allocation limit the way `decode` does.
    let bytes = decoder.total_bytes();
    if bytes > MAX_DECODED_BYTES {
        let (w, h) = decoder.dimensions();
        return Err(format!(
            "cannot decode `{shown}`: {w}x{h} is too large ({} MiB of pixels, limit {} MiB)",
            bytes >> 20,
            MAX_DECODED_BYTES >> 20
        ));
    }
    let orientation = decoder.orientation().map_err(not_image)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(not_image)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(format!(
            "cannot make a thumbnail of `{shown}`: it has no pixels"
        ));
    }
    Ok(img)
}

/// Blurs the image at `path`, shrinks it to fit `max_w`×`max_h` and saves it as
/// `<out_dir>/<file stem>.png`. Returns the path written.
fn thumbnail(path: &Path, max_w: u32, max_h: u32, out_dir: &Path) -> Result<PathBuf, String> {
    let img = load_image(path)?;
    let (w, h) = (img.width(), img.height());
    let (tw, th) = fit_within(w, h, max_w, max_h);

    fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create output folder `{}`: {e}", out_dir.display()))?;
    let mut name = path
        .file_stem()
        .unwrap_or(OsStr::new("thumbnail"))
        .to_os_string();
    name.push(".png");
    let out = out_dir.join(name);
    if same_file(path, &out) {
        return Err(format!(
            "thumbnail of `{}` would overwrite its source: choose another output folder",
            path.display()
        ));
    }

    // Blur in source pixels with sigma = half the shrink factor (at least 0.5):
    // half a pixel of softening in the thumbnail, whatever its size, which also
    // removes detail finer than the thumbnail's pixels before they are dropped.
    // The kernel grows with the factor (about 6.7 sigma taps per pass), so a
    // 2 MP photo shrunk to 128 px costs tens of taps per pixel: well under a
    // second in a release build.
    let scale = (w as f32 / tw as f32).max(h as f32 / th as f32);
    let blurred = img.blur((0.5 * scale).max(0.5));
    let thumb = if (tw, th) == (w, h) {
        blurred
    } else {
        blurred.resize_exact(tw, th, FilterType::Triangle)
    };
    thumb
        .save_with_format(&out, ImageFormat::Png)
        .map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    Ok(out)
}

/// Whether both paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Runs `sh -c -- CMD` and captures the tails of its stdout and stderr
/// (see [`capture`]).
fn shell(cmd: &str, cap: usize) -> TaskOutcome {
    let mut command = Command::new("sh");
    command.arg("-c").arg("--").arg(cmd);
    match spawn_captured(&mut command) {
        Ok(child) => capture(child, "sh", cap, None),
        Err(e) => fail(format!("cannot start `sh`: {e}")),
    }
}

/// Runs a program directly (no shell) and captures it like [`shell`]. The
/// worker's job slot is written into the arguments first (see
/// [`ExecSpec::slot_at`]).
///
/// A program that cannot be started ends as a shell would report it, so that
/// a command template behaves the same with or without a shell: not found is
/// exit status 127, not permitted 126, with the reason on stderr. A file that
/// is not a binary and has no `#!` line is run by `sh`, as `execvp` does.
fn exec(spec: &ExecSpec, slot: u32, cap: usize, spill: Option<&Path>) -> TaskOutcome {
    let argv = spec.argv_with_slot(slot);
    let Some((program, args)) = argv.split_first() else {
        return fail("the command is empty".into());
    };
    let mut command = Command::new(program);
    command.args(args);
    for (name, value) in &spec.env {
        command.env(name, value);
    }
    if let Some(name) = &spec.slot_env {
        command.env(name, slot.to_string());
    }
    let spawned = match spawn_captured(&mut command) {
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let mut by_sh = Command::new("sh");
            by_sh.arg(program).args(args);
            for (name, value) in &spec.env {
                by_sh.env(name, value);
            }
            if let Some(name) = &spec.slot_env {
                by_sh.env(name, slot.to_string());
            }
            spawn_captured(&mut by_sh)
        }
        other => other,
    };
    match spawned {
        Ok(child) => capture(child, program, cap, spill),
        Err(e) => {
            let (code, reason) = match e.kind() {
                io::ErrorKind::NotFound if !program.contains('/') => (127, "command not found"),
                io::ErrorKind::NotFound => (127, "No such file or directory"),
                io::ErrorKind::PermissionDenied => (126, "Permission denied"),
                _ => (126, ""),
            };
            let reason = if reason.is_empty() {
                e.to_string()
            } else {
                reason.to_string()
            };
            let message = format!("{program}: {reason}");
            TaskOutcome::Err {
                output: TaskOutput {
                    stderr: format!("pooltop: {message}\n"),
                    exit_code: Some(code),
                    ..TaskOutput::default()
                },
                message: format!("exit status {code}: {message}"),
            }
        }
    }
}

/// Starts `command` with stdin from /dev/null, stdout and stderr piped, and
/// without pooltop's own environment variables. It stays in the worker's
/// process group, so signals to the group reach the whole task tree.
fn spawn_captured(command: &mut Command) -> io::Result<std::process::Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in hidden_env() {
        command.env_remove(name);
    }
    command.spawn()
}

/// The names of pooltop's own environment variables, found once: a worker's
/// environment does not change, and a task may start thousands of processes.
fn hidden_env() -> &'static [std::ffi::OsString] {
    static HIDDEN: std::sync::OnceLock<Vec<std::ffi::OsString>> = std::sync::OnceLock::new();
    HIDDEN.get_or_init(|| {
        std::env::vars_os()
            .map(|(name, _)| name)
            .filter(|name| name.as_bytes().starts_with(HIDDEN_ENV_PREFIX.as_bytes()))
            .collect()
    })
}

/// Waits for a child started by [`spawn_captured`] and captures the tails of
/// its stdout and stderr.
///
/// Both pipes are drained together to the end, on this thread (so the
/// command never blocks on a full pipe), keeping at most `cap` bytes of each; see
/// [`ExecContext::output_cap`] for the truncation marker. A command that
/// leaves a background process holding its stdout or stderr open is finished
/// only when that process closes them, as with `$(...)`. `name` is the
/// program, for messages.
fn capture(
    mut child: std::process::Child,
    name: &str,
    cap: usize,
    spill: Option<&Path>,
) -> TaskOutcome {
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both streams were set to piped");
    };

    let mut sinks = [Sink::new(cap, spill, "out"), Sink::new(cap, spill, "err")];
    let read_errors = pump(&mut stdout, &mut stderr, &mut sinks);
    // Closed before waiting, as before: a command whose background child
    // keeps writing gets SIGPIPE rather than a full pipe.
    drop((stdout, stderr));
    let [out_sink, err_sink] = sinks;
    let [out_read, err_read] = read_errors;
    let (out, out_err) = out_sink.finish(out_read);
    let (err, err_err) = err_sink.finish(err_read);
    let status = match child.wait() {
        Ok(status) => status,
        Err(e) => return fail(format!("cannot wait for `{name}`: {e}")),
    };

    let output = TaskOutput {
        value: out.text.clone(),
        stdout: out.text,
        stderr: err.text,
        exit_code: status.code(),
        signal: status.signal(),
        stdout_file: out.file,
        stderr_file: err.file,
    };
    if let Some((stream, e)) = [("stdout", out_err), ("stderr", err_err)]
        .into_iter()
        .find_map(|(name, e)| e.map(|e| (name, e)))
    {
        return TaskOutcome::Err {
            message: format!("cannot capture the command's {stream}: {e}"),
            output,
        };
    }
    let message = match (status.code(), status.signal()) {
        (Some(0), _) => return TaskOutcome::Ok(output),
        (Some(code), _) => match last_line(&output.stderr) {
            Some(line) => format!("exit status {code}: {line}"),
            None => format!("exit status {code}"),
        },
        (None, Some(sig)) => format!(
            "killed by signal {sig} ({})",
            crate::platform::signal_name(sig)
        ),
        (None, None) => format!("ended abnormally: {status}"),
    };
    TaskOutcome::Err { message, output }
}

/// The last non-blank line of captured stderr (not the truncation marker), cut to 200 characters.
fn last_line(text: &str) -> Option<String> {
    const SHOWN: usize = 200;
    let line = text
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.starts_with(TRUNCATED))?;
    let mut shown: String = line.chars().take(SHOWN).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    Some(shown)
}

/// Reads both pipes to their ends, whichever has data, into their sinks.
/// Returns the read error of each, if one stopped it.
fn pump(
    stdout: &mut std::process::ChildStdout,
    stderr: &mut std::process::ChildStderr,
    sinks: &mut [Sink; 2],
) -> [Option<io::Error>; 2] {
    use std::os::fd::AsRawFd;
    let fds = [stdout.as_raw_fd(), stderr.as_raw_fd()];
    let mut open = [true, true];
    let mut errors: [Option<io::Error>; 2] = [None, None];
    let mut buf = vec![0u8; CHUNK];
    while open[0] || open[1] {
        let watched = [
            if open[0] { fds[0] } else { -1 },
            if open[1] { fds[1] } else { -1 },
        ];
        let ready = match crate::platform::wait_readable(watched) {
            Ok(ready) => ready,
            Err(e) => {
                // Nothing more can be read: say why, on the first open stream.
                let i = usize::from(!open[0]);
                errors[i] = Some(e);
                break;
            }
        };
        for i in 0..2 {
            if !open[i] || !ready[i] {
                continue;
            }
            // A pipe polled readable gives data, its end or an error at
            // once: this read does not block.
            let read = if i == 0 {
                stdout.read(&mut buf)
            } else {
                stderr.read(&mut buf)
            };
            match read {
                Ok(0) => open[i] = false,
                Ok(n) => sinks[i].push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    errors[i] = Some(e);
                    open[i] = false;
                }
            }
        }
    }
    errors
}

/// A captured stream: its text, or the file that holds all of it.
#[derive(Debug, Default)]
struct Captured {
    text: String,
    file: Option<String>,
}

/// Where a captured stream goes: its tail in a ring ([`Tail`]), or, with a
/// spill folder, all of it, exactly ([`Exact`]).
enum Sink<'a> {
    Tail(Tail),
    Exact(Exact<'a>),
}

impl<'a> Sink<'a> {
    fn new(cap: usize, spill: Option<&'a Path>, tag: &'static str) -> Sink<'a> {
        match spill {
            None => Sink::Tail(Tail::new(cap)),
            Some(dir) => Sink::Exact(Exact {
                dir,
                tag,
                cap,
                mem: Vec::new(),
                file: None,
                error: None,
            }),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        match self {
            Sink::Tail(t) => t.push(chunk),
            Sink::Exact(e) => e.push(chunk),
        }
    }

    /// The captured stream, and the first error: `read_error` (from the
    /// pipe), or one of writing the spill file.
    fn finish(self, read_error: Option<io::Error>) -> (Captured, Option<io::Error>) {
        match self {
            Sink::Tail(t) => (
                Captured {
                    text: t.into_text(),
                    file: None,
                },
                read_error,
            ),
            Sink::Exact(e) => e.finish(read_error),
        }
    }
}

/// Keeps every byte of a stream: as text when it is UTF-8 of at most `cap`
/// bytes, else in a new file in `dir` (binary output stays exact; long
/// output costs no memory). A file that cannot be written is an error, but
/// the stream is still read to its end, so the job never blocks on a full
/// pipe.
struct Exact<'a> {
    dir: &'a Path,
    tag: &'static str,
    cap: usize,
    mem: Vec<u8>,
    file: Option<(File, PathBuf)>,
    error: Option<io::Error>,
}

impl Exact<'_> {
    fn push(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return; // Only drain.
        }
        if let Some((f, _)) = &mut self.file {
            if let Err(e) = f.write_all(chunk) {
                self.error = Some(e);
            }
        } else if self.mem.len() + chunk.len() <= self.cap {
            self.mem.extend_from_slice(chunk);
        } else {
            let mem = std::mem::take(&mut self.mem);
            match spill_file(self.dir, self.tag).and_then(|(mut f, path)| {
                f.write_all(&mem)?;
                f.write_all(chunk)?;
                Ok((f, path))
            }) {
                Ok(spilled) => self.file = Some(spilled),
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn finish(mut self, read_error: Option<io::Error>) -> (Captured, Option<io::Error>) {
        let mut error = read_error.or(self.error.take());
        if self.file.is_none() && error.is_none() {
            match String::from_utf8(std::mem::take(&mut self.mem)) {
                Ok(text) => return (Captured { text, file: None }, None),
                // Not text: to a file, byte for byte.
                Err(e) => match spill_file(self.dir, self.tag).and_then(|(mut f, path)| {
                    f.write_all(e.as_bytes())?;
                    Ok((f, path))
                }) {
                    Ok(spilled) => self.file = Some(spilled),
                    Err(e) => error = Some(e),
                },
            }
        }
        let file = self
            .file
            .map(|(_, path)| path.to_string_lossy().into_owned());
        (
            Captured {
                text: String::new(),
                file,
            },
            error,
        )
    }
}

/// A new file for a spilled stream, only for this user.
fn spill_file(dir: &Path, tag: &str) -> io::Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}.{tag}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    Ok((f, path))
}

/// How the truncation marker starts.
const TRUNCATED: &str = "…[truncated ";

/// Splits captured output (see [`ExecContext::output_cap`]) into how many
/// bytes were dropped from its start, if any, and the text that was kept.
pub fn split_truncated(text: &str) -> (Option<u64>, &str) {
    if let Some(rest) = text.strip_prefix(TRUNCATED)
        && let Some((n, kept)) = rest.split_once(" bytes]\n")
        && let Ok(n) = n.parse()
    {
        return (Some(n), kept);
    }
    (None, text)
}

/// The last `cap` bytes of a byte stream, in a ring buffer that never holds
/// more than `cap` bytes (it grows up to `cap` as the stream arrives).
struct Tail {
    ring: Vec<u8>,
    cap: usize,
    /// Where the oldest byte is once the ring is full (0 until then).
    head: usize,
    /// Bytes seen in all.
    total: u64,
}

impl Tail {
    fn new(cap: usize) -> Tail {
        Tail {
            ring: Vec::new(),
            cap,
            head: 0,
            total: 0,
        }
    }

    fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if data.len() >= self.cap {
            // The chunk alone fills the ring (or the cap is 0).
            data = &data[data.len() - self.cap..];
            self.ring.clear();
            self.ring.reserve_exact(data.len());
            self.ring.extend_from_slice(data);
            self.head = 0;
            return;
        }
        let room = self.cap - self.ring.len();
        if room > 0 {
            let n = room.min(data.len());
            let want = (self.ring.len() * 2).clamp(self.ring.len() + n, self.cap);
            self.ring.reserve_exact(want - self.ring.len());
            self.ring.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        // The ring is full: overwrite the oldest bytes.
        while !data.is_empty() {
            let n = (self.cap - self.head).min(data.len());
            self.ring[self.head..self.head + n].copy_from_slice(&data[..n]);
            self.head = (self.head + n) % self.cap;
            data = &data[n..];
        }
    }

    /// The kept bytes in stream order, and how many bytes before them were dropped.
    fn into_bytes(mut self) -> (Vec<u8>, u64) {
        self.ring.rotate_left(self.head);
        let dropped = self.total - self.ring.len() as u64;
        (self.ring, dropped)
    }

    /// The kept tail as text of at most `cap` bytes, after the truncation marker
    /// when anything was dropped (see [`ExecContext::output_cap`]).
    fn into_text(self) -> String {
        let cap = self.cap;
        let (bytes, mut dropped) = self.into_bytes();
        let mut bytes = &bytes[..];
        if dropped > 0 {
            // The ring may have cut a character in half: start at the next one.
            let skip = bytes
                .iter()
                .take(3)
                .take_while(|&&b| b & 0xC0 == 0x80)
                .count();
            bytes = &bytes[skip..];
            dropped += skip as u64;
        }
        // Lossy conversion from the end, so that the text stays within `cap`
        // bytes even where U+FFFD (3 bytes) replaces a single invalid byte.
        let chunks: Vec<_> = bytes.utf8_chunks().collect();
        let mut parts: Vec<&str> = Vec::new();
        let mut budget = cap;
        let mut kept = 0;
        for chunk in chunks.iter().rev() {
            if !chunk.invalid().is_empty() {
                if budget < 3 {
                    break;
                }
                budget -= 3;
                kept += chunk.invalid().len();
                parts.push("\u{FFFD}");
            }
            let valid = chunk.valid();
            if valid.len() <= budget {
                budget -= valid.len();
                kept += valid.len();
                parts.push(valid);
            } else {
                let mut start = valid.len() - budget;
                while !valid.is_char_boundary(start) {
                    start += 1;
                }
                kept += valid.len() - start;
                parts.push(&valid[start..]);
                break;
            }
        }
        dropped += (bytes.len() - kept) as u64;
        let mut text = String::with_capacity(cap - budget + 32);
        if dropped > 0 {
            text.push_str(&format!("{TRUNCATED}{dropped} bytes]\n"));
        }
        for part in parts.iter().rev() {
            text.push_str(part);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn ctx(out_dir: &Path, output_cap: usize) -> ExecContext {
        ExecContext {
            out_dir: out_dir.to_path_buf(),
            output_cap,
            slot: 1,
            spill_dir: None,
        }
    }

    fn scratch_ctx() -> ExecContext {
        ctx(Path::new("/nonexistent-pooltop-out"), DEFAULT_OUTPUT_CAP)
    }

    fn expect_ok(outcome: TaskOutcome) -> TaskOutput {
        match outcome {
            TaskOutcome::Ok(output) => output,
            TaskOutcome::Err { message, output } => panic!("failed: {message} ({output:?})"),
        }
    }

    fn expect_err(outcome: TaskOutcome) -> (String, TaskOutput) {
        match outcome {
            TaskOutcome::Err { message, output } => (message, output),
            TaskOutcome::Ok(output) => panic!("succeeded: {output:?}"),
        }
    }

    /// Runs a task on another thread and fails the test (instead of hanging) if
    /// it takes longer than `limit`.
    fn run_within(spec: TaskSpec, ctx: ExecContext, limit: Duration) -> TaskOutcome {
        let (tx, rx) = mpsc::channel();
        let desc = format!("{spec:?}");
        thread::spawn(move || {
            let _ = tx.send(run(&spec, &ctx));
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("{desc} did not finish within {limit:?}"))
    }

    #[test]
    fn square_extremes() {
        for (n, want) in [
            (0, "0"),
            (-3, "9"),
            (3_037_000_500, "9223372037000250000"), // just past i64::MAX
            (-4_294_967_295, "18446744065119617025"), // the largest that fits a u64
            (4_294_967_296, "18446744073709551616"), // the first that does not
            (i64::MAX, "85070591730234615847396907784232501249"),
            (i64::MIN, "85070591730234615865843651857942052864"),
        ] {
            let out = expect_ok(run(&TaskSpec::Square(n), &scratch_ctx()));
            assert_eq!(out.value, want, "square {n}");
        }
    }

    #[test]
    fn spin_reports_a_positive_rate() {
        let out = expect_ok(run(&TaskSpec::Spin(2_000_000), &scratch_ctx()));
        let rate: u64 = out.value.parse().expect("an integer");
        assert!(rate > 0, "rate {rate}");
        let out = expect_ok(run(&TaskSpec::Spin(0), &scratch_ctx()));
        assert_eq!(out.value, "0");
    }

    #[test]
    fn sleep_sleeps_and_rejects_bad_durations() {
        let start = Instant::now();
        let out = expect_ok(run(&TaskSpec::Sleep(0.05), &scratch_ctx()));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(out.value, "");
        for secs in [-1.0, f64::NAN, f64::INFINITY] {
            let (msg, _) = expect_err(run(&TaskSpec::Sleep(secs), &scratch_ctx()));
            assert!(msg.contains("not a valid duration"), "{msg}");
        }
    }

    #[test]
    fn fail_carries_its_message() {
        let (msg, output) = expect_err(run(&TaskSpec::Fail("disk on fire".into()), &scratch_ctx()));
        assert_eq!(msg, "disk on fire");
        assert_eq!(output, TaskOutput::default());
    }

    fn sha256sum(path: &Path) -> String {
        let out = Command::new("sha256sum")
            .arg("--")
            .arg(path)
            .output()
            .expect("sha256sum runs");
        assert!(out.status.success(), "sha256sum {}", path.display());
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().next().unwrap().to_string()
    }

    #[test]
    fn sha256_matches_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        // Pseudo-random bytes, so that every chunk of the 3 MB file differs.
        let mut x: u32 = 1;
        let big: Vec<u8> = (0..3_000_001)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let files: [(&str, &[u8]); 5] = [
            ("empty", b""),
            ("abc.txt", b"abc"),
            ("with space.txt", b"hello world\n"),
            ("exactly-one-chunk.bin", &big[..CHUNK]),
            ("big.bin", &big),
        ];
        for (name, data) in files {
            let path = dir.path().join(name);
            fs::write(&path, data).unwrap();
            let spec = TaskSpec::Sha256(path.to_str().unwrap().into());
            let out = expect_ok(run(&spec, &scratch_ctx()));
            assert_eq!(out.value, sha256sum(&path), "{name}");
            assert_eq!(out.value.len(), 64);
        }
    }

    #[test]
    fn sha256_errors_name_the_path_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("x.bin");
        let (msg, _) = expect_err(run(
            &TaskSpec::Sha256(missing.to_str().unwrap().into()),
            &scratch_ctx(),
        ));
        assert_eq!(
            msg,
            format!(
                "cannot read `{}`: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let (msg, _) = expect_err(run(
            &TaskSpec::Sha256(dir.path().to_str().unwrap().into()),
            &scratch_ctx(),
        ));
        assert!(msg.contains("Is a directory"), "{msg}");
    }

    #[test]
    fn fit_within_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit_within(400, 200, 128, 128), (128, 64));
        assert_eq!(fit_within(200, 400, 128, 128), (64, 128));
        assert_eq!(fit_within(50, 30, 128, 128), (50, 30));
        assert_eq!(fit_within(128, 128, 128, 128), (128, 128));
        assert_eq!(fit_within(640, 480, 100, 100), (100, 75));
        assert_eq!(fit_within(10_000, 1, 128, 128), (128, 1));
        assert_eq!(fit_within(1, 10_000, 128, 128), (1, 128));
        assert_eq!(fit_within(800, 300, 64, 32), (64, 24));
        assert_eq!(fit_within(300, 800, 64, 32), (12, 32));
    }

    /// A test image with hard edges: black and white stripes.
    fn write_image(path: &Path, w: u32, h: u32) {
        let img = image::RgbImage::from_fn(w, h, |x, _| {
            if (x / 4) % 2 == 0 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        img.save(path).unwrap();
    }

    fn thumb(path: &Path, size: (u32, u32), out_dir: &Path) -> TaskOutcome {
        let spec = TaskSpec::Thumbnail {
            path: path.to_str().unwrap().into(),
            width: size.0,
            height: size.1,
        };
        run(&spec, &ctx(out_dir, DEFAULT_OUTPUT_CAP))
    }

    #[test]
    fn thumbnails_fit_the_box_and_keep_the_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("thumbs/nested");
        let default = crate::task::DEFAULT_THUMB_SIZE;
        for (name, (w, h), size, want) in [
            ("wide.png", (400, 200), default, (128, 64)),
            ("tall.png", (150, 600), default, (32, 128)),
            ("photo.jpg", (300, 300), (64, 32), (32, 32)),
            ("small.png", (50, 30), default, (50, 30)),
        ] {
            let src = dir.path().join(name);
            write_image(&src, w, h);
            let out = expect_ok(thumb(&src, size, &out_dir));
            let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
            let want_path = out_dir.join(format!("{stem}.png"));
            assert_eq!(out.value, want_path.display().to_string());
            let made = image::open(&want_path).unwrap();
            assert_eq!((made.width(), made.height()), want, "{name}");
            let bytes = fs::read(&want_path).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{name} is not a PNG");
        }
        // Even the small image that is not shrunk is blurred: its hard
        // black/white edges now have grey pixels.
        let small = image::open(out_dir.join("small.png")).unwrap().to_luma8();
        assert!(small.pixels().any(|p| p.0[0] > 20 && p.0[0] < 235));
    }

    #[test]
    fn thumbnail_errors_name_the_path_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("out");

        let missing = dir.path().join("missing.png");
        let (msg, _) = expect_err(thumb(&missing, (64, 64), &out_dir));
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");

        let text = dir.path().join("notes.png");
        fs::write(&text, "not an image at all").unwrap();
        let (msg, _) = expect_err(thumb(&text, (64, 64), &out_dir));
        assert!(msg.starts_with("cannot decode `"), "{msg}");
        assert!(msg.contains("notes.png"), "{msg}");

        let src = dir.path().join("ok.png");
        write_image(&src, 40, 40);
        let blocker = dir.path().join("a-file");
        fs::write(&blocker, "").unwrap();
        let bad_out = blocker.join("sub");
        let (msg, _) = expect_err(thumb(&src, (64, 64), &bad_out));
        assert!(msg.contains("cannot create output folder"), "{msg}");
        assert!(msg.contains(&bad_out.display().to_string()), "{msg}");

        // Writing the thumbnail next to a PNG source would overwrite it.
        let (msg, _) = expect_err(thumb(&src, (16, 16), dir.path()));
        assert!(msg.contains("overwrite its source"), "{msg}");
        assert_eq!(image::open(&src).unwrap().width(), 40);
    }

    fn shell_task(cmd: &str, cap: usize) -> TaskOutcome {
        run_within(
            TaskSpec::Shell(cmd.into()),
            ctx(Path::new("."), cap),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn shell_captures_stdout_stderr_and_exit_code() {
        let out = expect_ok(shell_task("echo out; echo err >&2", DEFAULT_OUTPUT_CAP));
        assert_eq!(out.value, "out\n");
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.exit_code, Some(0));

        let out = expect_ok(shell_task("printf 'no newline'", DEFAULT_OUTPUT_CAP));
        assert_eq!(out.value, "no newline");

        // The command line is not an option to sh, even when it starts with '-'.
        let (msg, _) = expect_err(shell_task("-x", DEFAULT_OUTPUT_CAP));
        assert!(msg.starts_with("exit status 127"), "{msg}");
    }

    #[test]
    fn shell_failure_is_an_error_with_its_output() {
        let (msg, out) = expect_err(shell_task(
            "echo partial; echo first >&2; echo boom >&2; exit 3",
            DEFAULT_OUTPUT_CAP,
        ));
        assert_eq!(msg, "exit status 3: boom");
        assert_eq!(out.stdout, "partial\n");
        assert_eq!(out.stderr, "first\nboom\n");
        assert_eq!(out.exit_code, Some(3));

        let (msg, _) = expect_err(shell_task("exit 3", DEFAULT_OUTPUT_CAP));
        assert_eq!(msg, "exit status 3");

        let (msg, out) = expect_err(shell_task("kill -TERM $$", DEFAULT_OUTPUT_CAP));
        assert_eq!(msg, "killed by signal 15 (SIGTERM)");
        assert_eq!(out.exit_code, None);
    }

    /// Runs `argv` directly as worker slot `slot`; the slot number goes at
    /// the start of argv[1] when `argv[0]` is `printf`.
    fn exec_task(argv: &[&str], slot: u32) -> TaskOutcome {
        let spec = ExecSpec {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            env: vec![("PT_EXEC_TEST".into(), "from env".into())],
            slot_at: if argv[0] == "printf" {
                vec![(1, 0)]
            } else {
                vec![]
            },
            slot_env: Some("PT_SLOT".into()),
        };
        let mut ctx = ctx(Path::new("."), DEFAULT_OUTPUT_CAP);
        ctx.slot = slot;
        run_within(
            TaskSpec::Exec(Box::new(spec)),
            ctx,
            Duration::from_secs(120),
        )
    }

    #[test]
    fn exec_passes_arguments_untouched_and_fills_in_the_slot() {
        let out = expect_ok(exec_task(
            &["printf", "|%s|%s|%s\\n", "it's a $HOME `x` * \"q\"", ""],
            7,
        ));
        // The slot went in front of the format; no shell touched the rest.
        assert_eq!(out.stdout, "7|it's a $HOME `x` * \"q\"||\n");
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.signal, None);
        let out = expect_ok(exec_task(&["sh", "-c", "echo $PT_SLOT $PT_EXEC_TEST"], 3));
        assert_eq!(out.stdout, "3 from env\n");
    }

    #[test]
    fn exec_failures_read_like_a_shell_s() {
        let (msg, out) = expect_err(exec_task(&["no-such-program-pooltop", "x"], 1));
        assert_eq!(out.exit_code, Some(127));
        assert_eq!(
            msg,
            "exit status 127: no-such-program-pooltop: command not found"
        );
        assert_eq!(
            out.stderr,
            "pooltop: no-such-program-pooltop: command not found\n"
        );
        let (_, out) = expect_err(exec_task(&["./no/such/file", "x"], 1));
        assert_eq!(out.exit_code, Some(127));
        assert!(out.stderr.contains("No such file or directory"), "{out:?}");

        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        fs::write(&plain, "echo hi\n").unwrap();
        let (_, out) = expect_err(exec_task(&[plain.to_str().unwrap(), "x"], 1));
        assert_eq!(out.exit_code, Some(126), "not executable: {out:?}");

        // No #! line: run by sh, as execvp does.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&plain, fs::Permissions::from_mode(0o755)).unwrap();
        let out = expect_ok(exec_task(&[plain.to_str().unwrap(), "x"], 1));
        assert_eq!(out.stdout, "hi\n");

        let (msg, out) = expect_err(exec_task(&["sh", "-c", "kill -TERM $$"], 1));
        assert_eq!(msg, "killed by signal 15 (SIGTERM)");
        assert_eq!((out.exit_code, out.signal), (None, Some(15)));
    }

    #[test]
    fn exec_with_a_spill_folder_keeps_all_output_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let run_spilling = |script: &str, cap: usize| {
            let mut ctx = ctx(Path::new("."), cap);
            ctx.spill_dir = Some(dir.path().to_path_buf());
            let spec = ExecSpec::new(vec!["sh".into(), "-c".into(), script.into()]);
            run_within(
                TaskSpec::Exec(Box::new(spec)),
                ctx,
                Duration::from_secs(120),
            )
        };
        // Short text stays inline.
        let out = expect_ok(run_spilling("printf 'héllo'; printf e >&2", 16));
        assert_eq!(
            (out.stdout.as_str(), out.stdout_file.as_deref()),
            ("héllo", None)
        );
        assert_eq!(out.stderr, "e");
        // Binary output goes to a file, byte for byte.
        let out = expect_ok(run_spilling("printf 'a\\377\\000b'", 1024));
        let file = out.stdout_file.expect("spilled");
        assert_eq!(fs::read(&file).unwrap(), b"a\xff\0b");
        assert_eq!(out.stdout, "");
        // Longer than the cap, on both streams at once: whole files.
        let out = expect_ok(run_spilling(
            "head -c 300000 /dev/zero | tr '\\0' x; head -c 200000 /dev/zero >&2",
            1000,
        ));
        let stdout = fs::read(out.stdout_file.unwrap()).unwrap();
        assert_eq!(stdout.len(), 300_000);
        assert!(stdout.iter().all(|&b| b == b'x'));
        assert_eq!(fs::read(out.stderr_file.unwrap()).unwrap().len(), 200_000);
        // The files are private.
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A folder that cannot be written: an error, and no job left blocked.
        let mut ctx = ctx(Path::new("."), 10);
        ctx.spill_dir = Some(dir.path().join("missing"));
        let spec = ExecSpec::new(vec![
            "sh".into(),
            "-c".into(),
            "head -c 1000000 /dev/zero".into(),
        ]);
        let (msg, _) = expect_err(run_within(
            TaskSpec::Exec(Box::new(spec)),
            ctx,
            Duration::from_secs(120),
        ));
        assert!(
            msg.starts_with("cannot capture the command's stdout"),
            "{msg}"
        );
    }

    #[test]
    fn shell_keeps_a_bounded_tail_of_a_flood() {
        // 10 MB to stderr first: reading stdout alone would deadlock here.
        let cap = 4096;
        let out = expect_ok(shell_task(
            "head -c 10000000 /dev/zero >&2; head -c 50000000 /dev/zero; printf end",
            cap,
        ));
        let marker = "…[truncated 49995907 bytes]\n";
        assert!(out.stdout.starts_with(marker), "{:?}", &out.stdout[..40]);
        assert_eq!(out.stdout.len(), marker.len() + cap);
        assert!(out.stdout.ends_with("\0\0\0end"));
        assert_eq!(out.value, out.stdout);
        assert!(out.stderr.starts_with("…[truncated 9995904 bytes]\n"));
        assert!(out.stderr.len() <= cap + 40);
    }

    #[test]
    fn shell_hides_pooltop_env() {
        const MARK: &str = "child checked the environment";
        if std::env::var_os("POOLTOP_TOKEN").is_some() {
            // The child test process: the variables were set before it started.
            assert_eq!(std::env::var("POOLTOP_TOKEN").unwrap(), "secret");
            let out = expect_ok(shell_task(
                "echo ${POOLTOP_TOKEN:-unset} ${POOLTOP_X:-unset} ${NOT_POOLTOP:-unset}",
                DEFAULT_OUTPUT_CAP,
            ));
            assert_eq!(out.value, "unset unset kept\n");
            println!("{MARK}");
            return;
        }
        // Setting variables in this multi-threaded test process would race
        // with other tests, so run this test again in a child process that has
        // them from the start.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "worker::exec::tests::shell_hides_pooltop_env",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("POOLTOP_TOKEN", "secret")
            .env("POOLTOP_X", "x")
            .env("NOT_POOLTOP", "kept")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(MARK),
            "child test failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The naive tail, to check the ring against.
    fn naive_tail(stream: &[u8], cap: usize) -> &[u8] {
        &stream[stream.len().saturating_sub(cap)..]
    }

    #[test]
    fn tail_ring_keeps_the_last_cap_bytes() {
        let stream: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cap in [0, 1, 2, 7, 64, 999, 1000, 1001, 5000] {
            for chunk in [1, 3, 7, 64, 500, 1000] {
                let mut tail = Tail::new(cap);
                for part in stream.chunks(chunk) {
                    tail.push(part);
                    assert!(tail.ring.len() <= cap && tail.ring.capacity() <= cap);
                }
                let (bytes, dropped) = tail.into_bytes();
                assert_eq!(bytes, naive_tail(&stream, cap), "cap {cap} chunk {chunk}");
                assert_eq!(dropped as usize, stream.len() - bytes.len());
            }
        }
    }

    fn text_of(stream: &[u8], cap: usize) -> String {
        let mut tail = Tail::new(cap);
        tail.push(stream);
        tail.into_text()
    }

    #[test]
    fn tail_text_marks_truncation_and_stays_within_the_cap() {
        assert_eq!(text_of(b"short", 10), "short");
        assert_eq!(text_of(b"0123456789", 4), "…[truncated 6 bytes]\n6789");
        // "é" is 2 bytes: a cut through it drops it whole.
        assert_eq!(text_of("aéb".as_bytes(), 2), "…[truncated 3 bytes]\nb");
        assert_eq!(text_of("aébc".as_bytes(), 3), "…[truncated 3 bytes]\nbc");
        // Invalid bytes become U+FFFD, and the text still fits the cap.
        assert_eq!(text_of(b"ok\xff", 10), "ok\u{FFFD}");
        let binary = text_of(&[0xff; 100], 10);
        assert_eq!(
            binary,
            format!("…[truncated 97 bytes]\n{}", "\u{FFFD}".repeat(3))
        );
        assert_eq!(text_of(b"abc", 0), "…[truncated 3 bytes]\n");
        assert_eq!(text_of(b"", 0), "");
    }

    #[test]
    fn truncation_is_told_apart_from_the_text() {
        assert_eq!(
            split_truncated(&text_of(b"0123456789", 4)),
            (Some(6), "6789")
        );
        assert_eq!(split_truncated("plain"), (None, "plain"));
        assert_eq!(
            split_truncated("…[truncated x bytes]\ny"),
            (None, "…[truncated x bytes]\ny")
        );
    }

    #[test]
    fn last_line_skips_blanks_and_the_marker() {
        assert_eq!(last_line("a\nb\n\n  \n"), Some("b".into()));
        assert_eq!(last_line("…[truncated 5 bytes]\n"), None);
        assert_eq!(last_line(""), None);
        assert_eq!(last_line(&"x".repeat(300)).unwrap().chars().count(), 201);
    }
}
