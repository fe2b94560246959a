//! Derived columns (`--slice NAME=EXPRESSION`).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use assay::query::{DerivedColumn, DerivedColumns};

use super::{people, people_batch};

fn strings(array: &ArrayRef) -> Vec<Option<String>> {
    let array = cast(array, &DataType::Utf8).expect("castable to utf8");
    let array = array.as_any().downcast_ref::<StringArray>().expect("utf8");
    array.iter().map(|v| v.map(str::to_string)).collect()
}

#[test]
fn derived_columns_are_appended_and_originals_untouched() {
    let p = people(2_000, 5);
    let input = people_batch(&p, 2);
    let derived = DerivedColumns::new(vec![
        DerivedColumn::parse("age_band=CASE WHEN age < 30 THEN 'young' ELSE 'older' END")
            .expect("valid"),
        DerivedColumn::parse(" rich = income > 100000 ").expect("valid"),
        // A later definition may use an earlier one.
        DerivedColumn::parse("band_state=age_band || '-' || state").expect("valid"),
    ])
    .expect("distinct names");
    let expected_schema = derived
        .check(&input.schema())
        .expect("valid against schema");
    let output = derived.apply(&input).expect("apply");
    assert_eq!(output.schema().as_ref(), &expected_schema);
    assert_eq!(output.num_columns(), input.num_columns() + 3);
    for i in 0..input.num_columns() {
        assert_eq!(output.schema().field(i), input.schema().field(i));
        // Same array, not a converted copy.
        assert!(Arc::ptr_eq(output.column(i), input.column(i)), "column {i}");
    }

    // CASE on a null age takes the ELSE branch (a null condition is not true).
    let band: Vec<Option<String>> = p
        .age
        .iter()
        .map(|a| {
            Some(
                if a.is_some_and(|a| a < 30) {
                    "young"
                } else {
                    "older"
                }
                .to_string(),
            )
        })
        .collect();
    assert_eq!(
        strings(output.column_by_name("age_band").expect("age_band")),
        band
    );

    let rich = output.column_by_name("rich").expect("rich");
    let rich = rich
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("boolean");
    let expected: BooleanArray = p.income.iter().map(|v| v.map(|v| v > 100_000.0)).collect();
    assert_eq!(rich, &expected);

    // String concatenation with a null operand is null.
    let expected: Vec<Option<String>> = band
        .iter()
        .zip(&p.state)
        .map(|(b, s)| Some(format!("{}-{}", b.as_deref()?, s.as_deref()?)))
        .collect();
    assert_eq!(
        strings(output.column_by_name("band_state").expect("band_state")),
        expected
    );
}

#[test]
fn derived_literal_is_broadcast_to_every_row() {
    let input = people_batch(&people(7, 6), 0);
    let derived = DerivedColumns::new(vec![
        DerivedColumn::parse("all='everyone'").expect("valid"),
        DerivedColumn::parse("nothing=NULL").expect("valid"),
    ])
    .expect("ok");
    let output = derived.apply(&input).expect("apply");
    assert_eq!(
        strings(output.column_by_name("all").expect("all")),
        vec![Some("everyone".to_string()); 7]
    );
    let nothing = output.column_by_name("nothing").expect("nothing");
    assert_eq!((nothing.len(), nothing.logical_null_count()), (7, 7));
}

#[test]
fn derived_definition_errors() {
    let message = |definition: &str| {
        DerivedColumn::parse(definition)
            .expect_err(definition)
            .to_string()
    };
    assert_eq!(
        message("age_band"),
        "--slice \"age_band\": expected NAME=EXPRESSION (no `=` found)"
    );
    assert_eq!(
        message(" = age"),
        "--slice \" = age\": expected NAME=EXPRESSION (the name is empty)"
    );
    assert!(message("CASE WHEN age = 1 THEN 'a' END").contains("is not a plain identifier"));
    assert!(message("band=CASE WHEN").starts_with("--slice \"CASE WHEN\": invalid SQL expression"));

    let twice = DerivedColumns::new(vec![
        DerivedColumn::parse("a=1").expect("valid"),
        DerivedColumn::parse("a=2").expect("valid"),
    ])
    .expect_err("duplicate");
    assert_eq!(
        twice.to_string(),
        "--slice \"a=2\": the column \"a\" is defined twice"
    );

    let schema = people_batch(&people(1, 7), 0).schema();
    let clash =
        DerivedColumns::new(vec![DerivedColumn::parse("age=age+1").expect("valid")]).expect("ok");
    assert!(
        clash
            .check(&schema)
            .expect_err("clash")
            .to_string()
            .contains("already has a column \"age\"")
    );

    let unknown = DerivedColumns::new(vec![
        DerivedColumn::parse("band=CASE WHEN agee < 30 THEN 'y' END").expect("valid"),
    ])
    .expect("ok");
    assert_eq!(
        unknown.check(&schema).expect_err("unknown").to_string(),
        "--slice \"CASE WHEN agee < 30 THEN 'y' END\": unknown column \"agee\"; \
         available: id, age, income, state, employer_title"
    );
}
