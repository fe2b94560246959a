//! Sums that merge: a compensated sum and mean/variance moments.
//!
//! Why compensated: a window's quality is the merge of many batch states
//! (and a day's the merge of its windows), in whatever order they arrive.
//! A plain `f64` sum depends on that order in its last bits and loses
//! digits over millions of terms; Neumaier's compensated sum keeps the
//! error near one rounding of the total whatever the order, so merged and
//! unmerged results agree to far better than the 1e-9 the parity tests ask.

use serde::{Deserialize, Serialize};

/// Neumaier's compensated sum: `value()` is the sum of everything added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    #[inline]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn merge(&mut self, other: &Sum) {
        self.add(other.sum);
        self.add(other.compensation);
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Count, mean and sum of squared deviations (Welford's M2), merged with
/// Chan et al.'s pairwise formula: stable for values far from 0, which a
/// plain sum of squares is not (R² of a regression on large targets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// Moments of a batch: two passes (mean, then squared deviations).
    pub fn of(values: impl Iterator<Item = f64> + Clone) -> Self {
        let mut n = 0u64;
        let mut sum = Sum::default();
        for v in values.clone() {
            n += 1;
            sum.add(v);
        }
        if n == 0 {
            return Self::default();
        }
        let mean = sum.value() / n as f64;
        let mut m2 = Sum::default();
        for v in values {
            m2.add((v - mean) * (v - mean));
        }
        Self {
            n,
            mean,
            m2: m2.value(),
        }
    }

    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let (na, nb, nt) = (self.n as f64, other.n as f64, n as f64);
        self.mean += delta * nb / nt;
        self.m2 += other.m2 + delta * delta * na * nb / nt;
        self.n = n;
    }

    /// Sample variance (n − 1); `None` below two values.
    pub fn sample_variance(&self) -> Option<f64> {
        (self.n >= 2).then(|| (self.m2 / (self.n - 1) as f64).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensated_sum_keeps_small_terms() {
        let mut s = Sum::default();
        s.add(1e16);
        for _ in 0..10 {
            s.add(1.0);
        }
        s.add(-1e16);
        assert_eq!(s.value(), 10.0);
    }

    #[test]
    fn moments_merge_as_one_pass() {
        let a: Vec<f64> = (0..100).map(|i| 1e9 + f64::from(i) * 0.5).collect();
        let whole = Moments::of(a.iter().copied());
        let mut left = Moments::of(a[..37].iter().copied());
        left.merge(&Moments::of(a[37..].iter().copied()));
        assert_eq!(whole.n, left.n);
        assert!((whole.mean - left.mean).abs() < 1e-6);
        assert!((whole.m2 - left.m2).abs() / whole.m2 < 1e-9);
    }
}
