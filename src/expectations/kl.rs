//! `expect_column_kl_divergence_to_be_less_than`, as GE 1.x computes it:
//! KL(observed ‖ expected) = Σ p·ln(p/q) over the normalized weights
//! (scipy's `entropy(pk, qk)`), with GE's partition objects, tail weights
//! and weight holdouts.
//!
//! - Categorical partitions (`values`, `weights`) compare exact value
//!   counts. Observed values the partition lacks share `tail_weight_holdout`
//!   equally (the partition's weights are scaled by `1 − holdout`); without
//!   a holdout they make the divergence infinite.
//! - Binned partitions (`bins`, `weights`, optional `tail_weights`) compare
//!   an exact histogram of the column (`np.histogram`'s bins) plus the
//!   shares below the first and above the last edge. `internal_weight_holdout`
//!   is spread over the partition's empty bins; `tail_weight_holdout` goes to
//!   the tails a finite end leaves open (half to each when both are finite).
//!   An infinite first or last edge makes its bin the tail.
//! - A null partition is built from the data itself (bins as numpy's
//!   `auto`, or value counts with `bucketize_data = false`).
//!
//! An infinite or undefined divergence is reported as `observed_value: null`
//! and fails unless `threshold` is null (then every result passes, as in GE).

use serde_json::{Map, Value as Json, json};

use super::aggregate::{ValueCounts, Verdict};
use super::args::{Args, describe};
use super::exact::{self, Interpolation};
use super::suite::{AggregateCheck, Scalar, num_json};
use super::values::{Family, Key, scalar_key};

/// A GE partition object.
#[derive(Debug, Clone)]
pub enum Partition {
    /// `{"values": [...], "weights": [...]}`.
    Categorical {
        values: Vec<Scalar>,
        weights: Vec<f64>,
    },
    /// `{"bins": [edges...], "weights": [...], "tail_weights": [lo, hi]}`.
    Bins {
        edges: Vec<f64>,
        weights: Vec<f64>,
        tail_weights: Option<[f64; 2]>,
    },
}

/// The expectation's arguments, checked.
#[derive(Debug, Clone)]
pub struct KlSpec {
    /// `None`: built from the data.
    pub partition: Option<Partition>,
    /// `None`: every result passes.
    pub threshold: Option<f64>,
    pub tail_weight_holdout: f64,
    pub internal_weight_holdout: f64,
    pub bucketize: bool,
}

impl KlSpec {
    /// Whether the check compares value counts (else a histogram of values).
    pub fn categorical(&self) -> bool {
        match &self.partition {
            Some(Partition::Categorical { .. }) => true,
            Some(Partition::Bins { .. }) => false,
            None => !self.bucketize,
        }
    }
}

/// numpy's `np.allclose(x, 1)`.
fn sums_to_one(weights: impl Iterator<Item = f64>) -> bool {
    (weights.sum::<f64>() - 1.0).abs() <= 1e-8 + 1e-5
}

fn edge(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        // GE writes infinite edges as bare `Infinity`, which assay's JSON
        // reader turns into these strings.
        Json::String(s) if s == "Infinity" || s == "inf" => Some(f64::INFINITY),
        Json::String(s) if s == "-Infinity" || s == "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn numbers(value: Option<&Json>, parse: fn(&Json) -> Option<f64>) -> Option<Vec<f64>> {
    value?.as_array()?.iter().map(parse).collect()
}

/// Reads and checks the arguments; GE's `ValueError`s are argument errors.
pub fn parse(a: &mut Args<'_>) -> AggregateCheck {
    let threshold = a.number("threshold");
    if threshold.is_some_and(|t| t < 0.0) {
        a.bad("threshold", "must be greater than or equal to 0");
    }
    let holdout = |a: &mut Args<'_>, key: &'static str| {
        let w = a.number(key).unwrap_or(0.0);
        if !(0.0..=1.0).contains(&w) {
            a.bad(
                key,
                format!(
                    "must be greater than or equal to 0 and less than or equal to 1, found {w}"
                ),
            );
        }
        w
    };
    let tail_weight_holdout = holdout(a, "tail_weight_holdout");
    let internal_weight_holdout = holdout(a, "internal_weight_holdout");
    let bucketize = a.flag("bucketize_data", true);
    let key = "partition_object";
    let partition = match a.get(key) {
        None => None,
        Some(Json::Object(map)) => partition(a, map),
        Some(other) => {
            a.bad(
                key,
                format!("expected a table/object, found {}", describe(other)),
            );
            None
        }
    };
    match &partition {
        Some(Partition::Categorical { .. }) if internal_weight_holdout > 0.0 => a.bad(
            "internal_weight_holdout",
            "cannot be used with a categorical partition",
        ),
        Some(Partition::Bins {
            edges,
            tail_weights,
            ..
        }) => {
            let (lo, hi) = (edges[0], edges[edges.len() - 1]);
            if tail_weight_holdout != 0.0 && tail_weights.is_some() {
                a.bad(
                    "tail_weight_holdout",
                    "must be 0 when the partition has tail_weights",
                );
            }
            if lo.is_infinite() && hi.is_infinite() && tail_weight_holdout > 0.0 {
                a.bad(
                    "tail_weight_holdout",
                    "cannot be used for a partition with infinite endpoints",
                );
            }
            if (lo.is_infinite() || hi.is_infinite()) && tail_weights.is_some() {
                a.bad(
                    key,
                    "a partition with an infinite endpoint cannot have tail_weights",
                );
            }
            if !bucketize {
                a.bad(
                    "bucketize_data",
                    "a binned partition needs bucketize_data = true",
                );
            }
        }
        _ => {}
    }
    AggregateCheck::KlDivergence(KlSpec {
        partition,
        threshold,
        tail_weight_holdout,
        internal_weight_holdout,
        bucketize,
    })
}

fn partition(a: &mut Args<'_>, map: &Map<String, Json>) -> Option<Partition> {
    let key = "partition_object";
    let weights = numbers(map.get("weights"), Json::as_f64);
    if let Some(values) = map.get("values") {
        let values: Option<Vec<Scalar>> = values
            .as_array()
            .and_then(|v| v.iter().map(Scalar::from_json).collect());
        match (values, weights) {
            (Some(values), Some(weights))
                if values.len() == weights.len()
                    && !values.is_empty()
                    && sums_to_one(weights.iter().copied()) =>
            {
                return Some(Partition::Categorical { values, weights });
            }
            _ => a.bad(
                key,
                "a categorical partition needs `values` and `weights` of equal length, the weights summing to 1",
            ),
        }
        return None;
    }
    if map.contains_key("bins") {
        let edges = numbers(map.get("bins"), edge);
        let tails = match map.get("tail_weights") {
            None => Some(None),
            Some(t) => numbers(Some(t), Json::as_f64)
                .filter(|t| t.len() == 2)
                .map(|t| Some([t[0], t[1]])),
        };
        match (edges, weights, tails) {
            (Some(edges), Some(weights), Some(tail_weights))
                if edges.len() == weights.len() + 1
                    && !weights.is_empty()
                    && edges.windows(2).all(|w| w[1] > w[0])
                    && sums_to_one(weights.iter().chain(tail_weights.iter().flatten()).copied()) =>
            {
                return Some(Partition::Bins {
                    edges,
                    weights,
                    tail_weights,
                });
            }
            _ => a.bad(
                key,
                "a binned partition needs increasing `bins` with one more edge than `weights`, optional `tail_weights` [low, high], all weights summing to 1",
            ),
        }
        return None;
    }
    a.bad(
        key,
        "invalid partition object: expected `values` and `weights`, or `bins` and `weights`",
    );
    None
}

/// scipy's `entropy(pk, qk)`: both normalized, `Σ rel_entr(p, q)`.
fn entropy(pk: &[f64], qk: &[f64]) -> f64 {
    let (sp, sq) = (pk.iter().sum::<f64>(), qk.iter().sum::<f64>());
    pk.iter()
        .zip(qk)
        .map(|(p, q)| {
            let (p, q) = (p / sp, q / sq);
            if p.is_nan() || q.is_nan() {
                f64::NAN
            } else if p > 0.0 && q > 0.0 {
                p * (p / q).ln()
            } else if p == 0.0 && q >= 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        })
        .sum()
}

fn weights_json(weights: &[f64]) -> Json {
    Json::Array(weights.iter().map(|w| num_json(*w)).collect())
}

fn verdict(kl: f64, threshold: Option<f64>, details: Json) -> Verdict {
    let observed = if kl.is_finite() {
        num_json(kl)
    } else {
        Json::Null
    };
    let ok = threshold.is_none_or(|t| kl <= t);
    (ok, observed, Some(details))
}

/// What a binned partition is compared with.
pub enum Observed<'a> {
    /// The column's non-missing values, ascending: exact.
    Values(&'a [f64]),
    /// A saved profile's sketch: the share of values at or below each
    /// point (approximate; `auto` partitions need the values).
    Cdf(&'a dyn Fn(&[f64]) -> Option<Vec<f64>>),
}

/// Evaluates the check: `counts` for categorical partitions, `observed`
/// for binned ones.
pub fn evaluate(
    spec: &KlSpec,
    fam: Family,
    counts: Option<&ValueCounts>,
    observed: Option<Observed<'_>>,
) -> Result<Verdict, String> {
    if spec.categorical() {
        let counts = counts.ok_or("exact value counts are not available")?;
        return categorical(spec, fam, counts);
    }
    if fam != Family::Num {
        return Err("a binned partition needs a numeric column".into());
    }
    let observed = observed.ok_or("the column's values are not available")?;
    let own;
    let partition = match (&spec.partition, &observed) {
        (Some(p), _) => p,
        (None, Observed::Values(sorted)) => {
            own = auto_partition(sorted)?;
            &own
        }
        (None, Observed::Cdf(_)) => {
            return Err("a partition built from the data needs the data, not a profile".into());
        }
    };
    let Partition::Bins {
        edges,
        weights,
        tail_weights,
    } = partition
    else {
        return Err("a binned partition is needed".into());
    };
    let shares = match observed {
        Observed::Values(sorted) => exact_shares(sorted, edges),
        Observed::Cdf(cdf) => {
            let at = cdf(edges).ok_or("the column has no values")?;
            Shares {
                bins: at.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect(),
                below: at[0],
                above: 1.0 - at[at.len() - 1],
            }
        }
    };
    Ok(binned(spec, &shares, edges, weights, *tail_weights))
}

/// Shares of the values in each bin, below the first and above the last edge.
struct Shares {
    bins: Vec<f64>,
    below: f64,
    above: f64,
}

fn exact_shares(sorted: &[f64], edges: &[f64]) -> Shares {
    let n = sorted.len() as f64;
    let (below, above) = exact::outside(sorted, edges[0], edges[edges.len() - 1]);
    Shares {
        bins: exact::histogram(sorted, edges)
            .iter()
            .map(|c| *c as f64 / n)
            .collect(),
        below: below as f64 / n,
        above: above as f64 / n,
    }
}

fn categorical(spec: &KlSpec, fam: Family, counts: &ValueCounts) -> Result<Verdict, String> {
    let temporal = fam == Family::Temporal;
    let nonnull = counts.nonmissing as f64;
    // The partition's values in order, then observed values it lacks,
    // sorted (pandas' concat of the two weight series).
    let (mut keys, mut expected): (Vec<Key>, Vec<Option<f64>>) = match &spec.partition {
        Some(Partition::Categorical { values, weights }) => (
            values
                .iter()
                .map(|v| scalar_key(v, fam))
                .collect::<Result<_, _>>()?,
            weights.iter().copied().map(Some).collect(),
        ),
        // From the data itself: the divergence is 0.
        _ => {
            let sorted: Vec<(Key, u64)> = sorted_counts(counts);
            (
                sorted.iter().map(|(k, _)| k.clone()).collect(),
                sorted
                    .iter()
                    .map(|(_, n)| Some(*n as f64 / nonnull))
                    .collect(),
            )
        }
    };
    for (key, _) in sorted_counts(counts) {
        if !keys.contains(&key) {
            keys.push(key);
            expected.push(None);
        }
    }
    let observed: Vec<f64> = keys
        .iter()
        .map(|k| *counts.counts.get(k).unwrap_or(&0) as f64 / nonnull)
        .collect();
    let unexpected = expected.iter().filter(|q| q.is_none()).count();
    let expected: Vec<f64> = expected
        .iter()
        .map(|q| match q {
            Some(q) if unexpected > 0 => q * (1.0 - spec.tail_weight_holdout),
            Some(q) => *q,
            None => spec.tail_weight_holdout / unexpected as f64,
        })
        .collect();
    let kl = entropy(&observed, &expected);
    let values = Json::Array(keys.iter().map(|k| k.to_json(temporal)).collect());
    let details = json!({
        "observed_partition": {"values": values, "weights": weights_json(&observed)},
        "expected_partition": {"values": values, "weights": weights_json(&expected)},
    });
    Ok(verdict(kl, spec.threshold, details))
}

fn sorted_counts(counts: &ValueCounts) -> Vec<(Key, u64)> {
    let mut all: Vec<(Key, u64)> = counts.counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    all.sort_by(|a, b| a.0.cmp_values(&b.0));
    all
}

fn binned(
    spec: &KlSpec,
    shares: &Shares,
    edges: &[f64],
    weights: &[f64],
    tail_weights: Option<[f64; 2]>,
) -> Verdict {
    let (below, above) = (shares.below, shares.above);
    let observed = &shares.bins;
    let twh = spec.tail_weight_holdout;
    let iwh = spec.internal_weight_holdout;
    let mut expected: Vec<f64> = weights.iter().map(|w| w * (1.0 - twh - iwh)).collect();
    if iwh > 0.0 {
        let zeros = expected.iter().filter(|w| **w == 0.0).count();
        if zeros > 0 {
            for w in expected.iter_mut().filter(|w| **w == 0.0) {
                *w = iwh / zeros as f64;
            }
        }
    }
    let last = |v: &[f64]| v[v.len() - 1];
    let (lo_inf, hi_inf) = (edges[0].is_infinite(), last(edges).is_infinite());
    // (bins shown, observed inner, expected inner, observed tails,
    // expected tails, observed combined, expected combined)
    let (shown, obs_inner, exp_inner, obs_tails, exp_tails, obs_all, exp_all) =
        match (lo_inf, hi_inf) {
            (true, true) => (
                &edges[1..edges.len() - 1],
                observed[1..observed.len() - 1].to_vec(),
                expected[1..expected.len() - 1].to_vec(),
                [observed[0], last(observed)],
                [expected[0], last(&expected)],
                observed.clone(),
                expected.clone(),
            ),
            (true, false) => (
                &edges[1..],
                observed[1..].to_vec(),
                expected[1..].to_vec(),
                [observed[0], above],
                [expected[0], twh],
                [observed.as_slice(), &[above]].concat(),
                [expected.as_slice(), &[twh]].concat(),
            ),
            (false, true) => (
                &edges[..edges.len() - 1],
                observed[..observed.len() - 1].to_vec(),
                expected[..expected.len() - 1].to_vec(),
                [below, last(observed)],
                [twh, last(&expected)],
                [&[below], observed.as_slice()].concat(),
                [&[twh], expected.as_slice()].concat(),
            ),
            (false, false) => {
                let tails = tail_weights.unwrap_or([twh / 2.0, twh / 2.0]);
                (
                    edges,
                    observed.clone(),
                    expected.clone(),
                    [below, above],
                    tails,
                    [&[below], observed.as_slice(), &[above]].concat(),
                    [&[tails[0]], expected.as_slice(), &[tails[1]]].concat(),
                )
            }
        };
    let kl = entropy(&obs_all, &exp_all);
    let bins = weights_json(shown);
    let details = json!({
        "observed_partition": {
            "bins": bins,
            "weights": weights_json(&obs_inner),
            "tail_weights": weights_json(&obs_tails),
        },
        "expected_partition": {
            "bins": bins,
            "weights": weights_json(&exp_inner),
            "tail_weights": weights_json(&exp_tails),
        },
    });
    verdict(kl, spec.threshold, details)
}

/// GE's partition of the data itself (`bins = "auto"`): numpy's `auto` bin
/// count (the larger of Sturges' and Freedman–Diaconis', Sturges' alone
/// when the IQR is 0) over `[min, max]`, weights from the histogram.
fn auto_partition(sorted: &[f64]) -> Result<Partition, String> {
    let n = sorted.len();
    let q = |p| exact::quantile(sorted, p, Interpolation::Nearest);
    let (Some(min), Some(q1), Some(q3), Some(max)) = (q(0.0), q(0.25), q(0.75), q(1.0)) else {
        return Err("the column has no values to build a partition from".into());
    };
    let sturges = (n as f64 + 1.0).log2();
    let iqr = q3 - q1;
    let bins = if iqr < 1e-10 {
        sturges.ceil() as usize
    } else {
        let fd = 2.0 * iqr / (n as f64).cbrt();
        (sturges.ceil() as usize).max(((max - min) / fd).ceil() as usize)
    }
    .max(1);
    if max <= min {
        return Err("the column has a single value: no partition can be built".into());
    }
    // numpy's linspace: the last edge is the maximum itself.
    let edges: Vec<f64> = (0..=bins)
        .map(|i| {
            if i == bins {
                max
            } else {
                min + (max - min) * i as f64 / bins as f64
            }
        })
        .collect();
    let weights: Vec<f64> = exact::histogram(sorted, &edges)
        .iter()
        .map(|c| *c as f64 / n as f64)
        .collect();
    let tail = (1.0 - weights.iter().sum::<f64>()) / 2.0;
    Ok(Partition::Bins {
        edges,
        weights,
        tail_weights: Some([tail, tail]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_matches_scipy() {
        // scipy.stats.entropy([0.5, 0.25, 0.25], [0.54, 0.36, 0.1])
        let kl = entropy(&[0.5, 0.25, 0.25], &[0.54, 0.36, 0.1]);
        assert!((kl - 0.09943138400349738).abs() < 1e-12, "{kl}");
        assert_eq!(entropy(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
        assert_eq!(entropy(&[0.0, 1.0], &[0.5, 0.5]), 2f64.ln());
    }
}
