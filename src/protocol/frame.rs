//! Frames on the wire: a 4-byte little-endian length, then a bincode payload.
//!
//! The only file that names bincode (2.x with serde; 3.0 on the registry is an
//! empty tombstone). Works over any `Read`/`Write` byte stream, so the same
//! frames can later travel over ssh's stdin/stdout. The length is checked
//! against [`MAX_FRAME`] before any buffer is allocated for it.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::MAX_FRAME;

const HEADER: usize = 4;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly between frames (the peer closed it).
    #[error("connection closed")]
    Closed,
    /// The peer announced a frame larger than we accept.
    #[error("frame of {0} bytes exceeds the cap")]
    TooLarge(u32),
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The payload is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The payload decoded but left bytes over.
    #[error("malformed frame: {0} trailing bytes")]
    Trailing(usize),
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether this means "the other side is gone" rather than "it sent garbage".
    /// A reset counts as gone: a manager that dies with unread data resets the socket.
    pub fn is_disconnect(&self) -> bool {
        match self {
            FrameError::Closed | FrameError::Truncated => true,
            FrameError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}

/// Appends one frame (header and body) for `msg` to `out`.
///
/// Callers collect frames in a buffer and hand it to the socket in one write.
pub fn encode_into<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    bincode::serde::encode_into_std_write(msg, out, config())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let len = out.len() - start - HEADER;
    if len > MAX_FRAME as usize {
        out.truncate(start);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes exceeds the frame cap of {MAX_FRAME} bytes"),
        ));
    }
    out[start..start + HEADER].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Writes one frame with a single write call.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    encode_into(msg, &mut buf)?;
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame into `buf` (reused between calls) and decodes it.
pub fn read_frame<T: DeserializeOwned>(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
) -> Result<T, FrameError> {
    read_frame_limited(r, buf, MAX_FRAME)
}

/// Like [`read_frame`], refusing frames longer than `limit` (≤ [`MAX_FRAME`]).
pub fn read_frame_limited<T: DeserializeOwned>(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    limit: u32,
) -> Result<T, FrameError> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_le_bytes(header);
    if len > limit.min(MAX_FRAME) {
        return Err(FrameError::TooLarge(len));
    }
    buf.clear();
    buf.resize(len as usize, 0);
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    decode(buf)
}

/// Takes one whole frame from the front of `buf`, for readers that collect
/// bytes from a non-blocking socket. Returns the message and how many bytes
/// it used, or none if the frame is not complete yet. The announced length
/// is checked against the cap before waiting for (or keeping) its bytes.
pub fn take_frame<T: DeserializeOwned>(buf: &[u8]) -> Result<Option<(T, usize)>, FrameError> {
    let Some(header) = buf.first_chunk::<HEADER>() else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(*header);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let end = HEADER + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some((decode(&buf[HEADER..end])?, end)))
}

/// How many bytes at the front of `buf` are whole frames, for relays that
/// pass frames on without decoding them (and must never cut one in two, so
/// that frames of their own can go between). Fails for a frame over the cap.
pub fn whole_frames(buf: &[u8]) -> Result<usize, FrameError> {
    let mut at = 0;
    while let Some(header) = buf[at..].first_chunk::<HEADER>() {
        let len = u32::from_le_bytes(*header);
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        let end = at + HEADER + len as usize;
        if buf.len() < end {
            break;
        }
        at = end;
    }
    Ok(at)
}

/// The frames in `buf` (whole frames only, see [`whole_frames`]), each
/// with its header.
pub fn frames_in(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let header = buf[at..].first_chunk::<HEADER>()?;
        let end = at + HEADER + u32::from_le_bytes(*header) as usize;
        let frame = buf.get(at..end)?;
        at = end;
        Some(frame)
    })
}

/// The variant number of the enum that a whole frame (header included)
/// holds, without decoding it: bincode's standard configuration writes it
/// first, as a varint that is one byte below 251. A relay uses it to pick
/// out the few frames meant for itself cheaply.
pub fn variant_of(frame: &[u8]) -> Option<u8> {
    frame.get(HEADER).copied().filter(|v| *v < 251)
}

/// Decodes one frame's payload (without its header).
///
/// bincode allocates a string's buffer at the length the payload *claims*
/// before it reads the bytes, so without a limit 13 bytes claiming a 1 TiB
/// string make the allocator abort the process. So the decoder gets a byte
/// limit. bincode counts against it every string's length and every integer
/// at its full width (8 for a u64 even when its varint takes 1 byte), so a
/// valid payload claims at most 8 times its size; the limit is the next
/// power of 4 above that (at least 4 KiB). Whatever a frame claims, decoding
/// it allocates at most 32 times its size.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    fn with<T: DeserializeOwned, const LIMIT: usize>(
        payload: &[u8],
    ) -> Result<(T, usize), bincode::error::DecodeError> {
        bincode::serde::decode_from_slice::<T, _>(payload, config().with_limit::<LIMIT>())
    }
    macro_rules! by_tier {
        ($need:expr; $($bits:literal)*) => {
            match $need {
                $(n if n <= 1 << $bits => with::<T, { 1 << $bits }>(payload),)*
                _ => with::<T, { 8 * MAX_FRAME as usize }>(payload),
            }
        };
    }
    let decoded = by_tier!(payload.len().saturating_mul(8); 12 14 16 18 20 22 24 26);
    let (msg, used) = decoded.map_err(|e| match e {
        bincode::error::DecodeError::LimitExceeded => {
            FrameError::Malformed("a length inside the frame exceeds the frame itself".into())
        }
        e => FrameError::Malformed(e.to_string()),
    })?;
    if used != payload.len() {
        return Err(FrameError::Trailing(payload.len() - used));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{FromWorker, Hello, List, ToWorker};
    use crate::task::{TaskOutcome, TaskOutput, TaskSpec};

    fn sample() -> Vec<ToWorker> {
        vec![
            ToWorker::Welcome {
                out_dir: "thumbs".into(),
                output_cap: 65536,
                slot: 2,
                spill_dir: "/tmp/x".into(),
                nice: 5,
                threads: 2,
            },
            ToWorker::Assign {
                first: 7,
                specs: List(vec![TaskSpec::Shell("echo 'hi there'".into())]),
            },
            ToWorker::Assign {
                first: 8,
                specs: List(vec![
                    TaskSpec::Exec(Box::new(crate::task::ExecSpec {
                        argv: vec!["echo".into(), "job ".into(), "ü'$x".into()],
                        env: vec![("PARALLEL_SEQ".into(), "8".into())],
                        slot_at: vec![(1, 4)],
                        slot_env: Some("PARALLEL_JOBSLOT".into()),
                    })),
                    TaskSpec::Square(-3),
                ]),
            },
            ToWorker::Assign {
                first: u64::MAX,
                specs: List(vec![TaskSpec::Thumbnail {
                    path: "ä b.png".into(),
                    width: 3,
                    height: 4,
                }]),
            },
            ToWorker::Shutdown,
        ]
    }

    #[test]
    fn round_trips_coalesced_frames() {
        let mut wire = Vec::new();
        for m in sample() {
            encode_into(&m, &mut wire).unwrap();
        }
        let mut r = &wire[..];
        let mut buf = Vec::new();
        for m in sample() {
            assert_eq!(read_frame::<ToWorker>(&mut r, &mut buf).unwrap(), m);
        }
        assert!(matches!(
            read_frame::<ToWorker>(&mut r, &mut buf),
            Err(FrameError::Closed)
        ));
    }

    /// A reader that hands out one byte per call: frames split at every point.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn reads_frames_split_into_single_bytes() {
        let msg = FromWorker::Finished {
            task: 3,
            outcome: TaskOutcome::Err {
                message: "exit status 3".into(),
                output: TaskOutput {
                    value: String::new(),
                    stdout: "x".repeat(1000),
                    stderr: "oops".into(),
                    exit_code: Some(3),
                    signal: None,
                    stdout_file: Some("/tmp/spill".into()),
                    stderr_file: None,
                },
            },
            wall_ns: 5,
            cpu_ns: 6,
            max_rss: Some(7 << 20),
        };
        let mut wire = Vec::new();
        encode_into(&msg, &mut wire).unwrap();
        let mut buf = Vec::new();
        assert_eq!(
            read_frame::<FromWorker>(&mut Trickle(&wire), &mut buf).unwrap(),
            msg
        );
    }

    #[test]
    fn takes_frames_from_a_growing_buffer() {
        let mut wire = Vec::new();
        for m in sample() {
            encode_into(&m, &mut wire).unwrap();
        }
        // Feed the bytes one at a time, as a non-blocking socket might.
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in &wire {
            buf.push(b);
            while let Some((msg, used)) = take_frame::<ToWorker>(&buf).unwrap() {
                got.push(msg);
                buf.drain(..used);
            }
        }
        assert_eq!(got, sample());
        assert!(buf.is_empty());
        let huge = u32::MAX.to_le_bytes();
        assert!(matches!(
            take_frame::<ToWorker>(&huge),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn refuses_oversized_length_without_allocating() {
        let wire = u32::MAX.to_le_bytes();
        let mut buf = Vec::new();
        let e = read_frame::<FromWorker>(&mut &wire[..], &mut buf).unwrap_err();
        assert!(matches!(e, FrameError::TooLarge(u32::MAX)), "{e}");
        assert_eq!(
            buf.capacity(),
            0,
            "nothing may be allocated for a refused frame"
        );
    }

    #[test]
    fn truncated_and_garbage_frames_are_errors() {
        let mut wire = Vec::new();
        encode_into(
            &FromWorker::Hello(Hello {
                version: 1,
                worker: 2,
                pid: 3,
                token: "t".into(),
                host: String::new(),
            }),
            &mut wire,
        )
        .unwrap();
        let mut buf = Vec::new();
        let cut = &wire[..wire.len() - 1];
        assert!(matches!(
            read_frame::<FromWorker>(&mut &cut[..], &mut buf),
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_frame::<FromWorker>(&mut &wire[..2], &mut buf),
            Err(FrameError::Truncated)
        ));
        let garbage = [5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff];
        let e = read_frame::<FromWorker>(&mut &garbage[..], &mut buf).unwrap_err();
        assert!(matches!(e, FrameError::Malformed(_)), "{e}");
        assert!(!e.is_disconnect());
    }

    /// A hello whose token claims `len` bytes, followed by only `extra` of them.
    fn hello_claiming(len: u64, extra: usize) -> Vec<u8> {
        // FromWorker::Hello, version 1, worker 1, pid 1, then the token's
        // length as a bincode varint (251 = u16, 252 = u32, 253 = u64 follows).
        let mut p = vec![0u8, 1, 1, 1, 253];
        p.extend_from_slice(&len.to_le_bytes());
        p.extend(std::iter::repeat_n(b'x', extra));
        p
    }

    #[test]
    fn a_huge_claimed_string_is_refused_without_allocating_it() {
        // Before the limit, this aborted the process: "memory allocation of
        // 1099511627776 bytes failed".
        for len in [1u64 << 40, u64::MAX, 1 << 31, MAX_FRAME as u64, 5000] {
            let e = decode::<FromWorker>(&hello_claiming(len, 10)).unwrap_err();
            assert!(matches!(e, FrameError::Malformed(_)), "{len}: {e}");
        }
        // The same lengths are fine when the bytes are really there.
        let mut real = hello_claiming(5000, 5000);
        real.push(0); // the host, empty (a local worker's)
        match decode::<FromWorker>(&real).unwrap() {
            FromWorker::Hello(h) => assert_eq!(h.token.len(), 5000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_borrowed_assign_encodes_as_the_owned_one() {
        let specs = vec![
            TaskSpec::Square(-3),
            TaskSpec::Shell("echo 'hi there'".into()),
            TaskSpec::Exec(Box::new(crate::task::ExecSpec {
                argv: vec!["echo".into(), "ü'$x".into()],
                env: vec![("PARALLEL_SEQ".into(), "8".into())],
                slot_at: vec![(1, 4)],
                slot_env: None,
            })),
        ];
        let borrowed: Vec<&TaskSpec> = specs.iter().collect();
        let (mut owned_bytes, mut borrowed_bytes) = (Vec::new(), Vec::new());
        let owned = ToWorker::Assign {
            first: 41,
            specs: List(specs.clone()),
        };
        encode_into(&owned, &mut owned_bytes).unwrap();
        let by_ref = crate::protocol::AssignRef {
            first: 41,
            specs: &borrowed,
        };
        encode_into(&by_ref, &mut borrowed_bytes).unwrap();
        assert_eq!(borrowed_bytes, owned_bytes);
        let decoded: ToWorker = decode(&borrowed_bytes[HEADER..]).unwrap();
        assert_eq!(decoded, owned);
    }

    #[test]
    fn refuses_to_encode_oversized_messages() {
        let huge = ToWorker::Assign {
            first: 1,
            specs: List(vec![TaskSpec::Shell("x".repeat(MAX_FRAME as usize + 1))]),
        };
        let mut out = vec![1, 2, 3];
        assert!(encode_into(&huge, &mut out).is_err());
        assert_eq!(
            out,
            vec![1, 2, 3],
            "a refused frame leaves the buffer as it was"
        );
    }
}
