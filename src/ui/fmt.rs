//! Small text formatters shared by the views and the event log.

use std::time::Duration;

/// A duration in at most five characters-ish: `0.4s`, `12s`, `3m05s`, `2h10m`.
pub fn dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{}s", s as u64)
    } else if s < 3600.0 {
        let s = s as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = s as u64 / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// A duration in whole seconds, rounded up (countdowns): `3s`, `1m05s`.
pub fn secs_up(d: Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    }
}

/// A duration in whole seconds, rounded down (ages): `12s`, `1m05s`.
pub fn secs(d: Duration) -> String {
    secs_up(Duration::from_secs(d.as_secs()))
}

/// A clock reading: `0:07`, `12:34`, `1:02:03`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Bytes with a binary unit: `812K`, `12.3M`, `1.5G`.
pub fn bytes(b: u64) -> String {
    const K: f64 = 1024.0;
    let f = b as f64;
    if f < K * K {
        format!("{:.0}K", f / K)
    } else if f < K * K * 100.0 {
        format!("{:.1}M", f / (K * K))
    } else if f < K * K * K {
        format!("{:.0}M", f / (K * K))
    } else {
        format!("{:.1}G", f / (K * K * K))
    }
}

/// A rate per second: `0.0/s`, `3.2/s`, `1.2k/s`.
pub fn rate(r: f64) -> String {
    if r >= 10_000.0 {
        format!("{:.0}k/s", r / 1000.0)
    } else if r >= 1000.0 {
        format!("{:.1}k/s", r / 1000.0)
    } else if r >= 100.0 {
        format!("{r:.0}/s")
    } else {
        format!("{r:.1}/s")
    }
}

/// The eight heights of a one-cell bar, lowest first.
pub const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One cell of a sparkline for `v` out of `max` (never blank, so a line of
/// zeros still reads as a line).
pub fn bar_cell(v: f32, max: f32) -> char {
    if max <= 0.0 || !v.is_finite() {
        return BARS[0];
    }
    let i = ((v / max).clamp(0.0, 1.0) * 7.0).round() as usize;
    BARS[i.min(7)]
}

/// The last `width` values as a sparkline, right-aligned (older values first).
pub fn sparkline<'a>(
    values: impl DoubleEndedIterator<Item = &'a f32>,
    max: f32,
    width: usize,
) -> String {
    let mut cells: Vec<char> = values
        .rev()
        .take(width)
        .map(|v| bar_cell(*v, max))
        .collect();
    cells.reverse();
    let mut s = String::with_capacity(width * 3);
    for _ in cells.len()..width {
        s.push(' ');
    }
    s.extend(cells);
    s
}

/// A horizontal gauge of `width` cells: `█████░░░░░`.
pub fn gauge(pct: f32, width: usize) -> String {
    let full = ((pct / 100.0).clamp(0.0, 1.0) * width as f32).round() as usize;
    let mut s = String::with_capacity(width * 3);
    s.extend(std::iter::repeat_n('█', full));
    s.extend(std::iter::repeat_n('░', width - full));
    s
}

/// Cuts `s` to at most `width` characters, ending with `…` when cut.
#[cfg(test)]
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// The first line of `s`, with a `…` when more lines follow.
pub fn first_line(s: &str) -> String {
    let t = s.trim();
    match t.split_once('\n') {
        Some((a, _)) => format!("{}…", a.trim_end()),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(dur(Duration::from_millis(400)), "0.4s");
        assert_eq!(dur(Duration::from_secs(12)), "12s");
        assert_eq!(dur(Duration::from_secs(185)), "3m05s");
        assert_eq!(dur(Duration::from_secs(7800)), "2h10m");
        assert_eq!(secs_up(Duration::from_millis(2100)), "3s");
        assert_eq!(secs(Duration::from_millis(2900)), "2s");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(bytes(12 * 1024 * 1024 + 300 * 1024), "12.3M");
        assert_eq!(bytes(800 * 1024), "800K");
        assert_eq!(rate(3.21), "3.2/s");
        assert_eq!(gauge(50.0, 4), "██░░");
        assert_eq!(sparkline([0.0f32, 100.0].iter(), 100.0, 3), " ▁█");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(first_line("a\nb"), "a…");
    }
}
