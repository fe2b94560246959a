//! Timing figures on a realistic batch (printed, not asserted).

use std::time::Instant;

use assay::query::{DerivedColumn, DerivedColumns, RowFilter, from_polars, to_polars};

use super::{expected_ids, people, people_batch};

/// Prints how long filtering and deriving take on a realistic batch
/// (65,536 rows × 20 columns); run with `--nocapture` to see the figures.
/// Asserts only correctness; the figures are for the record.
#[test]
fn timing_on_a_65k_row_batch() {
    let p = people(65_536, 8);
    let input = people_batch(&p, 15);
    assert_eq!(input.num_columns(), 20);
    let filter = RowFilter::new("age >= 30 AND state IN ('CA','NY')").expect("valid");
    let expected = expected_ids(&p, |i| {
        p.age[i].is_some_and(|a| a >= 30) && p.state[i].is_some_and(|s| s == "CA" || s == "NY")
    });
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        assert_eq!(
            filter.apply(&input).expect("apply").num_rows(),
            expected.len()
        );
    }
    let per_filter = start.elapsed() / runs;

    let like = RowFilter::new("employer_title LIKE '%engineer%'").expect("valid");
    let start = Instant::now();
    for _ in 0..runs {
        like.apply(&input).expect("apply");
    }
    let per_like = start.elapsed() / runs;

    let derived = DerivedColumns::new(vec![
        DerivedColumn::parse("age_band=CASE WHEN age < 30 THEN 'young' ELSE 'older' END")
            .expect("valid"),
    ])
    .expect("ok");
    let start = Instant::now();
    for _ in 0..runs {
        derived.apply(&input).expect("apply");
    }
    let per_derived = start.elapsed() / runs;

    let start = Instant::now();
    for _ in 0..runs {
        from_polars(&to_polars(&input).expect("to")).expect("from");
    }
    let per_round_trip = start.elapsed() / runs;
    println!(
        "65,536 rows x 20 columns: filter (age, dict state IN) {per_filter:?}, \
         LIKE filter {per_like:?}, CASE derived column {per_derived:?}, \
         full to_polars+from_polars {per_round_trip:?}"
    );
}
