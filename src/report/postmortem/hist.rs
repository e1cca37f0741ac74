//! Run times of one kind of task in constant memory: a log-linear
//! histogram of microseconds (exact below 64 µs, then 32 buckets per power
//! of two: a quantile within about 3% of itself), with the exact minimum
//! and maximum beside it.

/// 32 sub-buckets per power of two (the engine's log-linear buckets).
type Buckets = pooltop::engine::buckets::LogLinear<5>;
const BUCKETS: usize = Buckets::BUCKETS;
/// Run times in seconds; see the module documentation.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    pub len: u64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            len: 0,
            min: f64::INFINITY,
            max: 0.0,
            sum: 0.0,
        }
    }
}

impl Histogram {
    pub fn push(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        let micros = (secs * 1e6).round() as u64;
        self.counts[Buckets::bucket_of(micros)] += 1;
        self.len += 1;
        self.min = self.min.min(secs);
        self.max = self.max.max(secs);
        self.sum += secs;
    }

    /// The `q` quantile (0 to 1) in seconds, kept within the exact min and
    /// max; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let rank = ((q * self.len as f64).ceil() as u64).clamp(1, self.len);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return (Buckets::value_of(i) as f64 / 1e6).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close_and_within_the_range() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.push(f64::from(i) / 1000.0);
        }
        assert_eq!((h.min, h.max, h.len), (0.001, 1.0, 1000));
        let median = h.quantile(0.5);
        assert!((median - 0.5).abs() < 0.02, "{median}");
        let p95 = h.quantile(0.95);
        assert!((p95 - 0.95).abs() < 0.04, "{p95}");
        assert_eq!(h.quantile(1.0), 1.0);
        assert_eq!(Histogram::default().quantile(0.5), 0.0);
    }
}
