//! The bounded tail of an output stream, and the marker that says how much
//! of the stream's start it dropped.
//!
//! A [`Tail`] keeps the last `cap` bytes of a stream in a ring that never
//! grows past `cap`. As text, a tail that dropped anything starts with the
//! line `…[truncated N bytes]\n`, where N counts the bytes of the stream that
//! are not shown; the text after that line is at most `cap` bytes (invalid
//! UTF-8 is shown as U+FFFD and counts as 3 bytes; a character cut in half at
//! the start is dropped whole). [`split_truncated`] reads the marker back.
//! Reading the stream from its pipe is `capture`'s job, not this module's.

/// How the truncation marker starts.
pub(super) const TRUNCATED: &str = "…[truncated ";

/// Splits captured output (see `ExecContext::output_cap` for its form) into how many
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
pub(super) struct Tail {
    ring: Vec<u8>,
    cap: usize,
    /// Where the oldest byte is once the ring is full (0 until then).
    head: usize,
    /// Bytes seen in all.
    total: u64,
}

impl Tail {
    /// An empty tail that will keep the last `cap` bytes.
    pub(super) fn new(cap: usize) -> Tail {
        Tail {
            ring: Vec::new(),
            cap,
            head: 0,
            total: 0,
        }
    }

    /// Adds the next bytes of the stream, dropping the oldest beyond `cap`.
    pub(super) fn push(&mut self, mut data: &[u8]) {
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
    /// when anything was dropped (see the module doc).
    pub(super) fn into_text(self) -> String {
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
}
