//! Log-linear buckets for histograms of durations in constant memory: the
//! highest set bit of a value picks its power of two, the next `SUB_BITS`
//! bits the sub-bucket within it, so a value is known to within
//! `1 / 2^SUB_BITS` of itself (exactly below `2^(SUB_BITS + 1)`). The
//! engine's running median and `pooltop report`'s run-time histograms use it.

/// Buckets with `SUB_BITS` bits of sub-bucket per power of two.
#[derive(Debug, Clone, Copy)]
pub struct LogLinear<const SUB_BITS: u32>;

impl<const SUB_BITS: u32> LogLinear<SUB_BITS> {
    const SUB: u64 = 1 << SUB_BITS;
    /// Enough buckets for any `u64`.
    pub const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * (1 << SUB_BITS);

    /// The bucket of `v`.
    pub fn bucket_of(v: u64) -> usize {
        if v < 2 * Self::SUB {
            return v as usize;
        }
        let high = 63 - v.leading_zeros();
        let sub = (v >> (high - SUB_BITS)) & (Self::SUB - 1);
        ((high - SUB_BITS + 1) as u64 * Self::SUB + sub) as usize
    }

    /// The middle of the range of values in bucket `i` (the value itself
    /// where buckets are exact).
    pub fn value_of(i: usize) -> u64 {
        let i = i as u64;
        if i < 2 * Self::SUB {
            return i;
        }
        let high = i / Self::SUB + u64::from(SUB_BITS) - 1;
        let shift = high - u64::from(SUB_BITS);
        ((Self::SUB + i % Self::SUB) << shift) + (1 << shift) / 2
    }
}
