//! Score histograms and the ranking metrics read from them: ROC AUC,
//! average precision and DeLong's variance of the AUC.
//!
//! # Exact, then binned
//!
//! A [`ScoreHistogram`] counts rows per distinct score exactly while it
//! holds at most [`EXACT_DISTINCT_SCORES`] distinct scores. Past that it
//! switches, for good, to counts per bin of a fixed grid over [0, 1]:
//! bins of relative width 2^-[`BIN_MANTISSA_BITS`] (about 0.05%) of
//! `min(s, 1 − s)`, so they are about 1.2e-4 wide between 0.25 and 0.75
//! and narrower towards 0 and 1 (where scores crowd); every score below
//! 2^-40 from 0 or 1 shares the outermost bin.
//!
//! Merging is associative and commutative across the switch: the state is
//! a function of the multiset of scores alone (exact when that multiset
//! has at most the limit of distinct scores, else the grid's counts), since
//! a subset never has more distinct scores than the whole and the grid
//! does not depend on the data. Only the bins' float sums of scores
//! (kept for a representative score per bin) may differ in the last bits.
//!
//! # Definitions (equal to scikit-learn's on exact histograms)
//!
//! - ROC AUC: the Mann–Whitney form `(Σ_pos #neg below + ½ #neg tied) /
//!   (P·N)`, which equals `roc_auc_score`'s trapezoid over the ROC curve;
//!   computed in integers, so exactly rounded.
//! - Average precision: `Σ_k (R_k − R_{k−1})·P_k` over the distinct scores
//!   in decreasing order, as `average_precision_score`.
//! - DeLong's variance: `S10/P + S01/N`, the structural components with
//!   ties counted ½ (the midrank form of DeLong, DeLong & Clarke-Pearson
//!   1988), computed per distinct score.
//!
//! # Error bounds when binned
//!
//! In a bin, rows are taken as tied. An AUC pair inside one bin then counts
//! ½ where the truth is 0 or 1, so the AUC error is at most
//! `½ Σ_b pos_b·neg_b / (P·N)`, which [`Ranking::roc_auc_error_bound`]
//! reports. It is at most `½ max_b pos_b / P`: below 0.002 unless more than
//! 0.4% of the positives crowd into one bin of width ~1.2e-4 (then the
//! reported bound says so). For average precision, the precision at a
//! threshold inside bin `b` differs from the bin's end by at most
//! `(c_b − 1) / (n_above_b + c_b)` (`c_b` rows in the bin, `n_above_b` rows
//! above it), so the error is at most `Σ_b (pos_b / P)·(c_b − 1) /
//! (n_above_b + c_b)`, also reported. Both are 0 on exact histograms.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_map;

/// Distinct scores a histogram counts exactly before it bins.
pub const EXACT_DISTINCT_SCORES: usize = 4096;
/// Mantissa bits of the grid: bins 2^-11 wide relative to `min(s, 1 − s)`.
pub const BIN_MANTISSA_BITS: u32 = 11;
/// Scores closer than this to 0 or 1 share the outermost bins.
const FLOOR: f64 = 9.094_947_017_729_282e-13; // 2^-40

/// One bin of a binned histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub count: u64,
    /// Sum of the bin's scores: `sum / count` is its representative score.
    pub sum: f64,
}

/// Rows per score (exact) or per bin of a fixed grid (see module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreHistogram {
    /// Distinct score (its bits, for a total order on [0, 1]) → rows.
    Exact(#[serde(with = "exact_entries")] BTreeMap<u64, u64>),
    /// Bin index → bin.
    Binned(#[serde(with = "serde_map")] BTreeMap<u32, Bin>),
}

impl Default for ScoreHistogram {
    fn default() -> Self {
        Self::Exact(BTreeMap::new())
    }
}

/// The bin of a score in [0, 1]; monotone (a larger score never gets a
/// smaller bin).
pub fn bin_of(score: f64) -> u32 {
    // Index within [0, 0.5] by the float's exponent and top mantissa bits.
    fn half(x: f64) -> u32 {
        if x < FLOOR {
            0
        } else {
            (((x.to_bits() - FLOOR.to_bits()) >> (52 - BIN_MANTISSA_BITS)) + 1) as u32
        }
    }
    let top = half(0.5);
    if score <= 0.5 {
        half(score)
    } else {
        // 1 − s is exact for s ≥ 0.5 (Sterbenz), so mirrored bins are exact.
        2 * top + 1 - half(1.0 - score)
    }
}

impl ScoreHistogram {
    /// Rows counted.
    pub fn count(&self) -> u64 {
        match self {
            Self::Exact(m) => m.values().sum(),
            Self::Binned(m) => m.values().map(|b| b.count).sum(),
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self, Self::Exact(_))
    }

    /// Adds scores (each in [0, 1]; the caller has checked). Sorting the
    /// batch first makes the map see each distinct score once.
    pub fn add_all(&mut self, scores: &mut [f64]) {
        scores.sort_unstable_by(f64::total_cmp);
        let mut i = 0;
        while i < scores.len() {
            let s = scores[i] + 0.0; // -0.0 → 0.0
            let mut j = i + 1;
            while j < scores.len() && scores[j] == scores[i] {
                j += 1;
            }
            self.add_n(s, (j - i) as u64);
            i = j;
        }
        self.settle();
    }

    /// Adds `count` rows of score `s` (in [0, 1]).
    pub fn add_n(&mut self, s: f64, count: u64) {
        let s = s + 0.0;
        match self {
            Self::Exact(m) => *m.entry(s.to_bits()).or_default() += count,
            Self::Binned(m) => {
                let bin = m.entry(bin_of(s)).or_default();
                bin.count += count;
                bin.sum += s * count as f64;
            }
        }
    }

    /// Switches to bins when over the exact limit.
    fn settle(&mut self) {
        if let Self::Exact(m) = self
            && m.len() > EXACT_DISTINCT_SCORES
        {
            *self = Self::Binned(binned(m));
        }
    }

    pub fn merge(&mut self, other: &ScoreHistogram) {
        match (&mut *self, other) {
            (Self::Exact(mine), Self::Exact(theirs)) => {
                for (k, v) in theirs {
                    *mine.entry(*k).or_default() += v;
                }
            }
            (Self::Binned(mine), Self::Binned(theirs)) => merge_bins(mine, theirs),
            (Self::Binned(mine), Self::Exact(theirs)) => merge_bins(mine, &binned(theirs)),
            (Self::Exact(mine), Self::Binned(theirs)) => {
                let mut bins = binned(mine);
                merge_bins(&mut bins, theirs);
                *self = Self::Binned(bins);
            }
        }
        self.settle();
    }

    /// `(score, rows)` in increasing score order; a bin's score is its mean.
    pub fn points(&self) -> Vec<(f64, u64)> {
        match self {
            Self::Exact(m) => m.iter().map(|(k, v)| (f64::from_bits(*k), *v)).collect(),
            Self::Binned(m) => m
                .values()
                .map(|b| (b.sum / b.count as f64, b.count))
                .collect(),
        }
    }
}

fn binned(exact: &BTreeMap<u64, u64>) -> BTreeMap<u32, Bin> {
    let mut bins: BTreeMap<u32, Bin> = BTreeMap::new();
    for (k, v) in exact {
        let s = f64::from_bits(*k);
        let bin = bins.entry(bin_of(s)).or_default();
        bin.count += v;
        bin.sum += s * *v as f64;
    }
    bins
}

fn merge_bins(mine: &mut BTreeMap<u32, Bin>, theirs: &BTreeMap<u32, Bin>) {
    for (k, b) in theirs {
        let bin = mine.entry(*k).or_default();
        bin.count += b.count;
        bin.sum += b.sum;
    }
}

/// One score (or bin) with its positive and negative rows, in increasing
/// score order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Group {
    /// The score, or the bin's mean score.
    pub score: f64,
    pub positives: u64,
    pub negatives: u64,
}

/// The groups of two histograms on one scale: exact scores when both are
/// exact, else the bins of both. Returns whether they are exact.
pub fn aligned(positives: &ScoreHistogram, negatives: &ScoreHistogram) -> (Vec<Group>, bool) {
    // Merge-join of two key-sorted sequences of (key, Σ score, rows).
    fn join<K: Ord + Copy>(
        a: impl Iterator<Item = (K, f64, u64)>,
        b: impl Iterator<Item = (K, f64, u64)>,
    ) -> Vec<Group> {
        let (mut a, mut b) = (a.peekable(), b.peekable());
        let mut out = Vec::new();
        loop {
            let next = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), Some(y)) if x.0 == y.0 => {
                    let (x, y) = (a.next().unwrap(), b.next().unwrap());
                    (x.1 + y.1, x.2, y.2)
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    let x = a.next().unwrap();
                    (x.1, x.2, 0)
                }
                (Some(_), None) => {
                    let x = a.next().unwrap();
                    (x.1, x.2, 0)
                }
                _ => {
                    let y = b.next().unwrap();
                    (y.1, 0, y.2)
                }
            };
            out.push(Group {
                score: next.0 / (next.1 + next.2) as f64,
                positives: next.1,
                negatives: next.2,
            });
        }
        out
    }
    match (positives, negatives) {
        (ScoreHistogram::Exact(p), ScoreHistogram::Exact(n)) => {
            fn entries(m: &BTreeMap<u64, u64>) -> impl Iterator<Item = (u64, f64, u64)> + '_ {
                m.iter()
                    .map(|(k, v)| (*k, f64::from_bits(*k) * *v as f64, *v))
            }
            let mut groups = join(entries(p), entries(n));
            // Exact scores stay exact (no rounding through Σ / rows).
            let mut keys = p.keys().chain(n.keys()).copied().collect::<Vec<u64>>();
            keys.sort_unstable();
            keys.dedup();
            for (g, k) in groups.iter_mut().zip(keys) {
                g.score = f64::from_bits(k);
            }
            (groups, true)
        }
        _ => {
            fn bins(h: &ScoreHistogram) -> std::borrow::Cow<'_, BTreeMap<u32, Bin>> {
                match h {
                    ScoreHistogram::Exact(m) => std::borrow::Cow::Owned(binned(m)),
                    ScoreHistogram::Binned(m) => std::borrow::Cow::Borrowed(m),
                }
            }
            let (p, n) = (bins(positives), bins(negatives));
            (
                join(
                    p.iter().map(|(k, b)| (*k, b.sum, b.count)),
                    n.iter().map(|(k, b)| (*k, b.sum, b.count)),
                ),
                false,
            )
        }
    }
}

/// The ranking metrics of one binary problem.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    pub positives: u64,
    pub negatives: u64,
    /// `None` without both classes (scikit-learn: NaN with a warning).
    pub roc_auc: Option<f64>,
    /// DeLong's variance; `None` below two rows of either class.
    pub roc_auc_variance: Option<f64>,
    /// `None` without positives (scikit-learn returns 0 with a warning).
    pub average_precision: Option<f64>,
    /// Whether computed from exact scores (else from bins).
    pub exact: bool,
    /// Upper bounds of the error from binning (0 when exact).
    pub roc_auc_error_bound: f64,
    pub average_precision_error_bound: f64,
}

/// ROC AUC, its DeLong variance and average precision from the scores of
/// the positive and the negative rows.
pub fn rank(positives: &ScoreHistogram, negatives: &ScoreHistogram) -> Ranking {
    let (groups, exact) = aligned(positives, negatives);
    rank_groups(&groups, exact)
}

pub fn rank_groups(groups: &[Group], exact: bool) -> Ranking {
    let p: u64 = groups.iter().map(|g| g.positives).sum();
    let n: u64 = groups.iter().map(|g| g.negatives).sum();
    let (pf, nf) = (p as f64, n as f64);

    let mut roc_auc = None;
    let mut roc_auc_variance = None;
    let mut auc_bound = 0.0;
    if p > 0 && n > 0 {
        // Twice the Mann–Whitney U, in integers: exact.
        let mut twice_u: u128 = 0;
        let mut below: u64 = 0;
        let mut tied_pairs: u128 = 0;
        for g in groups {
            let tied = u128::from(g.positives) * u128::from(g.negatives);
            twice_u += 2 * u128::from(g.positives) * u128::from(below) + tied;
            tied_pairs += tied;
            below += g.negatives;
        }
        let total = 2 * u128::from(p) * u128::from(n);
        let auc = twice_u as f64 / total as f64;
        roc_auc = Some(auc);
        if !exact {
            auc_bound = tied_pairs as f64 / total as f64;
        }
        if p >= 2 && n >= 2 {
            // Structural components per group (every row of a group shares them).
            let (mut s10, mut s01) = (0.0, 0.0);
            let mut neg_below = 0u64;
            let mut pos_above = p;
            for g in groups {
                pos_above -= g.positives;
                let v10 = (neg_below as f64 + 0.5 * g.negatives as f64) / nf;
                let v01 = (pos_above as f64 + 0.5 * g.positives as f64) / pf;
                s10 += g.positives as f64 * (v10 - auc) * (v10 - auc);
                s01 += g.negatives as f64 * (v01 - auc) * (v01 - auc);
                neg_below += g.negatives;
            }
            roc_auc_variance = Some(s10 / (pf - 1.0) / pf + s01 / (nf - 1.0) / nf);
        }
    }

    let mut average_precision = None;
    let mut ap_bound = 0.0;
    if p > 0 {
        let (mut tp, mut seen) = (0u64, 0u64);
        let mut ap = 0.0;
        for g in groups.iter().rev() {
            let before = seen;
            tp += g.positives;
            seen += g.positives + g.negatives;
            if g.positives > 0 {
                ap += (g.positives as f64 / pf) * (tp as f64 / seen as f64);
                let c = g.positives + g.negatives;
                if !exact && c > 1 {
                    ap_bound += (g.positives as f64 / pf) * ((c - 1) as f64 / (before + c) as f64);
                }
            }
        }
        average_precision = Some(ap);
    }

    Ranking {
        positives: p,
        negatives: n,
        roc_auc,
        roc_auc_variance,
        average_precision,
        exact,
        roc_auc_error_bound: auc_bound,
        average_precision_error_bound: ap_bound.min(1.0),
    }
}

/// The exact map saved as `[[score, rows], ...]`.
mod exact_entries {
    use super::*;

    pub fn serialize<S: Serializer>(m: &BTreeMap<u64, u64>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().map(|(k, v)| (f64::from_bits(*k), *v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u64, u64>, D::Error> {
        let pairs: Vec<(f64, u64)> = Vec::deserialize(d)?;
        let mut m = BTreeMap::new();
        for (s, v) in pairs {
            if !(0.0..=1.0).contains(&s) {
                return Err(serde::de::Error::custom(format!(
                    "score {s} is outside [0, 1]"
                )));
            }
            *m.entry((s + 0.0).to_bits()).or_default() += v;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(scores: &[f64]) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        h.add_all(&mut scores.to_vec());
        h
    }

    /// AUC by brute force over all pairs.
    fn auc_pairs(pos: &[f64], neg: &[f64]) -> f64 {
        let mut u = 0.0;
        for p in pos {
            for n in neg {
                u += if p > n {
                    1.0
                } else if p == n {
                    0.5
                } else {
                    0.0
                };
            }
        }
        u / (pos.len() * neg.len()) as f64
    }

    #[test]
    fn bins_are_monotone_and_mirror() {
        let mut last = 0;
        for i in 0..=100_000 {
            let s = f64::from(i) / 100_000.0;
            let b = bin_of(s);
            assert!(b >= last, "bin of {s} went down");
            last = b;
        }
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(1e-14), 0);
        assert_eq!(bin_of(1.0), 2 * bin_of(0.5) + 1);
    }

    #[test]
    fn exact_auc_counts_ties_half() {
        let pos = [0.9, 0.8, 0.5, 0.5, 0.3];
        let neg = [0.5, 0.4, 0.2, 0.8, 0.1, 0.1];
        let r = rank(&hist(&pos), &hist(&neg));
        assert!((r.roc_auc.unwrap() - auc_pairs(&pos, &neg)).abs() < 1e-15);
        assert!(r.exact);
        assert_eq!(r.roc_auc_error_bound, 0.0);
    }

    #[test]
    fn switch_to_bins_is_order_independent() {
        let scores: Vec<f64> = (0..6000)
            .map(|i| (f64::from(i) * 0.618_034).fract())
            .collect();
        let mut whole = hist(&scores);
        assert!(!whole.is_exact());
        let mut a = hist(&scores[..3000]);
        let b = hist(&scores[3000..]);
        assert!(a.is_exact() && b.is_exact());
        a.merge(&b);
        assert_eq!(a.count(), whole.count());
        // Same bins and counts; sums equal up to rounding.
        let (ScoreHistogram::Binned(x), ScoreHistogram::Binned(y)) = (&a, &mut whole) else {
            panic!("both binned");
        };
        assert_eq!(x.len(), y.len());
        for ((kx, bx), (ky, by)) in x.iter().zip(y.iter()) {
            assert_eq!((kx, bx.count), (ky, by.count));
            assert!((bx.sum - by.sum).abs() <= 1e-12 * bx.sum.max(1.0));
        }
    }

    #[test]
    fn binned_auc_is_within_its_bound() {
        // Deterministic scores with heavy overlap.
        let pos: Vec<f64> = (0..20_000)
            .map(|i| 0.3 + 0.5 * (f64::from(i) * 0.754_877_7).fract())
            .collect();
        let neg: Vec<f64> = (0..30_000)
            .map(|i| 0.1 + 0.6 * (f64::from(i) * 0.569_840_3).fract())
            .collect();
        let r = rank(&hist(&pos), &hist(&neg));
        assert!(!r.exact);
        let mut sp = pos.clone();
        sp.sort_by(f64::total_cmp);
        let mut sn = neg.clone();
        sn.sort_by(f64::total_cmp);
        // Exact AUC by merge.
        let mut j = 0;
        let mut u = 0.0;
        let mut k = 0;
        for p in &sp {
            while j < sn.len() && sn[j] < *p {
                j += 1;
            }
            k = k.max(j);
            while k < sn.len() && sn[k] == *p {
                k += 1;
            }
            u += j as f64 + 0.5 * (k - j) as f64;
        }
        let exact = u / (sp.len() * sn.len()) as f64;
        let err = (r.roc_auc.unwrap() - exact).abs();
        assert!(
            err <= r.roc_auc_error_bound,
            "{err} > {}",
            r.roc_auc_error_bound
        );
        assert!(r.roc_auc_error_bound < 0.002, "{}", r.roc_auc_error_bound);
    }

    #[test]
    fn state_round_trips_through_json() {
        for h in [hist(&[0.1, 0.2, 0.2]), {
            let s: Vec<f64> = (0..5000).map(|i| f64::from(i) / 5000.0).collect();
            hist(&s)
        }] {
            let json = serde_json::to_string(&h).unwrap();
            let back: ScoreHistogram = serde_json::from_str(&json).unwrap();
            assert_eq!(back, h);
        }
    }
}
