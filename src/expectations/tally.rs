//! Counting a map expectation's rows while streaming, in bounded memory
//! (except where GE's semantics need every value: uniqueness, see
//! `unique.rs`, and COMPLETE results, which list every unexpected row).
//!
//! Row positions are local to a partition while it is read; partitions are
//! merged in input order, shifting the later one's positions by the rows
//! before it, so reported indices are 0-based positions in the input.

use serde_json::Value as Json;

use super::suite::ResultLevel;
use super::values::Outcome;

/// Positions (in the partition) of a batch's rows after a row condition.
#[derive(Debug, Clone)]
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

    /// How many unexpected rows this result format lists.
    pub fn keep(&self) -> usize {
        self.keep
    }

    pub fn nonmissing(&self) -> u64 {
        self.element_count - self.missing_count
    }
}

/// Increasing / decreasing: each value against the previous non-missing
/// one. The first value of a partition is judged when partitions merge.
#[derive(Debug, Clone, Default)]
pub struct MonotonicState {
    pub first: Option<(u64, f64, Json)>,
    pub last: Option<f64>,
}
