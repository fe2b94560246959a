//! Exact uniqueness: which rows hold a value (or, for a compound key, a
//! combination of values) that occurs more than once in the data, as
//! pandas' `duplicated(keep=False)` decides it for Great Expectations'
//! `expect_column_values_to_be_unique` and
//! `expect_compound_columns_to_be_unique`; and, row by row, whether a
//! record's values are distinct (`nunique(dropna=False, axis=1)`, for
//! `expect_select_column_values_to_be_unique_within_record`).
//!
//! How the column-wide check works: while the data streams, every row that
//! takes part gets a 64-bit print (the exact bits of a number, boolean or
//! date; a hash of text and of compound keys) and the batch's arrays are
//! kept (reference-counted, not copied). At the end the repeated prints
//! are found ([`repeated_prints`]: one pass when they arrive sorted, else a
//! bitmap prefilter and a sort of the few prints that share a bucket):
//! usually none, and then the answer is known. Rows whose print repeats
//! are candidates; exact prints make them the answer, hashed ones are
//! grouped by their real values first, so a hash collision never marks a
//! row.
//!
//! Why not a hash map: counting in a foldhash `HashMap` lost to sorting
//! in `benches/unique.rs` (`dedup_strategies`: random access into a table
//! larger than the cache), and the prefilter beats sorting everything.
//!
//! Memory: the batches' arrays of the column(s), 8 bytes of print per row
//! and, at the end, two bitmaps of about a byte per row and the prints
//! that share a bucket.

use std::hash::BuildHasher;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::buffer::NullBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type, UInt64Type};
use foldhash::fast::FixedState;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use rayon::prelude::*;
use serde_json::Value as Json;

use super::suite::IgnoreRow;
use super::tally::{RowIds, Tally};
use super::values::{Family, Outcome, family, numbers};

/// How numbers are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbers {
    /// Within one column (pandas compares a column's own values): integers
    /// and dates by their exact values (ids beyond 2^53 stay distinct),
    /// floats by their bits with -0.0 folded into 0.0.
    Exact,
    /// Across the columns of a record, whose types may differ: every number
    /// (and boolean) as an f64, as Python compares `1`, `1.0` and `True`.
    AsF64,
}

/// One cell's value, for equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Cell<'a> {
    /// Null, or NaN in a float column.
    Null,
    /// A number's identity under [`Numbers`].
    Num(u64),
    Bool(bool),
    Text(&'a str),
}

/// Text cells of one array (dictionary-aware).
enum Text {
    Utf8(arrow::array::StringArray),
    Large(arrow::array::LargeStringArray),
    View(arrow::array::StringViewArray),
    Dictionary {
        values: Box<Text>,
        keys: Vec<usize>,
        nulls: Option<NullBuffer>,
    },
    /// A column of nulls only.
    Nulls,
}

impl Text {
    fn new(array: &ArrayRef) -> Result<Self, String> {
        Ok(match array.data_type() {
            DataType::Utf8 => Text::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Text::Large(array.as_string::<i64>().clone()),
            DataType::Utf8View => Text::View(array.as_string_view().clone()),
            DataType::Dictionary(..) => {
                let dict = array.as_any_dictionary();
                Text::Dictionary {
                    values: Box::new(Text::new(dict.values())?),
                    keys: dict.normalized_keys(),
                    nulls: array.logical_nulls(),
                }
            }
            DataType::Null => Text::Nulls,
            // Any other type is compared by its text, as `values::strings` reads it.
            _ => Text::new(&cast(array, &DataType::Utf8).map_err(|e| e.to_string())?)?,
        })
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Text::View(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Dictionary {
                values,
                keys,
                nulls,
            } => {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    None
                } else {
                    values.get(keys[i])
                }
            }
            Text::Nulls => None,
        }
    }

    /// Calls `f(row, hash)` with the hash of every row's text in order
    /// (`None` for nulls); a dictionary's values are hashed once each.
    fn each_hash(&self, len: usize, f: &mut dyn FnMut(usize, Option<u64>)) {
        match self {
            Text::Dictionary {
                values,
                keys,
                nulls,
            } => {
                let mut per_value = vec![None; keys.iter().max().map_or(0, |m| m + 1)];
                let used = per_value.len();
                values.each_hash(used, &mut |k, h| per_value[k] = h);
                for (i, k) in keys.iter().enumerate() {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        f(i, None);
                    } else {
                        f(i, per_value.get(*k).copied().flatten());
                    }
                }
            }
            _ => (0..len).for_each(|i| f(i, self.get(i).map(|s| PRINTS.hash_one(s)))),
        }
    }
}

/// One array's cells under a [`Numbers`] rule.
enum Cells {
    Num {
        bits: Vec<u64>,
        /// Null or NaN rows; `None` when there are none.
        missing: Option<Vec<bool>>,
    },
    Bool(BooleanArray),
    Text(Text),
}

impl Cells {
    fn new(array: &ArrayRef, rule: Numbers) -> Result<Self, String> {
        let fam = family(array.data_type());
        if fam == Family::Bool {
            let bools = array.as_boolean().clone();
            if rule == Numbers::AsF64 {
                let bits: Vec<u64> = bools
                    .values()
                    .iter()
                    .map(|b| f64_bits(if b { 1.0 } else { 0.0 }))
                    .collect();
                let missing = missing(array, &bits, false);
                return Ok(Cells::Num { bits, missing });
            }
            return Ok(Cells::Bool(bools));
        }
        if !matches!(fam, Family::Num | Family::Temporal) {
            return Ok(Cells::Text(Text::new(array)?));
        }
        let floats = |a: &ArrayRef| -> Result<Vec<u64>, String> {
            Ok(numbers(a)?.values().iter().map(|x| f64_bits(*x)).collect())
        };
        let bits: Vec<u64> = match (rule, array.data_type()) {
            (Numbers::AsF64, _) => floats(array)?,
            (_, DataType::UInt64) => array.as_primitive::<UInt64Type>().values().to_vec(),
            (_, DataType::Float64) => array
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|x| f64_bits(*x))
                .collect(),
            (_, DataType::Float32) => array
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .map(|x| f64_bits(f64::from(*x)))
                .collect(),
            (_, t) if t.is_integer() || fam == Family::Temporal => {
                // Integers, timestamps and dates: their own integer values.
                let ints = match t {
                    DataType::Int64 => array.clone(),
                    DataType::Date32 => cast(
                        &cast(array, &DataType::Int32).map_err(|e| e.to_string())?,
                        &DataType::Int64,
                    )
                    .map_err(|e| e.to_string())?,
                    _ => cast(array, &DataType::Int64).map_err(|e| e.to_string())?,
                };
                ints.as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .map(|v| *v as u64)
                    .collect()
            }
            // Decimals and half floats: as f64, like every other expectation.
            _ => floats(array)?,
        };
        let nan_possible = matches!(
            array.data_type(),
            DataType::Float16 | DataType::Float32 | DataType::Float64
        );
        let missing = missing(array, &bits, nan_possible);
        Ok(Cells::Num { bits, missing })
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        match self {
            Cells::Num { bits, missing } => {
                if missing.as_ref().is_some_and(|m| m[i]) {
                    Cell::Null
                } else {
                    Cell::Num(bits[i])
                }
            }
            Cells::Bool(b) => {
                if b.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bool(b.value(i))
                }
            }
            Cells::Text(t) => t.get(i).map_or(Cell::Null, Cell::Text),
        }
    }

    /// Whether equal prints mean equal values.
    fn exact(&self) -> bool {
        !matches!(self, Cells::Text(_))
    }

    /// Calls `f(row, print)` for every row in order, `None` for a missing
    /// cell: the exact identity of numbers and booleans, a hash of text.
    fn each_print(&self, len: usize, f: &mut dyn FnMut(usize, Option<u64>)) {
        match self {
            Cells::Num { bits, missing } => match missing {
                None => bits.iter().enumerate().for_each(|(i, b)| f(i, Some(*b))),
                Some(m) => bits
                    .iter()
                    .zip(m)
                    .enumerate()
                    .for_each(|(i, (b, m))| f(i, (!m).then_some(*b))),
            },
            Cells::Bool(b) => b
                .iter()
                .enumerate()
                .for_each(|(i, v)| f(i, v.map(u64::from))),
            Cells::Text(t) => t.each_hash(len, f),
        }
    }

    /// The prints of the rows that take part (see [`Self::each_print`]),
    /// and their positions when some rows do not (`None`: every row, in
    /// order).
    fn present_prints(&self, len: usize) -> (Vec<u64>, Option<Vec<u32>>) {
        let mut prints = Vec::with_capacity(len);
        let mut positions: Option<Vec<u32>> = None;
        self.each_print(len, &mut |i, print| match (print, positions.as_mut()) {
            (Some(p), None) => prints.push(p),
            (Some(p), Some(at)) => {
                prints.push(p);
                at.push(i as u32);
            }
            // The first missing row: every row before it took part.
            (None, None) => positions = Some((0..i as u32).collect()),
            (None, Some(_)) => {}
        });
        (prints, positions)
    }
}

/// Appends the exact print of every non-missing cell of a numeric, date or
/// time array to `out` (as `expect_column_values_to_be_unique` compares
/// them: integers and dates by their own values, floats by their bits with
/// -0.0 as 0.0; nulls and NaN are missing). Returns how many it appended
/// and whether the prints are integers (an integer, date or time column's
/// own values, for [`dedup_dense_integers`]). Equal prints mean equal values, so the
/// number of distinct prints is the number of distinct values (pandas'
/// `nunique`).
pub(super) fn number_prints(array: &ArrayRef, out: &mut Vec<u64>) -> Result<(u64, bool), String> {
    let before = out.len();
    let integers = match array.data_type() {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => false,
        t => t.is_integer() || family(t) == Family::Temporal,
    };
    if let (Some(ints), None) = (array.as_primitive_opt::<Int64Type>(), array.logical_nulls()) {
        // The common case (ids, counts): the values are the prints.
        out.extend(ints.values().iter().map(|v| *v as u64));
        return Ok((ints.len() as u64, true));
    }
    match Cells::new(array, Numbers::Exact)? {
        Cells::Num {
            bits,
            missing: None,
        } => out.extend_from_slice(&bits),
        Cells::Num {
            bits,
            missing: Some(missing),
        } => out.extend(
            bits.iter()
                .zip(&missing)
                .filter(|(_, m)| !**m)
                .map(|(b, _)| *b),
        ),
        _ => return Err(format!("{} is not a number", array.data_type())),
    }
    Ok(((out.len() - before) as u64, integers))
}

/// Sorts integer prints (see [`number_prints`]) and removes repeats when
/// their range is at most 64 times their number (ids, codes, counts),
/// through a bitmap of the range instead of a sort: one pass over the
/// prints and one over the bitmap (no larger than the prints themselves).
/// The result ascends as integers. Returns false, leaving `prints` as they
/// were, when the range is wider (or the prints are few): sort them then.
pub(super) fn dedup_dense_integers(prints: &mut Vec<u64>) -> bool {
    if prints.len() >= 1024 {
        let (min, max) = prints.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &p| {
            (lo.min(p as i64), hi.max(p as i64))
        });
        let span = (i128::from(max) - i128::from(min) + 1) as u128;
        if span <= 64 * prints.len() as u128 {
            let offset = |p: u64| (p as i64).wrapping_sub(min) as u64 as usize;
            let mut bitmap = vec![0u64; (span as usize).div_ceil(64)];
            for &p in prints.iter() {
                let k = offset(p);
                bitmap[k / 64] |= 1 << (k % 64);
            }
            prints.clear();
            for (w, &word) in bitmap.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let k = w * 64 + word.trailing_zeros() as usize;
                    prints.push(min.wrapping_add(k as i64) as u64);
                    word &= word - 1;
                }
            }
            return true;
        }
    }
    false
}

/// Hashes for prints: a fixed seed, so that the same data gives the same
/// prints in every partition and every run (the keys are data, so
/// hash-flooding resistance buys nothing).
const PRINTS: FixedState = FixedState::with_seed(0x0a55_a7d0_0b1e_5eed);

/// A missing cell's print inside a compound key.
const NULL_PRINT: u64 = 0x6e75_6c6c_6e75_6c6c;

/// `Key::num`'s bits: -0.0 folded into 0.0, so equal numbers print equally.
fn f64_bits(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

/// Null rows, and NaN rows when the column holds floats (NaN is missing, as
/// in GE's pandas backend); `None` when no row is missing.
fn missing(array: &ArrayRef, bits: &[u64], nan_possible: bool) -> Option<Vec<bool>> {
    let nulls = array.logical_nulls();
    let has_nan = nan_possible && bits.iter().any(|b| f64::from_bits(*b).is_nan());
    if nulls.as_ref().is_none_or(|n| n.null_count() == 0) && !has_nan {
        return None;
    }
    Some(
        bits.iter()
            .enumerate()
            .map(|(i, b)| {
                nulls.as_ref().is_some_and(|n| n.is_null(i))
                    || (nan_possible && f64::from_bits(*b).is_nan())
            })
            .collect(),
    )
}

/// One batch's share of a column-wide uniqueness check.
#[derive(Debug, Clone)]
struct Part {
    /// The batch's arrays of the checked column(s), to check and render
    /// candidates at the end.
    arrays: Vec<ArrayRef>,
    rows: RowIds,
    /// Prints of the rows that take part, in row order.
    prints: Vec<u64>,
    /// Their positions in the batch when some rows were left out (missing,
    /// or ignored by `ignore_row_if`); `None`: every row, in order.
    positions: Option<Vec<u32>>,
    /// Whether equal prints mean equal values.
    exact: bool,
}

impl Part {
    fn position(&self, k: usize) -> usize {
        match &self.positions {
            None => k,
            Some(p) => p[k] as usize,
        }
    }

    fn with_offset(mut self, offset: u64) -> Self {
        self.rows = match self.rows {
            RowIds::From(start) => RowIds::From(start + offset),
            RowIds::List(rows) => RowIds::List(rows.into_iter().map(|r| r + offset).collect()),
        };
        self
    }
}

/// A column-wide uniqueness check's state over a partition: a row is
/// unexpected when its value occurs more than once anywhere in the data,
/// so the decision waits for the end ([`Self::finish`]).
#[derive(Debug, Clone)]
pub struct Duplicates {
    parts: Vec<Part>,
    /// How many unexpected rows to list (the result format's).
    keep: usize,
}

impl Duplicates {
    /// `keep`: how many unexpected rows the result lists ([`Tally::keep`]).
    pub fn new(keep: usize) -> Self {
        Self {
            parts: Vec::new(),
            keep,
        }
    }

    /// Adds one batch of a single column: null (and NaN) rows are missing,
    /// every other row passes for now.
    pub fn add_column(&mut self, array: &ArrayRef, rows: &RowIds) -> Result<Vec<Outcome>, String> {
        let cells = Cells::new(array, Numbers::Exact)?;
        let exact = cells.exact();
        let (prints, positions) = match cells {
            // The common case (ids): the values are the prints.
            Cells::Num {
                bits,
                missing: None,
            } => (bits, None),
            cells => cells.present_prints(array.len()),
        };
        Ok(self.push(vec![array.clone()], rows, prints, positions, exact))
    }

    /// Adds one batch of a compound key (`arrays`, one per column): rows
    /// `ignore` leaves out are missing; nulls are values otherwise (pandas
    /// `duplicated` finds two rows `(1, NaN)` equal).
    pub fn add_record(
        &mut self,
        arrays: &[ArrayRef],
        ignore: IgnoreRow,
        rows: &RowIds,
    ) -> Result<Vec<Outcome>, String> {
        let len = arrays.first().map_or(0, |a| a.len());
        // Column by column: each row's print folds in its cell's, and its
        // missing cells are counted (no per-row key is built).
        let mut prints = vec![PRINTS.hash_one(arrays.len()); len];
        let mut nulls = vec![0u32; len];
        for a in arrays {
            Cells::new(a, Numbers::Exact)?.each_print(len, &mut |i, print| {
                let cell = match print {
                    Some(p) => p,
                    None => {
                        nulls[i] += 1;
                        NULL_PRINT
                    }
                };
                prints[i] = PRINTS.hash_one((prints[i], cell));
            });
        }
        let taking_part = |i: usize| !ignored(ignore, nulls[i] as usize, arrays.len());
        let (prints, positions) = if (0..len).all(taking_part) {
            (prints, None)
        } else {
            let positions: Vec<u32> = (0..len)
                .filter(|&i| taking_part(i))
                .map(|i| i as u32)
                .collect();
            let kept = positions.iter().map(|&i| prints[i as usize]).collect();
            (kept, Some(positions))
        };
        Ok(self.push(arrays.to_vec(), rows, prints, positions, false))
    }

    fn push(
        &mut self,
        arrays: Vec<ArrayRef>,
        rows: &RowIds,
        prints: Vec<u64>,
        positions: Option<Vec<u32>>,
        exact: bool,
    ) -> Vec<Outcome> {
        let len = arrays.first().map_or(0, |a| a.len());
        let outcomes = match &positions {
            None => vec![Outcome::Pass; len],
            Some(kept) => {
                let mut outcomes = vec![Outcome::Missing; len];
                for &i in kept {
                    outcomes[i as usize] = Outcome::Pass;
                }
                outcomes
            }
        };
        self.parts.push(Part {
            arrays,
            rows: rows.clone(),
            prints,
            positions,
            exact,
        });
        outcomes
    }

    /// Appends a later partition whose rows start at `offset`.
    pub fn merge(&mut self, other: Duplicates, offset: u64) {
        self.parts
            .extend(other.parts.into_iter().map(|p| p.with_offset(offset)));
    }

    /// Fills `tally`'s unexpected count and its first `keep` unexpected
    /// rows, in row order; `render(arrays, i)` renders row `i` of a batch.
    pub fn finish(
        self,
        tally: &mut Tally,
        render: impl Fn(&[ArrayRef], usize) -> Json,
    ) -> Result<(), String> {
        let repeated = repeated_prints(&self.parts);
        if repeated.is_empty() {
            return Ok(());
        }
        // Candidates: (part, index into its prints), in row order.
        let candidates: Vec<Vec<usize>> = self
            .parts
            .par_iter()
            .map(|p| {
                p.prints
                    .iter()
                    .enumerate()
                    .filter(|(_, print)| repeated.contains(*print))
                    .map(|(k, _)| k)
                    .collect()
            })
            .collect();
        let unexpected = if self.parts.iter().all(|p| p.exact) {
            candidates
        } else {
            self.confirm(&candidates)?
        };
        let mut listed = Vec::new();
        for (part, ks) in self.parts.iter().zip(&unexpected) {
            tally.unexpected_count += ks.len() as u64;
            for &k in ks {
                if listed.len() >= self.keep {
                    break;
                }
                let i = part.position(k);
                listed.push((part.rows.get(i), render(&part.arrays, i)));
            }
        }
        tally.unexpected = listed;
        Ok(())
    }

    /// Of the candidates (rows whose hashed print repeats), those whose
    /// real value repeats.
    fn confirm(&self, candidates: &[Vec<usize>]) -> Result<Vec<Vec<usize>>, String> {
        let cells: Vec<Vec<Cells>> = self
            .parts
            .par_iter()
            .zip(candidates)
            .map(|(p, ks)| {
                if ks.is_empty() {
                    return Ok(Vec::new());
                }
                p.arrays
                    .iter()
                    .map(|a| Cells::new(a, Numbers::Exact))
                    .collect()
            })
            .collect::<Result<_, String>>()?;
        let record = |part: usize, k: usize| -> Vec<Cell<'_>> {
            let i = self.parts[part].position(k);
            cells[part].iter().map(|c| c.cell(i)).collect()
        };
        let mut counts: HashMap<Vec<Cell<'_>>, u32> = HashMap::new();
        for (part, ks) in candidates.iter().enumerate() {
            for &k in ks {
                *counts.entry(record(part, k)).or_default() += 1;
            }
        }
        Ok(candidates
            .iter()
            .enumerate()
            .map(|(part, ks)| {
                ks.iter()
                    .copied()
                    .filter(|&k| counts[&record(part, k)] > 1)
                    .collect()
            })
            .collect())
    }
}

/// Below this many prints the sort alone is cheap enough.
const PREFILTER_MIN_PRINTS: usize = 65_536;

/// The prints that occur more than once across all parts.
///
/// Prints that arrive sorted (ids) cost one linear pass. Otherwise a
/// bitmap prefilter runs first: each print marks one of about eight
/// buckets per print (the print's Fibonacci hash, so sorted or clustered
/// integers spread as well as hashed text), and only the prints that
/// share a bucket with another (about 12%) are sorted. Why not sort them
/// all: on 1M random prints the prefilter took 15–23 ms on one core
/// against 46–78 ms for rayon's `par_sort_unstable` and 30–70 ms for
/// `sort_unstable` (a busy 2-core machine, release; `radsort` and `rdst`
/// were no faster than the sort), and it needs two small bitmaps instead
/// of a sorted copy of every print. Exact either way: the candidates are
/// compared by their full 64 bits.
fn repeated_prints(parts: &[Part]) -> HashSet<u64> {
    let total: usize = parts.iter().map(|p| p.prints.len()).sum();
    let all = || parts.iter().flat_map(|p| p.prints.iter().copied());
    let ascending = {
        let mut previous = None;
        all().all(|x| {
            let ok = previous.is_none_or(|p| p <= x);
            previous = Some(x);
            ok
        })
    };
    if ascending {
        return repeats_in_ascending(all());
    }
    let mut sorted: Vec<u64> = if total < PREFILTER_MIN_PRINTS {
        all().collect()
    } else {
        shared_bucket_prints(all, total)
    };
    sorted.sort_unstable();
    repeats_in_ascending(sorted.into_iter())
}

/// The values that occur more than once in an ascending sequence.
fn repeats_in_ascending(values: impl Iterator<Item = u64>) -> HashSet<u64> {
    let mut repeated = HashSet::new();
    let mut previous = None;
    for x in values {
        if previous == Some(x) {
            repeated.insert(x);
        }
        previous = Some(x);
    }
    repeated
}

/// The prints that share their bucket with another print: a superset of
/// the repeated prints. Two passes over the prints and two bitmaps of
/// about eight bits per print (between 2^10 and 2^27 bits each).
fn shared_bucket_prints<I: Iterator<Item = u64>>(all: impl Fn() -> I, total: usize) -> Vec<u64> {
    let bits = (u64::BITS - (total as u64 * 8).leading_zeros()).clamp(10, 27);
    let bucket = |x: u64| (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
    let words = (1usize << bits) / 64;
    let mut once = vec![0u64; words];
    let mut twice = vec![0u64; words];
    for x in all() {
        let b = bucket(x);
        let (word, bit) = (b / 64, 1u64 << (b % 64));
        twice[word] |= once[word] & bit;
        once[word] |= bit;
    }
    drop(once);
    all()
        .filter(|&x| {
            let b = bucket(x);
            twice[b / 64] & (1u64 << (b % 64)) != 0
        })
        .collect()
}

fn ignored(ignore: IgnoreRow, nulls: usize, columns: usize) -> bool {
    match ignore {
        IgnoreRow::AllMissing => nulls == columns,
        IgnoreRow::AnyMissing => nulls > 0,
        IgnoreRow::Never => false,
    }
}

/// `expect_select_column_values_to_be_unique_within_record`, one batch:
/// a row passes when its values are pairwise distinct, a missing value
/// counting as one more value (pandas' `nunique(dropna=False, axis=1)`:
/// `[1, null, null]` fails, `[1, null]` passes). Rows `ignore` leaves out
/// are missing.
pub fn distinct_within_record(
    arrays: &[ArrayRef],
    ignore: IgnoreRow,
) -> Result<Vec<Outcome>, String> {
    let len = arrays.first().map_or(0, |a| a.len());
    let columns: Vec<Cells> = arrays
        .iter()
        .map(|a| Cells::new(a, Numbers::AsF64))
        .collect::<Result<_, _>>()?;
    let mut row: Vec<Cell<'_>> = Vec::with_capacity(columns.len());
    let mut outcomes = Vec::with_capacity(len);
    for i in 0..len {
        row.clear();
        row.extend(columns.iter().map(|c| c.cell(i)));
        let nulls = row.iter().filter(|c| **c == Cell::Null).count();
        if ignored(ignore, nulls, row.len()) {
            outcomes.push(Outcome::Missing);
            continue;
        }
        let distinct = (1..row.len()).all(|j| !row[..j].contains(&row[j]));
        outcomes.push(if distinct {
            Outcome::Pass
        } else {
            Outcome::Fail
        });
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::{Part, dedup_dense_integers, repeated_prints};
    use crate::expectations::tally::RowIds;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// What `dedup_dense_integers` must produce: the distinct integers,
    /// ascending.
    fn sorted_distinct(prints: &[u64]) -> Vec<u64> {
        let mut ints: Vec<i64> = prints.iter().map(|p| *p as i64).collect();
        ints.sort_unstable();
        ints.dedup();
        ints.into_iter().map(|i| i as u64).collect()
    }

    #[test]
    fn dense_integers_dedup_like_a_sort_at_the_edges_of_i64() {
        let mut rng = SmallRng::seed_from_u64(3);
        for (low, width, n) in [
            (-5_000i64, 20_000i64, 10_000usize),
            (i64::MIN, 3_000, 5_000),
            (i64::MAX - 3_000, 3_001, 5_000),
            (0, 1, 2_000),
            (-1, 64 * 4_000, 4_000),
        ] {
            let prints: Vec<u64> = (0..n)
                .map(|_| low.wrapping_add(rng.random_range(0..width)) as u64)
                .collect();
            let mut got = prints.clone();
            assert!(dedup_dense_integers(&mut got), "{low} {width}");
            assert_eq!(got, sorted_distinct(&prints), "{low} {width}");
        }
    }

    #[test]
    fn wide_or_few_integers_are_left_to_the_sort() {
        let mut wide: Vec<u64> = (0..5_000u64).map(|i| i * 1_000).collect();
        wide.push(i64::MIN as u64);
        let before = wide.clone();
        assert!(!dedup_dense_integers(&mut wide));
        assert_eq!(wide, before);
        let mut few: Vec<u64> = (0..100).collect();
        assert!(!dedup_dense_integers(&mut few));
    }

    /// What `repeated_prints` must find: by a full sort.
    fn repeated_by_sort(prints: &[u64]) -> Vec<u64> {
        let mut v = prints.to_vec();
        v.sort_unstable();
        let mut out: Vec<u64> = v
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        out.dedup();
        out
    }

    fn parts_of(prints: &[u64], pieces: usize) -> Vec<Part> {
        prints
            .chunks(prints.len().div_ceil(pieces).max(1))
            .map(|chunk| Part {
                arrays: Vec::new(),
                rows: RowIds::From(0),
                prints: chunk.to_vec(),
                positions: None,
                exact: true,
            })
            .collect()
    }

    #[test]
    fn repeated_prints_equal_a_full_sort_on_every_path() {
        let mut rng = SmallRng::seed_from_u64(11);
        let n = 300_000;
        let random: Vec<u64> = (0..n).map(|_| rng.random()).collect();
        let mut with_repeats = random.clone();
        for _ in 0..500 {
            let (i, j) = (rng.random_range(0..n), rng.random_range(0..n));
            with_repeats[i] = with_repeats[j];
        }
        let ascending: Vec<u64> = (0..n as u64).map(|i| i / 3).collect();
        let descending: Vec<u64> = (0..n as u64).rev().collect();
        // Integers around zero: negative ones are huge as u64, and the
        // prints cluster in the low and high bits.
        let clustered: Vec<u64> = (0..n)
            .map(|_| rng.random_range(-200_000i64..200_000) as u64)
            .collect();
        let equal = vec![42u64; n];
        let few = (0..n).map(|i| (i % 7) as u64).collect::<Vec<_>>();
        let small: Vec<u64> = (0..1_000).map(|i| i % 999).collect();
        for (name, prints) in [
            ("random", &random),
            ("with repeats", &with_repeats),
            ("ascending", &ascending),
            ("descending", &descending),
            ("clustered", &clustered),
            ("all equal", &equal),
            ("few distinct", &few),
            ("small", &small),
        ] {
            for pieces in [1, 7] {
                let mut got: Vec<u64> = repeated_prints(&parts_of(prints, pieces))
                    .into_iter()
                    .collect();
                got.sort_unstable();
                assert_eq!(got, repeated_by_sort(prints), "{name}, {pieces} parts");
            }
        }
        assert!(repeated_by_sort(&with_repeats).len() >= 400);
    }
}
