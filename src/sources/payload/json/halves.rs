//! A row body decoded in two halves on two cores, for a daemon with cores
//! to spare: one client waiting for its batch gets it decoded in about half
//! the time. Decoding was about half of such a batch's latency (1.8 of 4 ms
//! for 1,000 × 30 rows, measured with `examples/loadgen --clients 1`).
//!
//! The body `[r0, ..., rn]` is cut between two rows near its middle, at a
//! `}` followed by `,` and `{` (whitespace allowed). A cut there may also
//! fall inside a string or a nested value; then the left half holds an
//! unclosed string or bracket and does not parse. So the halves are used
//! only when both decode and give the same schema (same columns, same
//! types, same order); otherwise, and on any error, the whole body is
//! decoded as one, which also words the error with the row it is in.

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::Schema;

use super::super::PayloadError;
use super::rows;

/// Smaller bodies are not worth a second core (a join costs some tens of
/// microseconds).
const MIN_BYTES: usize = 64 << 10;

/// `[{...}, ...]` decoded in two halves when it can be, else as one.
pub(in crate::sources::payload) fn rows_in_halves(
    body: &[u8],
    expected: Option<&Schema>,
) -> Result<RecordBatch, PayloadError> {
    match halves(body, expected) {
        Some(batch) => Ok(batch),
        None => rows(body, expected),
    }
}

fn halves(body: &[u8], expected: Option<&Schema>) -> Option<RecordBatch> {
    if body.len() < MIN_BYTES {
        return None;
    }
    let (left, right) = split(body)?;
    let (left, right) = rayon::join(|| rows(&left, expected), || rows(&right, expected));
    let (left, right) = (left.ok()?, right.ok()?);
    if left.schema() != right.schema() {
        return None;
    }
    concat_batches(&left.schema(), [&left, &right]).ok()
}

/// The position of the first byte at or after `at` that is not JSON
/// whitespace.
fn past_space(body: &[u8], at: usize) -> usize {
    at + body[at..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count()
}

/// `[A, B]` as `[A]` and `[B]`, cut at the first `}`-`,`-`{` from the
/// middle on; `None` when there is none.
fn split(body: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut at = body.len() / 2;
    loop {
        let close = at + body[at..].iter().position(|&b| b == b'}')?;
        let comma = past_space(body, close + 1);
        if body.get(comma) == Some(&b',') {
            let open = past_space(body, comma + 1);
            if body.get(open) == Some(&b'{') {
                let mut left = Vec::with_capacity(close + 2);
                left.extend_from_slice(&body[..=close]);
                left.push(b']');
                let mut right = Vec::with_capacity(body.len() - open + 1);
                right.push(b'[');
                right.extend_from_slice(&body[open..]);
                return Some((left, right));
            }
        }
        at = close + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field};

    fn body(rows: &[String]) -> Vec<u8> {
        format!("[{}]", rows.join(",\n ")).into_bytes()
    }

    fn plain_rows(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!(r#"{{"x": {}.5, "s": "c{}", "n": {}}}"#, i, i % 7, i * 3))
            .collect()
    }

    /// The halves give what the whole body gives, whether they are used
    /// or not.
    fn same_as_whole(body: &[u8], expected: Option<&Schema>) -> bool {
        let whole = rows(body, expected).map_err(|e| e.to_string());
        let split = rows_in_halves(body, expected).map_err(|e| e.to_string());
        assert_eq!(split, whole);
        halves(body, expected).is_some()
    }

    #[test]
    fn a_body_of_plain_rows_is_cut_between_two_rows() {
        let rows = plain_rows(4000);
        let body = body(&rows);
        let (left, right) = split(&body).unwrap();
        // Each half is a whole array of whole rows.
        let left: serde_json::Value = serde_json::from_slice(&left).unwrap();
        let right: serde_json::Value = serde_json::from_slice(&right).unwrap();
        let (l, r) = (left.as_array().unwrap(), right.as_array().unwrap());
        assert_eq!(l.len() + r.len(), 4000);
        // Cut by bytes: later rows are a little longer (more digits).
        assert!(
            l.len().abs_diff(r.len()) < 100,
            "{} and {}",
            l.len(),
            r.len()
        );
        let expected = Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        assert!(same_as_whole(&body, Some(&expected)), "decoded in halves");
        assert!(same_as_whole(&body, None), "decoded in halves");
    }

    #[test]
    fn a_cut_inside_a_string_or_a_nested_value_falls_back_to_the_whole() {
        // Every row holds `},{` in a string, and in a nested array.
        let rows: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"t": "a}},{{b {i}", "v": [{{"p": 1}},{{"q": {i}}}]}}"#))
            .collect();
        let nested = body(&rows);
        assert!(split(&nested).is_some());
        same_as_whole(&nested, None);
        // Strings only: some cut lands between rows, and both agree.
        let rows: Vec<String> = (0..3000)
            .map(|i| format!(r#"{{"t": "}}, {{ {i}", "n": {i}}}"#))
            .collect();
        assert!(same_as_whole(&body(&rows), None));
    }

    #[test]
    fn halves_that_disagree_on_columns_or_types_fall_back_to_the_whole() {
        let mut rows = plain_rows(2000);
        // A column only in the second half, and `n` a float there.
        rows.extend((0..1000).map(|i| format!(r#"{{"late": true, "x": {i}.5, "n": {i}.25}}"#)));
        assert!(!same_as_whole(&body(&rows), None));
    }

    #[test]
    fn a_bad_value_is_reported_with_its_row_in_the_whole_body() {
        let mut rows = plain_rows(3000);
        rows[2500] = r#"{"x": "not a number", "s": "c"}"#.to_string();
        let expected = Schema::new(vec![Field::new("x", DataType::Float64, true)]);
        let err = rows_in_halves(&body(&rows), Some(&expected)).unwrap_err();
        assert!(err.to_string().contains("2500"), "{err}");
        assert!(!same_as_whole(&body(&rows), Some(&expected)));
    }

    #[test]
    fn small_bodies_and_bodies_without_a_cut_are_decoded_whole() {
        let small = body(&plain_rows(10));
        assert!(!same_as_whole(&small, None));
        assert!(split(br#"[{"a": 1}]"#).is_none());
    }
}
