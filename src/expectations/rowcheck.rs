//! Row-level (map) expectations over batches: single-column rules and
//! multi-column rules, each with its running [`Tally`].

use crate::profile::ColumnProfile;
// Maps and sets keyed by data values, on the per-row path: foldhash, not
// SipHash (measured: SipHash was about 6% of `assay validate` on the bench
// table; the keys are data, so hash-flooding resistance buys nothing here).
use foldhash::{HashSet, HashSetExt};

use arrow::array::{ArrayRef, RecordBatch};
use regex::Regex;
use serde_json::Value as Json;

use super::matcher::Matcher;
use super::suite::*;
use super::tally::{MonotonicState, RowIds, Tally};
use super::unique::{Duplicates, distinct_within_record};
use super::values::*;

/// A text predicate.
#[derive(Debug, Clone)]
pub enum TextRule {
    Lengths {
        min: Option<u64>,
        max: Option<u64>,
    },
    LengthEquals(u64),
    /// Passes when the regex matches somewhere (`negate`: when it does not).
    Regex {
        regex: Matcher,
        negate: bool,
    },
    /// `all`: every regex must match; else any. `negate`: none may match.
    RegexList {
        regexes: Vec<Regex>,
        all: bool,
        negate: bool,
    },
    Strftime(String),
    Dateutil,
    Json,
    JsonSchema(CompiledJsonSchema),
}

impl TextRule {
    fn passes(&self, s: &str) -> bool {
        match self {
            TextRule::Lengths { min, max } => {
                let n = char_len(s);
                min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
            }
            TextRule::LengthEquals(n) => char_len(s) == *n,
            TextRule::Regex { regex, negate } => regex.is_match(s) != *negate,
            TextRule::RegexList {
                regexes,
                all,
                negate,
            } => {
                if *negate {
                    !regexes.iter().any(|r| r.is_match(s))
                } else if *all {
                    regexes.iter().all(|r| r.is_match(s))
                } else {
                    regexes.iter().any(|r| r.is_match(s))
                }
            }
            TextRule::Strftime(format) => matches_strftime(s, format),
            TextRule::Dateutil => dateutil_like(s),
            TextRule::Json => serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok(),
            TextRule::JsonSchema(schema) => schema.accepts(s),
        }
    }
}

fn char_len(s: &str) -> u64 {
    if s.is_ascii() {
        s.len() as u64
    } else {
        s.chars().count() as u64
    }
}

/// Python's `datetime.strptime(s, format)` succeeds: the whole string
/// matches, and a date that is present is a real date.
fn matches_strftime(s: &str, format: &str) -> bool {
    let mut parsed = chrono::format::Parsed::new();
    if chrono::format::parse(&mut parsed, s, chrono::format::StrftimeItems::new(format)).is_err() {
        return false;
    }
    if parsed.year().is_some() || parsed.month().is_some() || parsed.day().is_some() {
        // Python fills a missing year with 1900, month and day with 1.
        if parsed.year().is_none() {
            let _ = parsed.set_year(1900);
        }
        if parsed.month().is_none() {
            let _ = parsed.set_month(1);
        }
        if parsed.day().is_none() {
            let _ = parsed.set_day(1);
        }
        return parsed.to_naive_date().is_ok();
    }
    true
}

/// An approximation of `dateutil.parser.parse`: ISO 8601 dates and
/// date-times, and common day/month orders with `-`, `/` or `.` and
/// optional time, and month names. See the README for the limits.
fn dateutil_like(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return false;
    }
    if parse_time(s).is_some() {
        return true;
    }
    const DATES: &[&str] = &[
        "%Y/%m/%d",
        "%m/%d/%Y",
        "%d/%m/%Y",
        "%Y.%m.%d",
        "%d.%m.%Y",
        "%m-%d-%Y",
        "%d-%m-%Y",
        "%Y%m%d",
        "%B %d %Y",
        "%b %d %Y",
        "%d %B %Y",
        "%d %b %Y",
        "%B %d, %Y",
        "%b %d, %Y",
        "%m/%d/%y",
        "%d %b %y",
    ];
    const TIMES: &[&str] = &[
        "",
        " %H:%M",
        " %H:%M:%S",
        " %H:%M:%S%.f",
        " %I:%M %p",
        " %I:%M:%S %p",
    ];
    for date in DATES {
        for time in TIMES {
            let format = format!("{date}{time}");
            if matches_strftime(s, &format) {
                return true;
            }
        }
    }
    ["%H:%M", "%H:%M:%S", "%I:%M %p"]
        .iter()
        .any(|f| chrono::NaiveTime::parse_from_str(s, f).is_ok())
}

/// A single-column rule prepared for the column's type.
#[derive(Debug, Clone)]
pub enum Prepared {
    NotNull,
    Null,
    Set {
        keys: HashSet<Key>,
        negate: bool,
    },
    NumBetween {
        min: Option<f64>,
        max: Option<f64>,
        strict_min: bool,
        strict_max: bool,
    },
    TextBetween {
        min: Option<String>,
        max: Option<String>,
        strict_min: bool,
        strict_max: bool,
    },
    Text(TextRule),
    Monotonic {
        increasing: bool,
        strictly: bool,
    },
    Unique,
    /// Every non-missing value passes (`true`) or every one fails: a text
    /// column's values against a type name (all of them are strings).
    Every(bool),
    ZScore {
        mean: f64,
        std: f64,
        threshold: f64,
        double_sided: bool,
    },
    /// Passes inside `[low, high]` (fences included).
    Window {
        low: f64,
        high: f64,
    },
    /// Passes when `|x - center| < threshold` (or `x == center` when the
    /// threshold is 0).
    Distance {
        center: f64,
        threshold: f64,
    },
}

impl Prepared {
    /// Prepares `rule` for a column of `fam`. `stats` (mean, sample stdev)
    /// is needed by z-scores only.
    /// `stats` is the column's profile from a first pass, for the rules
    /// that need it ([`MapRule::needs_column_stats`]).
    pub fn new(rule: &MapRule, fam: Family, stats: Option<&ColumnProfile>) -> Result<Self, String> {
        let text = |r: TextRule| Ok(Prepared::Text(r));
        // Lengths and date formats are string operations: GE raises on a
        // column of other values (regular expressions, like GE's, read
        // other values as their text).
        // (Other types, such as binary, are read as their text.)
        let strings_only = |r: TextRule, what: &str| match fam {
            Family::Text | Family::Other => Ok(Prepared::Text(r)),
            _ => Err(format!(
                "{what} needs string values, but the column holds {}",
                fam.describe()
            )),
        };
        // JSON text: any other value is not JSON text (GE's `json.loads`
        // fails on it).
        let json_text = |r: TextRule| match fam {
            Family::Text | Family::Other => Ok(Prepared::Text(r)),
            _ => Ok(Prepared::Every(false)),
        };
        match rule {
            MapRule::NotNull => Ok(Prepared::NotNull),
            MapRule::Null => Ok(Prepared::Null),
            MapRule::InSet(set) | MapRule::NotInSet(set) => Ok(Prepared::Set {
                // A member the column's values can never equal (text in a
                // numeric column) matches nothing, as in pandas' `isin`.
                keys: set.iter().filter_map(|v| scalar_key(v, fam).ok()).collect(),
                negate: matches!(rule, MapRule::NotInSet(_)),
            }),
            MapRule::Between(b) => match fam {
                Family::Num | Family::Temporal => Ok(Prepared::NumBetween {
                    min: b.min.as_ref().map(|v| num_bound(v, fam)).transpose()?,
                    max: b.max.as_ref().map(|v| num_bound(v, fam)).transpose()?,
                    strict_min: b.strict_min,
                    strict_max: b.strict_max,
                }),
                Family::Text => {
                    let as_text = |v: &Option<Scalar>| match v {
                        Some(Scalar::Text(t)) => Ok(Some(t.clone())),
                        None => Ok(None),
                        Some(other) => Err(format!(
                            "the column holds text, so bounds must be strings, found {other:?}"
                        )),
                    };
                    Ok(Prepared::TextBetween {
                        min: as_text(&b.min)?,
                        max: as_text(&b.max)?,
                        strict_min: b.strict_min,
                        strict_max: b.strict_max,
                    })
                }
                _ => Err(format!("cannot compare a {fam:?} column with bounds")),
            },
            MapRule::Increasing { strictly } | MapRule::Decreasing { strictly } => match fam {
                Family::Num | Family::Temporal => Ok(Prepared::Monotonic {
                    increasing: matches!(rule, MapRule::Increasing { .. }),
                    strictly: *strictly,
                }),
                _ => Err(format!(
                    "needs a numeric or date/time column, found {fam:?}"
                )),
            },
            MapRule::LengthsBetween { min, max } => strings_only(
                TextRule::Lengths {
                    min: *min,
                    max: *max,
                },
                "a value length",
            ),
            MapRule::LengthsEqual(n) => strings_only(TextRule::LengthEquals(*n), "a value length"),
            MapRule::Regex(r) | MapRule::Like(r) => text(TextRule::Regex {
                regex: r.clone(),
                negate: false,
            }),
            MapRule::NotRegex(r) | MapRule::NotLike(r) => text(TextRule::Regex {
                regex: r.clone(),
                negate: true,
            }),
            MapRule::RegexList { regexes, all }
            | MapRule::LikeList {
                patterns: regexes,
                all,
            } => text(TextRule::RegexList {
                regexes: regexes.clone(),
                all: *all,
                negate: false,
            }),
            MapRule::NotRegexList(regexes) | MapRule::NotLikeList(regexes) => {
                text(TextRule::RegexList {
                    regexes: regexes.clone(),
                    all: false,
                    negate: true,
                })
            }
            MapRule::StrftimeFormat(f) => {
                strings_only(TextRule::Strftime(f.clone()), "a strftime format")
            }
            MapRule::DateutilParseable => strings_only(TextRule::Dateutil, "date parsing"),
            MapRule::JsonParseable => json_text(TextRule::Json),
            MapRule::MatchJsonSchema(schema) => json_text(TextRule::JsonSchema(schema.clone())),
            MapRule::Unique => Ok(Prepared::Unique),
            MapRule::ZScoreLessThan {
                threshold,
                double_sided,
            } => {
                if fam != Family::Num {
                    return Err(format!("needs a numeric column, found {fam:?}"));
                }
                let (mean, std) = stats
                    .and_then(|c| Some((c.mean?, c.stddev?)))
                    .ok_or("the column has no mean and standard deviation")?;
                Ok(Prepared::ZScore {
                    mean,
                    std,
                    threshold: *threshold,
                    double_sided: *double_sided,
                })
            }
            MapRule::NotOutliers { method, multiplier } => {
                if fam != Family::Num {
                    return Err(format!("needs a numeric column, found {fam:?}"));
                }
                // No basis (empty column, one value for a sample std): GE
                // calls nothing an outlier.
                let everything = Prepared::Window {
                    low: f64::NEG_INFINITY,
                    high: f64::INFINITY,
                };
                Ok(match method {
                    OutlierMethod::Iqr => {
                        let quartile =
                            |q: &str| stats.and_then(|c| c.quantiles.as_ref()?.get(q).copied());
                        match (quartile("0.25"), quartile("0.75")) {
                            (Some(q1), Some(q3)) => {
                                let reach = multiplier * (q3 - q1);
                                Prepared::Window {
                                    low: q1 - reach,
                                    high: q3 + reach,
                                }
                            }
                            _ => everything,
                        }
                    }
                    OutlierMethod::Std => match stats.and_then(|c| Some((c.mean?, c.stddev?))) {
                        Some((mean, std)) => Prepared::Distance {
                            center: mean,
                            threshold: multiplier * std,
                        },
                        None => everything,
                    },
                })
            }
        }
    }
}

fn within(x: f64, min: Option<f64>, max: Option<f64>, strict_min: bool, strict_max: bool) -> bool {
    let above = min.is_none_or(|m| if strict_min { x > m } else { x >= m });
    let below = max.is_none_or(|m| if strict_max { x < m } else { x <= m });
    above && below
}

/// One map expectation's running state over a partition.
#[derive(Debug, Clone)]
pub struct MapCheck {
    pub expectation: usize,
    pub scope: usize,
    pub column: String,
    pub rule: Prepared,
    pub tally: Tally,
    pub error: Option<String>,
    mono: MonotonicState,
    unique: Option<Duplicates>,
}

impl MapCheck {
    pub fn new(e: &Expectation, scope: usize, column: &str, rule: Prepared) -> Self {
        let format = e.result_format;
        let tally = Tally::new(format.level, format.partial_unexpected_count);
        Self {
            expectation: e.index,
            scope,
            column: column.to_string(),
            unique: matches!(rule, Prepared::Unique).then(|| Duplicates::new(tally.keep())),
            rule,
            tally,
            error: None,
            mono: MonotonicState::default(),
        }
    }

    pub fn update(&mut self, batch: &RecordBatch, rows: &RowIds) {
        if self.error.is_some() {
            return;
        }
        let Some(array) = batch.column_by_name(&self.column).cloned() else {
            self.error = Some(format!("column \"{}\" is not in the data", self.column));
            return;
        };
        if let Err(e) = self.judge(&array, rows) {
            self.error = Some(e);
        }
    }

    fn judge(&mut self, array: &ArrayRef, rows: &RowIds) -> Result<(), String> {
        let outcomes: Vec<Outcome> = match &self.rule {
            Prepared::NotNull => missing_mask(array)
                .into_iter()
                .map(|m| if m { Outcome::Fail } else { Outcome::Pass })
                .collect(),
            Prepared::Every(ok) => missing_mask(array)
                .into_iter()
                .map(|m| match (m, *ok) {
                    (true, _) => Outcome::Missing,
                    (false, true) => Outcome::Pass,
                    (false, false) => Outcome::Fail,
                })
                .collect(),
            Prepared::Null => missing_mask(array)
                .into_iter()
                .map(|m| if m { Outcome::Pass } else { Outcome::Fail })
                .collect(),
            Prepared::Set { keys, negate } => match family(array.data_type()) {
                // Text: look up borrowed strings (a dictionary column once per
                // dictionary value), without an owned key per row (building
                // those was 15% of `assay validate` on the bench table).
                Family::Text | Family::Other => {
                    let texts: HashSet<&str> = keys
                        .iter()
                        .filter_map(|k| match k {
                            Key::Text(t) => Some(t.as_str()),
                            _ => None,
                        })
                        .collect();
                    str_outcomes(array, &mut |s| texts.contains(s) != *negate)?
                }
                // Numbers: the set's numbers as `Key::num` bits.
                Family::Num | Family::Temporal => {
                    let bits: HashSet<u64> = keys
                        .iter()
                        .filter_map(|k| match k {
                            Key::Num(b) => Some(*b),
                            _ => None,
                        })
                        .collect();
                    let values = numbers(array)?;
                    num_outcomes(&values, |x| bits.contains(&Key::num_bits(x)) != *negate)
                }
                Family::Bool => {
                    let (column, _) = KeyColumn::new(array)?;
                    (0..array.len())
                        .map(|i| match column.key(i) {
                            Key::Null => Outcome::Missing,
                            k if keys.contains(&k) != *negate => Outcome::Pass,
                            _ => Outcome::Fail,
                        })
                        .collect()
                }
            },
            Prepared::NumBetween {
                min,
                max,
                strict_min,
                strict_max,
            } => {
                let values = numbers(array)?;
                num_outcomes(&values, |x| within(x, *min, *max, *strict_min, *strict_max))
            }
            Prepared::TextBetween {
                min,
                max,
                strict_min,
                strict_max,
            } => str_outcomes(array, &mut |s| {
                let above = min
                    .as_deref()
                    .is_none_or(|m| if *strict_min { s > m } else { s >= m });
                let below = max
                    .as_deref()
                    .is_none_or(|m| if *strict_max { s < m } else { s <= m });
                above && below
            })?,
            Prepared::Text(TextRule::Regex { regex, negate }) => {
                match regex.outcomes(array, *negate) {
                    Some(outcomes) => outcomes,
                    None => str_outcomes(array, &mut |s| regex.is_match(s) != *negate)?,
                }
            }
            Prepared::Text(rule) => str_outcomes(array, &mut |s| rule.passes(s))?,
            Prepared::ZScore {
                mean,
                std,
                threshold,
                double_sided,
            } => {
                let values = numbers(array)?;
                num_outcomes(&values, |x| {
                    let z = (x - mean) / std;
                    if *double_sided {
                        z.abs() < threshold.abs()
                    } else {
                        z < *threshold
                    }
                })
            }
            Prepared::Window { low, high } => {
                let values = numbers(array)?;
                num_outcomes(&values, |x| *low <= x && x <= *high)
            }
            Prepared::Distance { center, threshold } => {
                let values = numbers(array)?;
                num_outcomes(&values, |x| {
                    if *threshold <= 0.0 {
                        x == *center
                    } else {
                        (x - center).abs() < *threshold
                    }
                })
            }
            Prepared::Monotonic {
                increasing,
                strictly,
            } => {
                let values = numbers(array)?;
                let mut out = Vec::with_capacity(values.len());
                for (i, v) in values.iter().enumerate() {
                    let Some(x) = v.filter(|x| !x.is_nan()) else {
                        out.push(Outcome::Missing);
                        continue;
                    };
                    let ok = match self.mono.last {
                        None => {
                            self.mono.first = Some((rows.get(i), x, render(array, i)));
                            true
                        }
                        Some(prev) => ordered(prev, x, *increasing, *strictly),
                    };
                    self.mono.last = Some(x);
                    out.push(if ok { Outcome::Pass } else { Outcome::Fail });
                }
                out
            }
            Prepared::Unique => {
                let keep = self.tally.keep();
                let unique = self.unique.get_or_insert_with(|| Duplicates::new(keep));
                unique.add_column(array, rows)?
            }
        };
        self.tally.record(&outcomes, rows, |i| render(array, i));
        Ok(())
    }

    /// Appends the next partition (its rows start at `offset`).
    pub fn merge(&mut self, other: MapCheck, offset: u64) {
        if self.error.is_none() {
            self.error = other.error;
        }
        if let Prepared::Monotonic {
            increasing,
            strictly,
        } = self.rule
            && let (Some(prev), Some((row, x, value))) = (self.mono.last, other.mono.first.clone())
            && !ordered(prev, x, increasing, strictly)
        {
            self.tally.fail(row + offset, || value);
        }
        if other.mono.last.is_some() {
            self.mono.last = other.mono.last;
        }
        if self.mono.first.is_none() {
            self.mono.first = other.mono.first.map(|(r, x, v)| (r + offset, x, v));
        }
        if let (Some(mine), Some(theirs)) = (self.unique.as_mut(), other.unique) {
            mine.merge(theirs, offset);
        }
        self.tally.append(other.tally, offset);
    }

    pub fn finish(mut self) -> Result<Tally, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(unique) = self.unique.take() {
            unique.finish(&mut self.tally, |arrays, i| render(&arrays[0], i))?;
        }
        Ok(self.tally)
    }
}

fn ordered(prev: f64, x: f64, increasing: bool, strictly: bool) -> bool {
    match (increasing, strictly) {
        (true, true) => x > prev,
        (true, false) => x >= prev,
        (false, true) => x < prev,
        (false, false) => x <= prev,
    }
}

/// One multi-column expectation's running state over a partition.
#[derive(Debug, Clone)]
pub struct MultiCheck {
    pub expectation: usize,
    pub scope: usize,
    pub columns: Vec<String>,
    pub rule: MultiRule,
    pub ignore: IgnoreRow,
    /// `PairInSet`: the allowed pairs as keys for the columns' families.
    pub pairs: HashSet<Key>,
    pub tally: Tally,
    pub error: Option<String>,
    unique: Option<Duplicates>,
}

impl MultiCheck {
    pub fn new(
        e: &Expectation,
        scope: usize,
        columns: &[String],
        rule: &MultiRule,
        ignore: IgnoreRow,
        fams: &[Family],
    ) -> Result<Self, String> {
        let format = e.result_format;
        let pairs = match rule {
            MultiRule::PairInSet(pairs) => pairs
                .iter()
                .map(|(a, b)| {
                    Ok(Key::Tuple(vec![
                        scalar_key(a, fams[0])?,
                        scalar_key(b, fams[1])?,
                    ]))
                })
                .collect::<Result<_, String>>()?,
            _ => HashSet::new(),
        };
        if matches!(rule, MultiRule::SumEqual(_)) && fams.iter().any(|f| *f != Family::Num) {
            return Err("every column must be numeric".into());
        }
        let tally = Tally::new(format.level, format.partial_unexpected_count);
        Ok(Self {
            expectation: e.index,
            scope,
            columns: columns.to_vec(),
            rule: rule.clone(),
            ignore,
            pairs,
            unique: matches!(rule, MultiRule::CompoundUnique)
                .then(|| Duplicates::new(tally.keep())),
            tally,
            error: None,
        })
    }

    pub fn update(&mut self, batch: &RecordBatch, rows: &RowIds) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.judge(batch, rows) {
            self.error = Some(e);
        }
    }

    fn judge(&mut self, batch: &RecordBatch, rows: &RowIds) -> Result<(), String> {
        let mut arrays = Vec::new();
        for name in &self.columns {
            let array = batch
                .column_by_name(name)
                .ok_or_else(|| format!("column \"{name}\" is not in the data"))?
                .clone();
            arrays.push(array);
        }
        // GE's shapes: a pair's values as a `[a, b]` tuple, a column
        // list's as an object keyed by column name.
        let pair = matches!(
            self.rule,
            MultiRule::PairEqual | MultiRule::PairGreater { .. } | MultiRule::PairInSet(_)
        );
        let columns = &self.columns;
        let render_row = |i: usize| {
            if pair {
                Json::Array(arrays.iter().map(|a| render(a, i)).collect())
            } else {
                Json::Object(
                    columns
                        .iter()
                        .zip(&arrays)
                        .map(|(name, a)| (name.clone(), render(a, i)))
                        .collect(),
                )
            }
        };
        // Uniqueness reads the arrays whole (unique.rs), without a key per cell.
        let uniqueness = match &self.rule {
            MultiRule::UniqueWithinRecord => Some(distinct_within_record(&arrays, self.ignore)?),
            MultiRule::CompoundUnique => {
                let keep = self.tally.keep();
                let unique = self.unique.get_or_insert_with(|| Duplicates::new(keep));
                Some(unique.add_record(&arrays, self.ignore, rows)?)
            }
            _ => None,
        };
        if let Some(outcomes) = uniqueness {
            self.tally.record(&outcomes, rows, render_row);
            return Ok(());
        }
        let keyed = arrays
            .iter()
            .map(|a| Ok(KeyColumn::new(a)?.0))
            .collect::<Result<Vec<_>, String>>()?;
        let mut outcomes = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let keys: Vec<Key> = keyed.iter().map(|c| c.key(i)).collect();
            let nulls = keys.iter().filter(|k| **k == Key::Null).count();
            let ignored = match self.ignore {
                IgnoreRow::AllMissing => nulls == keys.len(),
                IgnoreRow::AnyMissing => nulls > 0,
                IgnoreRow::Never => false,
            };
            if ignored {
                outcomes.push(Outcome::Missing);
                continue;
            }
            let ok = match &self.rule {
                MultiRule::PairEqual => keys[0] == keys[1],
                MultiRule::PairGreater { or_equal } => match (&keys[0], &keys[1]) {
                    (Key::Null, _) | (_, Key::Null) => false,
                    (a, b) => {
                        let order = a.cmp_values(b);
                        order.is_gt() || (*or_equal && order.is_eq())
                    }
                },
                MultiRule::PairInSet(_) => self.pairs.contains(&Key::Tuple(keys.clone())),
                MultiRule::SumEqual(total) => {
                    keys.iter().filter_map(Key::as_f64).sum::<f64>() == *total
                }
                MultiRule::ValuesEqual => keys.windows(2).all(|w| w[0] == w[1]),
                // Judged above.
                MultiRule::UniqueWithinRecord | MultiRule::CompoundUnique => true,
            };
            outcomes.push(if ok { Outcome::Pass } else { Outcome::Fail });
        }
        self.tally.record(&outcomes, rows, render_row);
        Ok(())
    }

    pub fn merge(&mut self, other: MultiCheck, offset: u64) {
        if self.error.is_none() {
            self.error = other.error;
        }
        if let (Some(mine), Some(theirs)) = (self.unique.as_mut(), other.unique) {
            mine.merge(theirs, offset);
        }
        self.tally.append(other.tally, offset);
    }

    pub fn finish(mut self) -> Result<Tally, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(unique) = self.unique.take() {
            // GE lists a compound key's rows as objects keyed by column.
            let columns = &self.columns;
            unique.finish(&mut self.tally, |arrays, i| {
                Json::Object(
                    columns
                        .iter()
                        .zip(arrays)
                        .map(|(name, a)| (name.clone(), render(a, i)))
                        .collect(),
                )
            })?;
        }
        Ok(self.tally)
    }
}
