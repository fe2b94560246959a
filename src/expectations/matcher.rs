//! Regular expressions matched against a whole text column.
//!
//! Why not only `Regex::is_match` per row: measured on the bench table's
//! session ids (16 hex digits against `^[0-9a-f]{16}$`), it took 57 ns a row,
//! most of it the meta engine's per-search setup, and was 11% of validating
//! the table. Walking regex-automata's fully compiled DFA for the same
//! pattern takes 32 ns a row, and walking four rows side by side 23 ns: the
//! four transition lookups do not depend on each other, so the CPU overlaps
//! them. A pattern whose DFA would be large keeps the `Regex`, and a row the
//! DFA gives up on (a Unicode word boundary next to non-ASCII text) is
//! matched by the `Regex`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use regex::Regex;
use regex_automata::Anchored;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;

use super::values::Outcome;

/// Bytes a compiled DFA may take; past it the `Regex` does the matching.
const DFA_SIZE_LIMIT: usize = 2 << 20;

/// Rows walked side by side.
const LANES: usize = 4;

#[derive(Clone)]
struct Compiled {
    dfa: dense::DFA<Vec<u32>>,
    /// Every row starts its search here (unanchored, at the start of text).
    start: StateID,
}

/// A regex that matches anywhere in a value, as `Regex::is_match` does.
#[derive(Clone)]
pub struct Matcher {
    regex: Regex,
    /// Shared: rules are cloned into each run's plan (once per batch in the
    /// daemon), and a DFA can be up to `DFA_SIZE_LIMIT`.
    compiled: Option<Arc<Compiled>>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Matcher({:?})", self.regex.as_str())
    }
}

impl Matcher {
    pub fn new(regex: &Regex) -> Self {
        Self {
            regex: regex.clone(),
            compiled: compile(regex.as_str()).map(Arc::new),
        }
    }

    pub fn is_match(&self, s: &str) -> bool {
        match &self.compiled {
            Some(c) => self.walk(c, c.start, s.as_bytes()),
            None => self.regex.is_match(s),
        }
    }

    /// Whether each row matches (`negate`: does not), for plain text
    /// columns; `None` for other column types, which the caller matches
    /// value by value with [`Matcher::is_match`].
    pub fn outcomes(&self, array: &ArrayRef, negate: bool) -> Option<Vec<Outcome>> {
        let compiled = self.compiled.as_ref()?;
        let rows: Vec<Option<&[u8]>> = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().map(bytes).collect(),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().map(bytes).collect(),
            DataType::Utf8View => array.as_string_view().iter().map(bytes).collect(),
            _ => return None,
        };
        let verdict = |matched: bool| {
            if matched != negate {
                Outcome::Pass
            } else {
                Outcome::Fail
            }
        };
        let mut out = vec![Outcome::Missing; rows.len()];
        let mut group: Vec<(usize, &[u8])> = Vec::with_capacity(LANES);
        for (i, row) in rows.iter().enumerate() {
            let Some(row) = row else { continue };
            group.push((i, row));
            if group.len() == LANES {
                let lanes: [(usize, &[u8]); LANES] = std::array::from_fn(|l| group[l]);
                for (i, matched) in self.walk_lanes(compiled, lanes) {
                    out[i] = verdict(matched);
                }
                group.clear();
            }
        }
        for (i, row) in group {
            out[i] = verdict(self.walk(compiled, compiled.start, row));
        }
        Some(out)
    }

    /// Runs one row from `state` to its end (or the first match, or the
    /// point where no match is possible).
    fn walk(&self, c: &Compiled, mut state: StateID, row: &[u8]) -> bool {
        for &b in row {
            state = c.dfa.next_state(state, b);
            if c.dfa.is_special_state(state) {
                if c.dfa.is_match_state(state) {
                    return true;
                }
                if c.dfa.is_dead_state(state) {
                    return false;
                }
                return self.fallback(row);
            }
        }
        let end = c.dfa.next_eoi_state(state);
        if c.dfa.is_quit_state(end) {
            return self.fallback(row);
        }
        c.dfa.is_match_state(end)
    }

    /// Four rows side by side for as long as the shortest lasts (and none
    /// reached a special state), then each on its own.
    fn walk_lanes(&self, c: &Compiled, lanes: [(usize, &[u8]); LANES]) -> [(usize, bool); LANES] {
        let shortest = lanes.iter().map(|(_, r)| r.len()).min().unwrap_or(0);
        let mut states = [c.start; LANES];
        let mut walked = 0;
        while walked < shortest {
            let next: [StateID; LANES] =
                std::array::from_fn(|l| c.dfa.next_state(states[l], lanes[l].1[walked]));
            states = next;
            walked += 1;
            if next.iter().any(|&s| c.dfa.is_special_state(s)) {
                break;
            }
        }
        std::array::from_fn(|l| {
            let (i, row) = lanes[l];
            let state = states[l];
            let matched = if walked > 0 && c.dfa.is_special_state(state) {
                if c.dfa.is_match_state(state) {
                    true
                } else if c.dfa.is_dead_state(state) {
                    false
                } else {
                    self.fallback(row)
                }
            } else {
                self.walk(c, state, &row[walked..])
            };
            (i, matched)
        })
    }

    /// The `Regex` decides a row the DFA gave up on.
    fn fallback(&self, row: &[u8]) -> bool {
        std::str::from_utf8(row).is_ok_and(|s| self.regex.is_match(s))
    }
}

fn bytes(value: Option<&str>) -> Option<&[u8]> {
    value.map(str::as_bytes)
}

/// The pattern's DFA, or `None` when it would pass [`DFA_SIZE_LIMIT`] or
/// uses what a DFA cannot run. No acceleration: then the only special states
/// are match, dead and quit, which the walks check for.
fn compile(pattern: &str) -> Option<Compiled> {
    let config = dense::Config::new()
        .accelerate(false)
        .unicode_word_boundary(true)
        .dfa_size_limit(Some(DFA_SIZE_LIMIT))
        .determinize_size_limit(Some(DFA_SIZE_LIMIT));
    let dfa = dense::Builder::new()
        .configure(config)
        .build(pattern)
        .ok()?;
    let start = dfa
        .start_state(&start::Config::new().anchored(Anchored::No))
        .ok()?;
    if dfa.is_special_state(start) && !dfa.is_dead_state(start) {
        return None;
    }
    Some(Compiled { dfa, start })
}

#[cfg(test)]
mod tests {
    use arrow::array::{LargeStringArray, StringArray, StringViewArray};

    use super::*;

    const PATTERNS: &[&str] = &[
        "^[0-9a-f]{16}$",
        "[0-9]+",
        "^$",
        "a*",
        r"\bcat\b",
        r"(?i)straße",
        r"^\p{L}+$",
        "x$",
        "^(foo|bar)baz",
        r"\d{3}-\d{4}",
        "(?s)^a.b$",
    ];

    const TEXTS: &[&str] = &[
        "",
        "0123456789abcdef",
        "0123456789abcdeF",
        "0123456789abcdef0",
        "a",
        "aaa",
        "cat",
        "a cat!",
        "concatenate",
        "é cat é",
        "écat",
        "STRASSE",
        "Straße",
        "ünïcödé",
        "box",
        "boxx ",
        "barbaz",
        "foobaz and more",
        "555-1234",
        "call 555-12345 now",
        "a\nb",
        "a\u{2028}b",
        "日本語",
    ];

    #[test]
    fn matches_as_the_regex_does_row_by_row_and_by_column() {
        let mut rows: Vec<Option<&str>> = Vec::new();
        for (i, t) in TEXTS.iter().enumerate() {
            rows.push(Some(t));
            if i % 5 == 0 {
                rows.push(None);
            }
        }
        let arrays: [ArrayRef; 3] = [
            Arc::new(StringArray::from(rows.clone())),
            Arc::new(LargeStringArray::from(rows.clone())),
            Arc::new(StringViewArray::from(rows.clone())),
        ];
        for pattern in PATTERNS {
            let regex = Regex::new(pattern).unwrap();
            let matcher = Matcher::new(&regex);
            assert!(matcher.compiled.is_some(), "{pattern} compiles to a DFA");
            for t in TEXTS {
                assert_eq!(matcher.is_match(t), regex.is_match(t), "{pattern} on {t:?}");
            }
            for array in &arrays {
                for negate in [false, true] {
                    let got = matcher.outcomes(array, negate).unwrap();
                    let want: Vec<Outcome> = rows
                        .iter()
                        .map(|r| match r {
                            None => Outcome::Missing,
                            Some(t) if regex.is_match(t) != negate => Outcome::Pass,
                            Some(_) => Outcome::Fail,
                        })
                        .collect();
                    assert_eq!(got, want, "{pattern} negate={negate} on {array:?}");
                }
            }
        }
    }

    #[test]
    fn a_pattern_too_big_for_a_dfa_keeps_the_regex() {
        let regex = Regex::new(r"\w{50}[a-z]{30}\w{50}").unwrap();
        let matcher = Matcher::new(&regex);
        assert!(matcher.compiled.is_none());
        let long = "a".repeat(130);
        assert!(matcher.is_match(&long));
        assert!(!matcher.is_match("short"));
        let array: ArrayRef = Arc::new(StringArray::from(vec![long.as_str()]));
        assert!(matcher.outcomes(&array, false).is_none());
    }
}
