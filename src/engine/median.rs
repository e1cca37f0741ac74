//! The running median of task run times, for a timeout that follows it
//! (`PoolConfig::task_timeout_median`, GNU parallel's `--timeout 200%`).
//! Pure, unit-tested.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// A median-based limit only applies once this many tasks are done: the
/// median of one or two run times says little about the next.
pub const MIN_SAMPLES: usize = 3;

/// A median-based limit is never shorter than this, so that scheduling noise
/// on quick tasks (a 2 ms job that once takes 5 ms) does not kill them.
pub const FLOOR: Duration = Duration::from_secs(1);

/// The median of every value pushed so far, in O(log n) per value: the lower
/// half in a max-heap, the upper half in a min-heap, balanced so that the
/// lower half holds the median (the lower middle value for an even count).
#[derive(Debug, Default)]
pub struct RunningMedian {
    lower: BinaryHeap<Duration>,
    upper: BinaryHeap<Reverse<Duration>>,
}

impl RunningMedian {
    pub fn push(&mut self, value: Duration) {
        if self.lower.peek().is_none_or(|&top| value <= top) {
            self.lower.push(value);
        } else {
            self.upper.push(Reverse(value));
        }
        // Keep len(lower) == len(upper) or len(upper) + 1.
        if self.lower.len() > self.upper.len() + 1 {
            let v = self.lower.pop().expect("not empty");
            self.upper.push(Reverse(v));
        } else if self.upper.len() > self.lower.len() {
            let Reverse(v) = self.upper.pop().expect("not empty");
            self.lower.push(v);
        }
    }

    pub fn len(&self) -> usize {
        self.lower.len() + self.upper.len()
    }

    /// The median (the lower of the two middle values for an even count).
    pub fn median(&self) -> Option<Duration> {
        self.lower.peek().copied()
    }

    /// `factor` times the median, not below [`FLOOR`], once [`MIN_SAMPLES`]
    /// values are in.
    pub fn limit(&self, factor: f64) -> Option<Duration> {
        if self.len() < MIN_SAMPLES {
            return None;
        }
        let median = self.median()?;
        let scaled = Duration::try_from_secs_f64(median.as_secs_f64() * factor).ok()?;
        Some(scaled.max(FLOOR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn median_matches_sorting() {
        let mut x: u64 = 7;
        let mut seen = Vec::new();
        let mut m = RunningMedian::default();
        for _ in 0..500 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let v = ms((x >> 40) % 1000);
            m.push(v);
            seen.push(v);
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(m.median(), Some(sorted[(sorted.len() - 1) / 2]));
        }
        assert_eq!(m.len(), 500);
    }

    #[test]
    fn limit_waits_for_samples_and_has_a_floor() {
        let mut m = RunningMedian::default();
        assert_eq!(m.limit(2.0), None);
        m.push(ms(2000));
        m.push(ms(4000));
        assert_eq!(m.limit(2.0), None, "two samples are not enough");
        m.push(ms(3000));
        assert_eq!(m.limit(2.0), Some(ms(6000)));
        let mut quick = RunningMedian::default();
        for _ in 0..3 {
            quick.push(ms(2));
        }
        assert_eq!(quick.limit(2.0), Some(FLOOR));
    }
}
