//! The running median of task run times, for a timeout that follows it
//! (`PoolConfig::task_timeout_median`, GNU parallel's `--timeout 200%`).
//! Pure, unit-tested.

use std::time::Duration;

/// A median-based limit only applies once this many tasks are done: the
/// median of one or two run times says little about the next.
pub const MIN_SAMPLES: usize = 3;

/// A median-based limit is never shorter than this, so that scheduling noise
/// on quick tasks (a 2 ms job that once takes 5 ms) does not kill them.
pub const FLOOR: Duration = Duration::from_secs(1);

/// 64 sub-buckets per power of two: a value is known to within 1/64 of itself.
type Buckets = super::buckets::LogLinear<6>;
const BUCKETS: usize = Buckets::BUCKETS;

/// The median of every run time pushed so far, in constant memory: a
/// log-linear histogram of nanoseconds (exact below 128 ns, then 64 buckets
/// per power of two, so the median is known to within 1/64 of itself — far
/// finer than a timeout of "twice the median" needs). A pool that runs for
/// months keeps 30 KiB here, not a record per task; a push is an increment.
#[derive(Debug, Default)]
pub struct RunningMedian {
    /// Counts per bucket; allocated at the first push.
    counts: Vec<u64>,
    len: u64,
    /// The median, computed on demand and kept until the next push.
    cached: std::cell::Cell<Option<Duration>>,
}

fn bucket_of(nanos: u64) -> usize {
    Buckets::bucket_of(nanos)
}

fn value_of(i: usize) -> u64 {
    Buckets::value_of(i)
}

impl RunningMedian {
    pub fn push(&mut self, value: Duration) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(nanos)] += 1;
        self.len += 1;
        self.cached.set(None);
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The median (the lower of the two middle values for an even count).
    pub fn median(&self) -> Option<Duration> {
        if self.len == 0 {
            return None;
        }
        if let Some(m) = self.cached.get() {
            return Some(m);
        }
        // The value of rank (len - 1) / 2, counting from 0.
        let rank = (self.len - 1) / 2;
        let mut below = 0;
        let bucket = self
            .counts
            .iter()
            .position(|&c| {
                below += c;
                below > rank
            })
            .expect("the counts add up to len");
        let median = Duration::from_nanos(value_of(bucket));
        self.cached.set(Some(median));
        Some(median)
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
            let exact = sorted[(sorted.len() - 1) / 2].as_secs_f64();
            let got = m.median().expect("values pushed").as_secs_f64();
            assert!(
                (got - exact).abs() <= exact / 64.0,
                "median {got} of {} values, exactly {exact}",
                seen.len()
            );
        }
        assert_eq!(m.len(), 500);
    }

    #[test]
    fn buckets_are_exact_when_small_and_within_a_64th_above() {
        for v in 0..128 {
            assert_eq!(value_of(bucket_of(v)), v);
        }
        let mut v: u64 = 128;
        while v < u64::MAX / 3 {
            for x in [v, v + 1, v * 3 / 2, v * 2 - 1] {
                let i = bucket_of(x);
                assert!(i < BUCKETS, "{x} -> bucket {i}");
                let back = value_of(i) as f64;
                assert!((back - x as f64).abs() <= x as f64 / 64.0, "{x} -> {back}");
                assert!(i >= bucket_of(x - 1), "buckets keep the order at {x}");
            }
            v *= 2;
        }
        assert!(bucket_of(u64::MAX) < BUCKETS);
    }

    #[test]
    fn limit_waits_for_samples_and_has_a_floor() {
        let mut m = RunningMedian::default();
        assert_eq!(m.limit(2.0), None);
        m.push(ms(2000));
        m.push(ms(4000));
        assert_eq!(m.limit(2.0), None, "two samples are not enough");
        m.push(ms(3000));
        let limit = m.limit(2.0).expect("three samples");
        assert!((limit.as_secs_f64() - 6.0).abs() <= 6.0 / 64.0, "{limit:?}");
        let mut quick = RunningMedian::default();
        for _ in 0..3 {
            quick.push(ms(2));
        }
        assert_eq!(quick.limit(2.0), Some(FLOOR));
    }
}
