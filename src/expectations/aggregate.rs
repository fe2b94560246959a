//! Table-level and column-aggregate expectations: pure functions of the
//! column list, the row count, a column's profile and (for distinct-value
//! expectations) exact value counts.

// Maps and sets keyed by data values, on the per-row path: foldhash, not
// SipHash (measured: SipHash was about 6% of `assay validate` on the bench
// table; the keys are data, so hash-flooding resistance buys nothing here).
use foldhash::{HashMap, HashMapExt, HashSet};

use arrow::array::{Array, ArrayRef, AsArray};
use serde_json::{Value as Json, json};

use super::exact;
use super::kl;
use super::suite::*;
use super::types;
use super::unique;
use super::values::*;
use crate::profile::column::ColumnState;
use crate::profile::{ColumnProfile, LogicalType};

/// What an aggregate evaluation produces: success, `observed_value`, `details`.
pub type Verdict = (bool, Json, Option<Json>);

fn in_bounds(x: f64, b: &Bounds, fam: Family) -> Result<bool, String> {
    let min = b.min.as_ref().map(|v| num_bound(v, fam)).transpose()?;
    let max = b.max.as_ref().map(|v| num_bound(v, fam)).transpose()?;
    if x.is_nan() {
        return Ok(false);
    }
    let above = min.is_none_or(|m| if b.strict_min { x > m } else { x >= m });
    let below = max.is_none_or(|m| if b.strict_max { x < m } else { x <= m });
    Ok(above && below)
}

fn between(x: Option<f64>, b: &Bounds) -> Result<Verdict, String> {
    let ok = match x {
        Some(x) => in_bounds(x, b, Family::Num)?,
        None => false,
    };
    Ok((ok, x.map_or(Json::Null, num_json), None))
}

/// `other_rows` counts the rows of another table (the only table check
/// that reads a second source; the caller does the I/O).
pub fn table(
    check: &TableCheck,
    columns: &[String],
    rows: u64,
    other_rows: &dyn Fn(&str) -> Result<u64, String>,
) -> Result<Verdict, String> {
    let names = || Json::Array(columns.iter().map(|c| Json::String(c.clone())).collect());
    Ok(match check {
        TableCheck::RowCountBetween(b) => between(Some(rows as f64), b)?,
        TableCheck::RowCountEqual(n) => (rows == *n, Json::from(rows), None),
        TableCheck::RowCountEqualOtherTable(other) => {
            let theirs = other_rows(other)?;
            (rows == theirs, json!({"self": rows, "other": theirs}), None)
        }
        TableCheck::ColumnCountBetween(b) => between(Some(columns.len() as f64), b)?,
        TableCheck::ColumnCountEqual(n) => {
            (columns.len() as u64 == *n, Json::from(columns.len()), None)
        }
        TableCheck::ColumnsMatchOrderedList(None) => (true, names(), None),
        TableCheck::ColumnsMatchOrderedList(Some(expected)) => {
            let mut mismatched = Vec::new();
            for i in 0..expected.len().max(columns.len()) {
                let (want, got) = (expected.get(i), columns.get(i));
                if want != got {
                    mismatched.push(json!({
                        "Expected Column Position": i,
                        "Expected": want,
                        "Found": got,
                    }));
                }
            }
            let details = (!mismatched.is_empty()).then(|| json!({"mismatched": mismatched}));
            (mismatched.is_empty(), names(), details)
        }
        TableCheck::ColumnsMatchSet { set, exact } => {
            let have: HashSet<&String> = columns.iter().collect();
            // GE reads a null set as the empty set.
            let want: HashSet<&String> = set.iter().flatten().collect();
            let mut missing: Vec<&String> = want.difference(&have).copied().collect();
            let mut unexpected: Vec<&String> = have.difference(&want).copied().collect();
            missing.sort();
            unexpected.sort();
            let ok = missing.is_empty() && (!exact || unexpected.is_empty());
            // GE lists only the non-empty sides.
            let mut mismatched = serde_json::Map::new();
            if !unexpected.is_empty() {
                mismatched.insert("unexpected".into(), json!(unexpected));
            }
            if !missing.is_empty() {
                mismatched.insert("missing".into(), json!(missing));
            }
            let details = (!mismatched.is_empty()).then(|| json!({ "mismatched": mismatched }));
            (ok, names(), details)
        }
        TableCheck::ColumnExists { column, index } => {
            let position = columns.iter().position(|c| c == column);
            let ok = match (position, index) {
                (Some(p), Some(i)) => p == *i,
                (Some(_), None) => true,
                (None, _) => false,
            };
            (ok, position.map_or(Json::Null, Json::from), None)
        }
    })
}

/// What a [`ValueCounts`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// How often each distinct value occurs (value sets, modes, KL).
    Counts,
    /// How many distinct values there are (proportion of unique values,
    /// unique value count).
    Distinct,
}

/// Exact counts of a column's distinct non-missing values, collected while
/// streaming (memory grows with the number of distinct values).
#[derive(Debug, Clone)]
pub struct ValueCounts {
    /// Whether `counts` are filled (else only the distinct count is asked).
    count_values: bool,
    pub counts: HashMap<Key, u64>,
    /// Text values are counted here first: looking up a borrowed string
    /// allocates nothing for values already seen. [`Self::settle`] moves
    /// them into `counts` (when counts are asked for).
    text: HashMap<String, u64>,
    /// Numbers likewise, by their `Key::num` bits (hashing a `u64` instead
    /// of building and hashing a `Key` per row).
    nums: HashMap<u64, u64>,
    /// When the distinct count is asked for: the exact 64-bit print of
    /// every number, date and time (`unique::number_prints`: integers
    /// exactly, as pandas' `nunique` compares them), sorted and
    /// deduplicated by [`Self::seal`] (per partition) and [`Self::settle`].
    /// Why not the map: on 1M `user_id`s with 632K distinct values the
    /// maps' inserts, the partitions' merge, rehashing and the re-keying in
    /// `settle` were 31% of the perf samples of the bench_mixed suite; one
    /// sort of 8 bytes a row is a fraction of that.
    prints: Option<Vec<u64>>,
    /// Whether numbers were seen (the distinct count is then the prints').
    numeric: bool,
    /// Whether every print is an integer (`unique::dedup_dense_integers`
    /// may then use a bitmap instead of a sort).
    integer_prints: bool,
    pub nonmissing: u64,
}

impl ValueCounts {
    pub fn new(need: Need) -> Self {
        let mut counts = Self {
            count_values: false,
            counts: HashMap::new(),
            text: HashMap::new(),
            nums: HashMap::new(),
            prints: None,
            numeric: false,
            integer_prints: true,
            nonmissing: 0,
        };
        counts.ask(need);
        counts
    }

    /// Asks for `need` as well (before any data is seen).
    pub fn ask(&mut self, need: Need) {
        match need {
            Need::Counts => self.count_values = true,
            Need::Distinct => {
                self.prints.get_or_insert_with(Vec::new);
            }
        }
    }

    pub fn update(&mut self, array: &ArrayRef) -> Result<(), String> {
        let fam = family(array.data_type());
        if fam == Family::Text || fam == Family::Other {
            let text = &mut self.text;
            let mut count = |s: &str, n: u64| match text.get_mut(s) {
                Some(c) => *c += n,
                None => {
                    text.insert(s.to_string(), n);
                }
            };
            if let Some(dict) = array.as_any_dictionary_opt() {
                // Count keys, then add each used dictionary value once.
                let mut per_key = vec![0u64; dict.values().len()];
                let nulls = array.logical_nulls();
                for (i, k) in dict.normalized_keys().into_iter().enumerate() {
                    if !nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        per_key[k] += 1;
                    }
                }
                let values = strings(dict.values())?;
                for (value, n) in values.iter().zip(per_key) {
                    if let (Some(v), true) = (value, n > 0) {
                        count(v, n);
                        self.nonmissing += n;
                    }
                }
                return Ok(());
            }
            let mut seen = 0;
            str_outcomes(array, &mut |s| {
                count(s, 1);
                seen += 1;
                true
            })?;
            self.nonmissing += seen;
            return Ok(());
        }
        if matches!(fam, Family::Num | Family::Temporal) {
            // NaN is missing, as in `KeyColumn`.
            self.numeric = true;
            if let Some(prints) = self.prints.as_mut() {
                let (seen, integers) = unique::number_prints(array, prints)?;
                self.integer_prints &= integers;
                if !self.count_values {
                    self.nonmissing += seen;
                    return Ok(());
                }
            }
            let values = numbers(array)?;
            for x in values.iter().flatten().filter(|x| !x.is_nan()) {
                *self.nums.entry(Key::num_bits(x)).or_default() += 1;
                self.nonmissing += 1;
            }
            return Ok(());
        }
        let (column, _) = KeyColumn::new(array)?;
        for i in 0..array.len() {
            let key = column.key(i);
            if key != Key::Null {
                self.nonmissing += 1;
                *self.counts.entry(key).or_default() += 1;
            }
        }
        Ok(())
    }

    pub fn merge(&mut self, other: ValueCounts) {
        self.nonmissing += other.nonmissing;
        for (k, c) in other.counts {
            *self.counts.entry(k).or_default() += c;
        }
        for (k, c) in other.text {
            *self.text.entry(k).or_default() += c;
        }
        for (k, c) in other.nums {
            *self.nums.entry(k).or_default() += c;
        }
        if let (Some(mine), Some(theirs)) = (self.prints.as_mut(), other.prints) {
            mine.extend(theirs);
        }
        self.numeric |= other.numeric;
        self.integer_prints &= other.integer_prints;
    }

    /// Sorts and deduplicates the prints gathered so far: called at the end
    /// of each partition, on its own thread, so that the sorting is shared
    /// by the cores and the merged prints are a few sorted runs.
    pub fn seal(&mut self) {
        if let Some(prints) = self.prints.as_mut()
            && !(self.integer_prints && unique::dedup_dense_integers(prints))
        {
            prints.sort_unstable();
            prints.dedup();
        }
    }

    /// How many distinct non-missing values there are (after
    /// [`Self::settle`]).
    pub fn distinct(&self) -> usize {
        match &self.prints {
            Some(prints) if self.numeric => prints.len(),
            _ => self.counts.len() + self.text.len(),
        }
    }

    /// Moves the text counts into `counts` (when counts are asked for) and
    /// deduplicates the prints; call before reading them.
    pub fn settle(&mut self) {
        // The sealed partitions' prints are sorted runs: the stable sort
        // merges them instead of sorting from scratch.
        if let Some(prints) = self.prints.as_mut()
            && !(self.integer_prints && unique::dedup_dense_integers(prints))
        {
            prints.sort();
            prints.dedup();
        }
        if !self.count_values {
            return;
        }
        for (k, c) in self.text.drain() {
            *self.counts.entry(Key::Text(k)).or_default() += c;
        }
        for (k, c) in self.nums.drain() {
            *self.counts.entry(Key::Num(k)).or_default() += c;
        }
    }

    /// From a saved profile: exact only while the column had at most 4096
    /// distinct values (strings and integers) or is boolean.
    pub fn from_profile(column: &ColumnProfile) -> Option<Self> {
        let mut counts = HashMap::new();
        use crate::profile::frequency::FrequencyState::Exact;
        match &column.state {
            ColumnState::String(s) => match &s.frequency {
                Exact(values) => {
                    for (v, c) in values {
                        counts.insert(Key::Text(v.clone()), *c);
                    }
                }
                _ => return None,
            },
            ColumnState::Int {
                frequency: Exact(values),
                ..
            } => {
                for (v, c) in values {
                    counts.insert(Key::num(*v as f64), *c);
                }
            }
            ColumnState::Bool {
                true_count,
                false_count,
            } => {
                for (b, c) in [(true, *true_count), (false, *false_count)] {
                    if c > 0 {
                        counts.insert(Key::Bool(b), c);
                    }
                }
            }
            _ => return None,
        }
        let mut from = Self::new(Need::Counts);
        from.nonmissing = counts.values().sum();
        from.counts = counts;
        Some(from)
    }

    fn sorted(&self) -> Vec<(&Key, u64)> {
        let mut values: Vec<(&Key, u64)> = self.counts.iter().map(|(k, c)| (k, *c)).collect();
        values.sort_by(|a, b| a.0.cmp_values(b.0));
        values
    }
}

fn family_of(column: &ColumnProfile) -> Family {
    match column.logical_type {
        LogicalType::Int | LogicalType::Float => Family::Num,
        LogicalType::Timestamp | LogicalType::Date => Family::Temporal,
        LogicalType::String => Family::Text,
        LogicalType::Bool => Family::Bool,
        LogicalType::List => Family::Other,
    }
}

/// Evaluates a column aggregate. `counts` must be given for checks that
/// [`AggregateCheck::needs_value_counts`]; `values` (the column's
/// non-missing values, ascending) for those that
/// [`AggregateCheck::needs_values`], or medians and quantiles come from the
/// profile's sketch (a saved profile has no values).
pub fn column(
    check: &AggregateCheck,
    profile: &ColumnProfile,
    counts: Option<&ValueCounts>,
    values: Option<&[f64]>,
) -> Result<Verdict, String> {
    use AggregateCheck as A;
    let fam = family_of(profile);
    let temporal = fam == Family::Temporal;
    let numeric = || -> Result<(), String> {
        match fam {
            Family::Num | Family::Temporal => Ok(()),
            _ => Err(format!(
                "needs a numeric column, but \"{}\" is {}",
                profile.name,
                profile.logical_type.as_str()
            )),
        }
    };
    let stat = |x: Option<f64>, b: &Bounds| -> Result<Verdict, String> {
        let ok = match x {
            Some(x) => in_bounds(x, b, fam)?,
            None => false,
        };
        let shown = match x {
            Some(x) if temporal => Json::String(micros_to_text(x as i64)),
            other => other.map_or(Json::Null, num_json),
        };
        Ok((ok, shown, None))
    };
    let kll = || match &profile.state {
        ColumnState::Float(n) | ColumnState::Temporal(n) | ColumnState::Int { numeric: n, .. } => {
            Some(&n.kll)
        }
        _ => None,
    };
    let value_counts = || counts.ok_or_else(|| "exact value counts are not available".to_string());
    let nonnull = profile.count.saturating_sub(profile.nan_count.unwrap_or(0));
    Ok(match check {
        A::Min(b) => {
            numeric()?;
            let min = if profile.neg_inf_count.unwrap_or(0) > 0 {
                Some(f64::NEG_INFINITY)
            } else {
                profile.min
            };
            stat(min, b)?
        }
        A::Max(b) => {
            numeric()?;
            let max = if profile.pos_inf_count.unwrap_or(0) > 0 {
                Some(f64::INFINITY)
            } else {
                profile.max
            };
            stat(max, b)?
        }
        A::Mean(b) => match &profile.state {
            // pandas (GE) averages booleans as 1 and 0.
            ColumnState::Bool {
                true_count,
                false_count,
            } => {
                let n = true_count + false_count;
                between((n > 0).then(|| *true_count as f64 / n as f64), b)?
            }
            _ => {
                numeric()?;
                stat(profile.mean, b)?
            }
        },
        A::Stdev(b) => {
            numeric()?;
            between(profile.stddev, b)?
        }
        A::Sum(b) => {
            numeric()?;
            between(profile.sum.filter(|_| nonnull > 0).or(Some(0.0)), b)?
        }
        A::Median(b) => {
            numeric()?;
            let median = match values {
                Some(sorted) => exact::median(sorted),
                None => kll().and_then(|k| k.quantile(0.5)),
            };
            stat(median, b)?
        }
        A::Quantiles {
            quantiles,
            ranges,
            interpolation,
        } => {
            numeric()?;
            let sketch = kll();
            let found: Vec<Option<f64>> = quantiles
                .iter()
                .map(|q| match values {
                    Some(sorted) => exact::quantile(sorted, *q, *interpolation),
                    None => sketch.and_then(|k| k.quantile(*q)),
                })
                .collect();
            let mut details = Vec::new();
            for (v, (lo, hi)) in found.iter().zip(ranges) {
                let b = Bounds {
                    min: lo.map(Scalar::Num),
                    max: hi.map(Scalar::Num),
                    strict_min: false,
                    strict_max: false,
                };
                details.push(match v {
                    Some(x) => in_bounds(*x, &b, fam)?,
                    None => false,
                });
            }
            let shown: Vec<Json> = found
                .iter()
                .map(|v| match v {
                    Some(x) if temporal => Json::String(micros_to_text(*x as i64)),
                    other => other.map_or(Json::Null, num_json),
                })
                .collect();
            (
                details.iter().all(|d| *d),
                json!({"quantiles": quantiles, "values": shown}),
                Some(json!({"success_details": details})),
            )
        }
        A::ProportionNonNull(b) => {
            let rows = profile.count + profile.null_count;
            let p = (rows > 0).then(|| nonnull as f64 / rows as f64);
            between(p, b)?
        }
        A::ProportionUnique(b) => {
            let c = value_counts()?;
            let p = (c.nonmissing > 0).then(|| c.distinct() as f64 / c.nonmissing as f64);
            between(p, b)?
        }
        A::UniqueValueCount(b) => between(Some(value_counts()?.distinct() as f64), b)?,
        A::DistinctInSet(_) | A::DistinctContainSet(_) | A::DistinctEqualSet(_) => {
            let c = value_counts()?;
            let have: HashSet<&Key> = c.counts.keys().collect();
            let ok = match check {
                // A null set is the universal set (GE): vacuously true.
                A::DistinctInSet(None) => true,
                A::DistinctInSet(Some(set)) => {
                    let want = key_set(set, fam)?;
                    have.iter().all(|k| want.contains(*k))
                }
                A::DistinctContainSet(set) => {
                    let want = key_set(set, fam)?;
                    want.iter().all(|k| have.contains(k))
                }
                A::DistinctEqualSet(set) => {
                    let want = key_set(set, fam)?;
                    have.len() == want.len() && have.iter().all(|k| want.contains(*k))
                }
                _ => false,
            };
            let sorted = c.sorted();
            let observed: Vec<Json> = sorted.iter().map(|(k, _)| k.to_json(temporal)).collect();
            let details: Vec<Json> = sorted
                .iter()
                .map(|(k, n)| json!({"value": k.to_json(temporal), "count": n}))
                .collect();
            (
                ok,
                Json::Array(observed),
                Some(json!({"value_counts": details})),
            )
        }
        A::MostCommonInSet { set, ties_okay } => {
            let c = value_counts()?;
            let top = c.counts.values().copied().max().unwrap_or(0);
            let mut modes: Vec<&Key> = c
                .counts
                .iter()
                .filter(|(_, n)| **n == top)
                .map(|(k, _)| k)
                .collect();
            modes.sort_by(|a, b| a.cmp_values(b));
            let want = key_set(set, fam)?;
            let hits = modes.iter().filter(|k| want.contains(**k)).count();
            // GE: with ties_okay any mode in the set passes; otherwise the
            // mode must be unique and in the set.
            let ok = if *ties_okay {
                hits > 0
            } else {
                modes.len() == 1 && hits == 1
            };
            let observed: Vec<Json> = modes.iter().map(|k| k.to_json(temporal)).collect();
            (ok, Json::Array(observed), None)
        }
        A::KlDivergence(spec) => {
            // Without the values (a saved profile), the sketch's CDF.
            let cdf = |edges: &[f64]| -> Option<Vec<f64>> {
                let finite: Vec<f64> = edges.iter().copied().filter(|e| e.is_finite()).collect();
                let mut at = kll()?.cdf(&finite)?.into_iter();
                Some(
                    edges
                        .iter()
                        .map(|e| match *e {
                            f64::NEG_INFINITY => 0.0,
                            f64::INFINITY => 1.0,
                            _ => at.next().unwrap_or(1.0),
                        })
                        .collect(),
                )
            };
            let observed = match values {
                Some(sorted) => kl::Observed::Values(sorted),
                None => kl::Observed::Cdf(&cdf),
            };
            kl::evaluate(spec, fam, counts, Some(observed))?
        }
        A::OfType(_) | A::InTypeList(_) => {
            match types::judge(check, &profile.arrow_type, profile.logical_type) {
                types::TypeJudgement::Column(verdict) => verdict,
                // A text column judged value by value: all its values are
                // strings, so they all pass or all fail.
                types::TypeJudgement::PerValue { ok } => (
                    ok || nonnull == 0,
                    Json::String(types::pandas_type_name(&profile.arrow_type).into()),
                    None,
                ),
            }
        }
    })
}
