//! Counting a map expectation's rows while streaming, in bounded memory
//! (except where GE's semantics need every value: uniqueness, and
//! COMPLETE results, which list every unexpected row).
//!
//! Row positions are local to a partition while it is read; partitions are
//! merged in input order, shifting the later one's positions by the rows
//! before it, so reported indices are 0-based positions in the input.

// Maps and sets keyed by data values, on the per-row path: foldhash, not
// SipHash (measured: SipHash was about 6% of `assay validate` on the bench
// table; the keys are data, so hash-flooding resistance buys nothing here).
use foldhash::HashMap;

use serde_json::Value as Json;

use super::suite::ResultLevel;
use super::values::{Key, Outcome};

/// Positions (in the partition) of a batch's rows after a row condition.
pub enum RowIds {
    /// Rows `start..start + n`: no condition.
    From(u64),
    /// The positions of the rows the condition kept.
    List(Vec<u64>),
}

impl RowIds {
    pub fn get(&self, i: usize) -> u64 {
        match self {
            RowIds::From(start) => start + i as u64,
            RowIds::List(rows) => rows[i],
        }
    }
}

/// Counts and the unexpected rows a result format asks for.
#[derive(Debug, Clone)]
pub struct Tally {
    pub element_count: u64,
    pub missing_count: u64,
    pub unexpected_count: u64,
    /// (row, value) in row order: the first `keep` unexpected rows, or all
    /// of them when the result format is COMPLETE.
    pub unexpected: Vec<(u64, Json)>,
    keep: usize,
}

impl Tally {
    pub fn new(level: ResultLevel, partial: usize) -> Self {
        let keep = match level {
            ResultLevel::BooleanOnly => 0,
            ResultLevel::Basic | ResultLevel::Summary => partial,
            ResultLevel::Complete => usize::MAX,
        };
        Self {
            element_count: 0,
            missing_count: 0,
            unexpected_count: 0,
            unexpected: Vec::new(),
            keep,
        }
    }

    /// Folds in one batch; `value(i)` renders row `i` (called only for
    /// unexpected rows that are kept).
    pub fn record(&mut self, outcomes: &[Outcome], rows: &RowIds, value: impl Fn(usize) -> Json) {
        self.element_count += outcomes.len() as u64;
        for (i, outcome) in outcomes.iter().enumerate() {
            match outcome {
                Outcome::Missing => self.missing_count += 1,
                Outcome::Pass => {}
                Outcome::Fail => self.fail(rows.get(i), || value(i)),
            }
        }
    }

    pub fn fail(&mut self, row: u64, value: impl FnOnce() -> Json) {
        self.unexpected_count += 1;
        if self.unexpected.len() < self.keep {
            self.unexpected.push((row, value()));
        }
    }

    /// Appends a later partition whose rows start at `offset`.
    pub fn append(&mut self, other: Tally, offset: u64) {
        self.element_count += other.element_count;
        self.missing_count += other.missing_count;
        self.unexpected_count += other.unexpected_count;
        let room = self.keep.saturating_sub(self.unexpected.len());
        self.unexpected.extend(
            other
                .unexpected
                .into_iter()
                .take(room)
                .map(|(row, v)| (row + offset, v)),
        );
    }

    pub fn nonmissing(&self) -> u64 {
        self.element_count - self.missing_count
    }
}

/// First occurrence and count of every value, for uniqueness. A row is
/// unexpected when its value occurs more than once anywhere (pandas'
/// `duplicated(keep=False)`), so the decision waits for the end.
#[derive(Debug, Clone, Default)]
pub struct UniqueState {
    seen: HashMap<Key, Seen>,
    /// Later occurrences (row, value) in row order: the first `keep`, or all.
    repeats: Vec<(u64, Json)>,
    keep: usize,
}

#[derive(Debug, Clone)]
struct Seen {
    first: u64,
    value: Json,
    count: u64,
}

impl UniqueState {
    pub fn new(level: ResultLevel, partial: usize) -> Self {
        Self {
            keep: Tally::new(level, partial).keep,
            ..Self::default()
        }
    }

    pub fn add(&mut self, key: Key, row: u64, value: impl FnOnce() -> Json) {
        match self.seen.get_mut(&key) {
            Some(seen) => {
                seen.count += 1;
                if self.repeats.len() < self.keep {
                    self.repeats.push((row, seen.value.clone()));
                }
            }
            None => {
                self.seen.insert(
                    key,
                    Seen {
                        first: row,
                        value: value(),
                        count: 1,
                    },
                );
            }
        }
    }

    pub fn merge(&mut self, other: UniqueState, offset: u64) {
        let mut repeats = std::mem::take(&mut self.repeats);
        for (key, seen) in other.seen {
            match self.seen.get_mut(&key) {
                Some(mine) => {
                    mine.count += seen.count;
                    repeats.push((seen.first + offset, seen.value));
                }
                None => {
                    self.seen.insert(
                        key,
                        Seen {
                            first: seen.first + offset,
                            ..seen
                        },
                    );
                }
            }
        }
        repeats.extend(other.repeats.into_iter().map(|(r, v)| (r + offset, v)));
        repeats.sort_by_key(|(r, _)| *r);
        repeats.truncate(self.keep);
        self.repeats = repeats;
    }

    /// Fills `tally`'s unexpected count and rows.
    pub fn finish(self, tally: &mut Tally) {
        let mut rows: Vec<(u64, Json)> = Vec::new();
        for seen in self.seen.values().filter(|s| s.count > 1) {
            tally.unexpected_count += seen.count;
            rows.push((seen.first, seen.value.clone()));
        }
        rows.extend(self.repeats);
        rows.sort_by_key(|(r, _)| *r);
        rows.truncate(tally.keep);
        tally.unexpected = rows;
    }
}

/// Increasing / decreasing: each value against the previous non-missing
/// one. The first value of a partition is judged when partitions merge.
#[derive(Debug, Clone, Default)]
pub struct MonotonicState {
    pub first: Option<(u64, f64, Json)>,
    pub last: Option<f64>,
}
