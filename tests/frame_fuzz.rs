//! Fuzzing the frame decoder with proptest: whatever bytes arrive (as a
//! payload, a blocking stream or a non-blocking buffer), decoding
//! never panics, never allocates more than a small multiple of what arrived,
//! and every message survives the round trip however the stream is split.
//!
//! Cases per property: `POOLTOP_FUZZ_CASES` (default 2,000; CI runs that).
//! A longer run: `POOLTOP_FUZZ_CASES=1000000 cargo test --release --test frame_fuzz`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};

use pooltop::protocol::frame::{self, FrameError};
use pooltop::protocol::{FromWorker, Hello, List, MAX_FRAME, ToWorker};
use pooltop::task::{TaskOutcome, TaskOutput, TaskSpec};
use proptest::prelude::*;

/// Records the largest single allocation made on this thread while tracking.
struct Tracking;

thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is the system allocator's; passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is the system allocator's; passed on as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract is the system allocator's; passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is the system allocator's; passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// Runs `f` and returns its result with the largest allocation it made.
fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    TRACK.with(|t| t.set(true));
    let out = f();
    TRACK.with(|t| t.set(false));
    (out, LARGEST.with(|l| l.get()))
}

/// What decoding `n` bytes may allocate at most: 32 times their number
/// (never less than 4 KiB, for error messages and the like).
fn allowed(n: usize) -> usize {
    (32 * n).max(4096)
}

fn cases() -> u32 {
    std::env::var("POOLTOP_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

/// A reader that hands out the bytes in the given chunk sizes (cycled).
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() || out.is_empty() {
            return Ok(0);
        }
        let want = self.sizes[self.next % self.sizes.len()].max(1);
        self.next += 1;
        let n = want.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        proptest::collection::vec(any::<char>(), 0..300).prop_map(|c| c.into_iter().collect()),
    ]
}

fn spec() -> impl Strategy<Value = TaskSpec> {
    prop_oneof![
        any::<u64>().prop_map(TaskSpec::Spin),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(TaskSpec::Sleep),
        any::<i64>().prop_map(TaskSpec::Square),
        text().prop_map(TaskSpec::Sha256),
        (text(), any::<u32>(), any::<u32>()).prop_map(|(path, width, height)| {
            TaskSpec::Thumbnail {
                path,
                width,
                height,
            }
        }),
        text().prop_map(TaskSpec::Shell),
        (
            prop::collection::vec(text(), 0..4),
            prop::collection::vec((text(), text()), 0..3),
            prop::collection::vec((any::<u32>(), any::<u32>()), 0..3),
            any::<Option<String>>(),
        )
            .prop_map(|(argv, env, slot_at, slot_env)| {
                TaskSpec::Exec(Box::new(pooltop::task::ExecSpec {
                    argv,
                    env,
                    slot_at,
                    slot_env,
                }))
            }),
        Just(TaskSpec::Hang),
        text().prop_map(TaskSpec::Fail),
        Just(TaskSpec::Crash),
    ]
}

fn output() -> impl Strategy<Value = TaskOutput> {
    (
        (text(), text(), text()),
        (any::<Option<i32>>(), any::<Option<i32>>()),
        (any::<Option<String>>(), any::<Option<String>>()),
    )
        .prop_map(
            |((value, stdout, stderr), (exit_code, signal), (stdout_file, stderr_file))| {
                TaskOutput {
                    value,
                    stdout,
                    stderr,
                    exit_code,
                    signal,
                    stdout_file,
                    stderr_file,
                }
            },
        )
}

fn from_worker() -> impl Strategy<Value = FromWorker> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), any::<u32>(), text(), text()).prop_map(
            |(version, worker, pid, token, host)| {
                FromWorker::Hello(Hello {
                    version,
                    worker,
                    pid,
                    token,
                    host,
                })
            }
        ),
        (
            any::<u64>(),
            prop_oneof![
                output().prop_map(TaskOutcome::Ok),
                (text(), output())
                    .prop_map(|(message, output)| TaskOutcome::Err { message, output }),
            ],
            any::<u64>(),
            any::<u64>(),
            any::<Option<u64>>()
        )
            .prop_map(
                |(task, outcome, wall_ns, cpu_ns, max_rss)| FromWorker::Finished {
                    task,
                    outcome,
                    wall_ns,
                    cpu_ns,
                    max_rss,
                }
            ),
        (
            any::<u64>(),
            proptest::collection::vec((text(), any::<u64>()), 0..20)
        )
            .prop_map(|(first, results)| FromWorker::Values {
                first,
                results: results.iter().map(|(v, ns)| (v.as_str(), *ns)).collect(),
            }),
    ]
}

fn to_worker() -> impl Strategy<Value = ToWorker> {
    prop_oneof![
        (text(), any::<u64>(), any::<u32>(), text()).prop_map(
            |(out_dir, output_cap, slot, spill_dir)| ToWorker::Welcome {
                nice: 0,
                threads: 1,
                out_dir,
                output_cap,
                slot,
                spill_dir,
            }
        ),
        (any::<u64>(), prop::collection::vec(spec(), 0..4)).prop_map(|(first, specs)| {
            ToWorker::Assign {
                first,
                specs: List(specs),
            }
        }),
        Just(ToWorker::Shutdown),
    ]
}

/// A valid frame with some of its bytes changed, cut short or lengthened.
fn mutated(frame: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    let mut bytes = frame;
    for (at, kind, value) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            at % bytes.len()
        };
        match kind % 4 {
            0 if !bytes.is_empty() => bytes[at] = value,
            1 => bytes.insert(at, value),
            2 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_payload_decodes_or_fails_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let (_, used) = largest_alloc(|| {
            let _ = frame::decode::<FromWorker>(&bytes);
            let _ = frame::decode::<ToWorker>(&bytes);
        });
        prop_assert!(used <= allowed(bytes.len()), "{} bytes allocated {used}", bytes.len());
    }

    #[test]
    fn any_handshake_stream_is_read_or_refused_cleanly(
        bytes in proptest::collection::vec(any::<u8>(), 0..6000),
        big_header in any::<bool>(),
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        // As the manager reads a handshake: frames of at most 4 KiB.
        let mut bytes = bytes;
        if big_header && bytes.len() >= 4 {
            bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        let (result, used) = largest_alloc(|| {
            let mut r = Chunked { data: &bytes, sizes, next: 0 };
            frame::read_frame_limited::<FromWorker>(&mut r, &mut Vec::new(), 4096)
        });
        prop_assert!(used <= allowed(4096), "allocated {used}");
        if let Err(FrameError::TooLarge(n)) = result {
            prop_assert!(n > 4096);
        }
    }

    #[test]
    fn any_buffer_is_taken_from_or_refused_cleanly(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        // As the supervisor parses a worker's non-blocking socket.
        let (result, used) = largest_alloc(|| frame::take_frame::<FromWorker>(&bytes));
        prop_assert!(used <= allowed(bytes.len()), "{} bytes allocated {used}", bytes.len());
        if let Ok(Some((_, n))) = result {
            prop_assert!(n <= bytes.len());
        }
    }

    #[test]
    fn mutated_frames_decode_or_fail_cleanly(
        msg in from_worker(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let mut wire = Vec::new();
        frame::encode_into(&msg, &mut wire).unwrap();
        let bytes = mutated(wire, edits);
        let (_, used) = largest_alloc(|| {
            let _ = frame::read_frame::<FromWorker>(&mut &bytes[..], &mut Vec::new());
            if bytes.len() > 4 {
                let _ = frame::decode::<FromWorker>(&bytes[4..]);
            }
        });
        // read_frame may size its buffer by the (capped) header: a length a
        // trusted worker could send. Beyond that, only the decode bound.
        let header = bytes.get(..4).map_or(0, |h| u32::from_le_bytes(h.try_into().unwrap()));
        let buffer = if header <= MAX_FRAME { header as usize } else { 0 };
        prop_assert!(used <= allowed(bytes.len()).max(buffer), "allocated {used}");
    }

    #[test]
    fn messages_round_trip_however_the_stream_is_split(
        up in proptest::collection::vec(from_worker(), 1..5),
        down in proptest::collection::vec(to_worker(), 1..5),
        sizes in proptest::collection::vec(1usize..300, 1..8),
    ) {
        let mut wire = Vec::new();
        for m in &up {
            frame::encode_into(m, &mut wire).unwrap();
        }
        let mut r = Chunked { data: &wire, sizes: sizes.clone(), next: 0 };
        let mut buf = Vec::new();
        for m in &up {
            prop_assert_eq!(&frame::read_frame::<FromWorker>(&mut r, &mut buf).unwrap(), m);
        }
        prop_assert!(matches!(frame::read_frame::<FromWorker>(&mut r, &mut buf), Err(FrameError::Closed)));

        // And as the supervisor collects them, a chunk at a time.
        let mut got = Vec::new();
        let mut pending = Vec::new();
        let mut r = Chunked { data: &wire, sizes: sizes.clone(), next: 0 };
        let mut chunk = [0u8; 300];
        loop {
            let n = r.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&chunk[..n]);
            while let Some((msg, used)) = frame::take_frame::<FromWorker>(&pending).unwrap() {
                got.push(msg);
                pending.drain(..used);
            }
        }
        prop_assert!(pending.is_empty());
        prop_assert_eq!(&got, &up);

        let mut wire = Vec::new();
        for m in &down {
            frame::encode_into(m, &mut wire).unwrap();
        }
        let mut r = Chunked { data: &wire, sizes, next: 0 };
        for m in &down {
            prop_assert_eq!(&frame::read_frame::<ToWorker>(&mut r, &mut buf).unwrap(), m);
        }
    }
}
