//! The uniqueness expectations against an exact naive model of Great
//! Expectations' pandas semantics, at 10³–10⁶ rows:
//!
//! - `expect_column_values_to_be_unique`: `~column.duplicated(keep=False)`
//!   on the non-null values: every occurrence of a repeated value is
//!   unexpected; nulls (and NaN) are missing; -0.0 equals 0.0; integers are
//!   compared exactly (2^60 and 2^60 + 1 differ, though they are one f64).
//! - `expect_compound_columns_to_be_unique`: the same over rows of several
//!   columns, where a null is a value (`(1, null)` twice repeats), after
//!   `ignore_row_if` (default: rows whose values are all missing).
//! - `expect_select_column_values_to_be_unique_within_record`: a row fails
//!   when `nunique(dropna=False, axis=1)` is below the number of columns
//!   (nulls count as one value).
//!
//! The model is a plain `HashMap` count over Rust values, independent of
//! the implementation (which sorts 64-bit prints). Results are compared
//! field by field: success, counts, percentages, the partial and complete
//! unexpected lists and index lists. Data goes through
//! `evaluate_batches` (one partition, many batches) and through Parquet
//! files with several row groups (several partitions, merged), with and
//! without a row condition.
//!
//! The distinct-value counts (`expect_column_unique_value_count_to_be_between`,
//! `expect_column_proportion_of_unique_values_to_be_between`: pandas'
//! `nunique()` over the non-missing values, and its ratio to their number)
//! are compared with the model's set of identities the same ways.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Int32Type;
use assay::expectations::{evaluate_batches, parse_toml, validate_suite};
use assay::sources::ReadOptions;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// A cell as the model sees it.
#[derive(Debug, Clone)]
enum V {
    Int(i64),
    Float(f64),
    Text(String),
}

/// The model's identity of a non-missing cell (pandas equality).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Id {
    Int(i64),
    /// f64 bits, -0.0 as 0.0.
    Float(u64),
    Text(String),
    Null,
}

fn id(v: &Option<V>) -> Id {
    match v {
        None => Id::Null,
        Some(V::Int(x)) => Id::Int(*x),
        Some(V::Float(x)) if x.is_nan() => Id::Null,
        Some(V::Float(x)) => Id::Float(if *x == 0.0 { 0 } else { x.to_bits() }),
        Some(V::Text(s)) => Id::Text(s.clone()),
    }
}

fn json_of(v: &Option<V>) -> Value {
    match v {
        None => Value::Null,
        Some(V::Int(x)) => json!(x),
        Some(V::Float(x)) => json!(x),
        Some(V::Text(s)) => json!(s),
    }
}

/// What GE reports: per row, missing or not, unexpected or not.
struct Expected {
    rows: usize,
    missing: Vec<bool>,
    unexpected: Vec<bool>,
}

/// `duplicated(keep=False)` over the rows that take part.
fn duplicated(keys: &[Option<Vec<Id>>]) -> Expected {
    let mut counts: HashMap<&Vec<Id>, usize> = HashMap::new();
    for k in keys.iter().flatten() {
        *counts.entry(k).or_default() += 1;
    }
    Expected {
        rows: keys.len(),
        missing: keys.iter().map(Option::is_none).collect(),
        unexpected: keys
            .iter()
            .map(|k| k.as_ref().is_some_and(|k| counts[k] > 1))
            .collect(),
    }
}

fn column_model(values: &[Option<V>]) -> Expected {
    let keys: Vec<Option<Vec<Id>>> = values
        .iter()
        .map(|v| match id(v) {
            Id::Null => None,
            i => Some(vec![i]),
        })
        .collect();
    duplicated(&keys)
}

/// Rows left out by `ignore_row_if` ("all" / "any" missing) are missing.
fn take_part(row: &[Id], ignore_any: bool) -> bool {
    let nulls = row.iter().filter(|i| **i == Id::Null).count();
    if ignore_any {
        nulls == 0
    } else {
        nulls < row.len()
    }
}

fn compound_model(columns: &[Vec<Option<V>>], ignore_any: bool) -> Expected {
    let n = columns[0].len();
    let keys: Vec<Option<Vec<Id>>> = (0..n)
        .map(|i| {
            let row: Vec<Id> = columns.iter().map(|c| id(&c[i])).collect();
            take_part(&row, ignore_any).then_some(row)
        })
        .collect();
    duplicated(&keys)
}

fn within_record_model(columns: &[Vec<Option<V>>]) -> Expected {
    let n = columns[0].len();
    let mut missing = Vec::with_capacity(n);
    let mut unexpected = Vec::with_capacity(n);
    for i in 0..n {
        // Across columns of one type here, so ids compare as pandas would.
        let row: Vec<Id> = columns.iter().map(|c| id(&c[i])).collect();
        let part = take_part(&row, false);
        let distinct: std::collections::HashSet<&Id> = row.iter().collect();
        missing.push(!part);
        unexpected.push(part && distinct.len() < row.len());
    }
    Expected {
        rows: n,
        missing,
        unexpected,
    }
}

/// Compares a COMPLETE result with the model; `render(i)` is row `i`'s
/// unexpected value as GE lists it (`None`: the list is not compared).
fn check(label: &str, r: &Value, want: &Expected, render: Option<&dyn Fn(usize) -> Value>) {
    let rows: Vec<usize> = (0..want.rows).filter(|&i| want.unexpected[i]).collect();
    let missing = want.missing.iter().filter(|m| **m).count();
    let nonmissing = want.rows - missing;
    let res = &r["result"];
    assert_eq!(
        r["exception_info"]["raised_exception"], false,
        "{label}: {r}"
    );
    assert_eq!(r["success"], json!(rows.is_empty()), "{label}: success");
    assert_eq!(
        res["element_count"],
        json!(want.rows),
        "{label}: element_count"
    );
    assert_eq!(
        res["missing_count"],
        json!(missing),
        "{label}: missing_count"
    );
    assert_eq!(
        res["unexpected_count"],
        json!(rows.len()),
        "{label}: unexpected_count"
    );
    let percent = if nonmissing == 0 {
        Value::Null
    } else {
        json!(rows.len() as f64 / nonmissing as f64 * 100.0)
    };
    assert_eq!(
        res["unexpected_percent"], percent,
        "{label}: unexpected_percent"
    );
    assert_eq!(
        res["unexpected_index_list"],
        json!(rows),
        "{label}: unexpected_index_list"
    );
    assert_eq!(
        res["partial_unexpected_index_list"],
        json!(rows.iter().take(20).collect::<Vec<_>>()),
        "{label}: partial_unexpected_index_list"
    );
    if let Some(render) = render {
        let list: Vec<Value> = rows.iter().map(|&i| render(i)).collect();
        assert_eq!(
            res["unexpected_list"],
            json!(list),
            "{label}: unexpected_list"
        );
        assert_eq!(
            res["partial_unexpected_list"],
            json!(list.iter().take(20).collect::<Vec<_>>()),
            "{label}: partial_unexpected_list"
        );
    }
}

fn array(values: &[Option<V>], dictionary: bool) -> ArrayRef {
    match values.iter().flatten().next() {
        Some(V::Int(_)) | None => Arc::new(Int64Array::from_iter(values.iter().map(|v| match v {
            Some(V::Int(x)) => Some(*x),
            _ => None,
        }))),
        Some(V::Float(_)) => Arc::new(Float64Array::from_iter(values.iter().map(|v| match v {
            Some(V::Float(x)) => Some(*x),
            _ => None,
        }))),
        Some(V::Text(_)) => {
            let texts = values.iter().map(|v| match v {
                Some(V::Text(s)) => Some(s.as_str()),
                _ => None,
            });
            if dictionary {
                Arc::new(texts.collect::<DictionaryArray<Int32Type>>())
            } else {
                Arc::new(StringArray::from_iter(texts))
            }
        }
    }
}

/// The columns cut into batches of `batch` rows.
fn batches(columns: &[(&str, ArrayRef)], batch: usize) -> Vec<RecordBatch> {
    let n = columns[0].1.len();
    (0..n)
        .step_by(batch)
        .map(|start| {
            let len = batch.min(n - start);
            RecordBatch::try_from_iter(columns.iter().map(|(name, a)| (*name, a.slice(start, len))))
                .unwrap()
        })
        .collect()
}

fn run(body: &str, data: &[RecordBatch]) -> Value {
    let suite = parse_toml(
        &format!("[[expectations]]\n{body}\nresult_format = \"COMPLETE\"\n"),
        "test.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(evaluate_batches(&suite, data).unwrap()).unwrap()["results"][0].clone()
}

/// Writes the columns to a Parquet file with row groups of `group` rows
/// (the reader makes a partition of each, or splits a big one) and
/// validates it.
fn run_parquet(body: &str, columns: &[(&str, ArrayRef)], group: usize) -> Value {
    run_parquet_suite(&[body], columns, group).swap_remove(0)
}

/// [`run_parquet`] with a suite of several expectations: their results.
fn run_parquet_suite(bodies: &[&str], columns: &[(&str, ArrayRef)], group: usize) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let data = batches(columns, group);
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        data[0].schema(),
        Some(props),
    )
    .unwrap();
    for b in &data {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
    let toml: String = bodies
        .iter()
        .map(|body| format!("[[expectations]]\n{body}\nresult_format = \"COMPLETE\"\n"))
        .collect();
    let suite = parse_toml(&toml, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    let path = path.to_string_lossy().to_string();
    let result = validate_suite(&[path], &ReadOptions::default(), &suite).unwrap();
    match serde_json::to_value(result).unwrap()["results"].take() {
        Value::Array(results) => results,
        other => panic!("no results: {other}"),
    }
}

/// Shapes of data: how values repeat.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A permutation: no value repeats.
    Unique,
    /// About 1% of the rows take another row's value.
    FewRepeats,
    /// Values drawn from n/2 possibilities: most rows repeat.
    ManyRepeats,
}

fn base(n: usize, shape: Shape, rng: &mut SmallRng) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n as u64).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
    match shape {
        Shape::Unique => {}
        Shape::FewRepeats => {
            for i in 0..n {
                if rng.random_bool(0.01) {
                    v[i] = v[rng.random_range(0..n)];
                }
            }
        }
        Shape::ManyRepeats => {
            for x in &mut v {
                *x = rng.random_range(0..(n as u64 / 2).max(1));
            }
        }
    }
    v
}

/// int64 values: large ones near 2^60 that one f64 cannot tell apart,
/// 5% nulls.
fn ints(n: usize, shape: Shape, seed: u64) -> Vec<Option<V>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    base(n, shape, &mut rng)
        .into_iter()
        .map(|x| {
            (!rng.random_bool(0.05)).then(|| {
                V::Int(if x % 2 == 0 {
                    x as i64
                } else {
                    (1 << 60) + x as i64
                })
            })
        })
        .collect()
}

/// int64 values in a range about as wide as their number (ids, codes),
/// some negative, 5% nulls.
fn dense_ints(n: usize, shape: Shape, seed: u64) -> Vec<Option<V>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    base(n, shape, &mut rng)
        .into_iter()
        .map(|x| (!rng.random_bool(0.05)).then(|| V::Int(x as i64 - n as i64 / 3)))
        .collect()
}

/// float64 values with nulls and NaN; one 0.0 and one -0.0, which repeat
/// each other (no other value is zero).
fn floats(n: usize, shape: Shape, seed: u64) -> Vec<Option<V>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    base(n, shape, &mut rng)
        .into_iter()
        .enumerate()
        .map(|(i, x)| match (i, rng.random_range(0..100)) {
            (5, _) => Some(V::Float(0.0)),
            (i, _) if i == n / 2 => Some(V::Float(-0.0)),
            (_, 0..3) => None,
            (_, 3..5) => Some(V::Float(f64::NAN)),
            _ => Some(V::Float(x as f64 * 0.5 - 7.25)),
        })
        .collect()
}

/// Short strings (hex of the value, some empty), 5% nulls.
fn texts(n: usize, shape: Shape, seed: u64) -> Vec<Option<V>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    base(n, shape, &mut rng)
        .into_iter()
        .map(|x| {
            (!rng.random_bool(0.05)).then(|| {
                V::Text(if x == 3 {
                    String::new()
                } else {
                    format!("{:x}", x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20)
                })
            })
        })
        .collect()
}

const UNIQUE: &str = "type = \"expect_column_values_to_be_unique\"\ncolumn = \"x\"";

#[test]
fn column_values_unique_matches_the_model_at_every_size() {
    let shapes = [Shape::Unique, Shape::FewRepeats, Shape::ManyRepeats];
    let mut seed = 0;
    for n in [1_000, 10_000, 100_000] {
        for shape in shapes {
            for (kind, values) in [
                ("int64", ints(n, shape, seed)),
                ("float64", floats(n, shape, seed + 1)),
                ("text", texts(n, shape, seed + 2)),
            ] {
                seed += 3;
                let want = column_model(&values);
                let render = |i: usize| json_of(&values[i]);
                for (dictionary, batch) in [(false, 16_384), (kind == "text", 1_000)] {
                    let data = batches(&[("x", array(&values, dictionary))], batch);
                    let label =
                        format!("{kind} {n} {shape:?} dictionary={dictionary} batch={batch}");
                    check(&label, &run(UNIQUE, &data), &want, Some(&render));
                }
            }
        }
    }
}

#[test]
fn column_values_unique_matches_the_model_at_a_million_rows() {
    for (kind, values) in [
        ("int64", ints(1_000_000, Shape::FewRepeats, 101)),
        ("text", texts(1_000_000, Shape::FewRepeats, 102)),
    ] {
        let want = column_model(&values);
        let render = |i: usize| json_of(&values[i]);
        let column = array(&values, false);
        let data = batches(&[("x", column.clone())], 16_384);
        check(
            &format!("{kind} 10^6"),
            &run(UNIQUE, &data),
            &want,
            Some(&render),
        );
        // Several partitions, merged in order.
        let r = run_parquet(UNIQUE, &[("x", column)], 150_000);
        check(&format!("{kind} 10^6 parquet"), &r, &want, Some(&render));
    }
}

#[test]
fn partitions_and_row_conditions_keep_row_positions() {
    let n = 100_000;
    let values = ints(n, Shape::ManyRepeats, 7);
    let column = array(&values, false);
    let group: Vec<Option<V>> = (0..n).map(|i| Some(V::Int((i % 3) as i64))).collect();
    let g = array(&group, false);
    // Row groups of 7,000 rows: 15 partitions, merged in order.
    let r = run_parquet(UNIQUE, &[("x", column.clone()), ("g", g.clone())], 7_000);
    let render = |i: usize| json_of(&values[i]);
    check(
        "parquet 15 partitions",
        &r,
        &column_model(&values),
        Some(&render),
    );

    // Only rows where g = 1 are validated; indices stay the input's.
    let body = format!("{UNIQUE}\nrow_condition = \"g = 1\"");
    let r = run_parquet(&body, &[("x", column), ("g", g)], 7_000);
    let kept: Vec<usize> = (0..n).filter(|i| i % 3 == 1).collect();
    let sub: Vec<Option<V>> = kept.iter().map(|&i| values[i].clone()).collect();
    let want = column_model(&sub);
    let res = &r["result"];
    let rows: Vec<usize> = (0..sub.len())
        .filter(|&k| want.unexpected[k])
        .map(|k| kept[k])
        .collect();
    assert_eq!(res["element_count"], json!(sub.len()));
    assert_eq!(res["unexpected_count"], json!(rows.len()));
    assert_eq!(res["unexpected_index_list"], json!(rows));
    let list: Vec<Value> = rows.iter().map(|&i| json_of(&values[i])).collect();
    assert_eq!(res["unexpected_list"], json!(list));
}

#[test]
fn compound_columns_unique_matches_the_model() {
    let mut seed = 500;
    for n in [1_000, 10_000, 100_000] {
        for shape in [Shape::Unique, Shape::FewRepeats, Shape::ManyRepeats] {
            seed += 1;
            // Few distinct pairs: one column from a small range, so repeats
            // of the pair come from both columns.
            let a: Vec<Option<V>> = ints(n, shape, seed)
                .into_iter()
                .map(|v| {
                    v.map(|v| match v {
                        V::Int(x) => V::Int(x % 50),
                        other => other,
                    })
                })
                .collect();
            let b = texts(n, shape, seed + 1000);
            let columns = vec![a.clone(), b.clone()];
            let render = |i: usize| json!({"a": json_of(&a[i]), "b": json_of(&b[i])});
            let data = batches(&[("a", array(&a, false)), ("b", array(&b, true))], 4_096);
            for (ignore, any) in [
                ("", false),
                ("\nignore_row_if = \"any_value_is_missing\"", true),
            ] {
                let body = format!(
                    "type = \"expect_compound_columns_to_be_unique\"\ncolumn_list = [\"a\", \"b\"]{ignore}"
                );
                let label = format!("compound {n} {shape:?} any={any}");
                check(
                    &label,
                    &run(&body, &data),
                    &compound_model(&columns, any),
                    Some(&render),
                );
            }
        }
    }
    // A million rows through several partitions.
    let a = ints(1_000_000, Shape::FewRepeats, 900);
    let b: Vec<Option<V>> = (0..1_000_000).map(|i| Some(V::Int(i % 2))).collect();
    let render = |i: usize| json!({"a": json_of(&a[i]), "b": json_of(&b[i])});
    let body = "type = \"expect_compound_columns_to_be_unique\"\ncolumn_list = [\"a\", \"b\"]";
    let r = run_parquet(
        body,
        &[("a", array(&a, false)), ("b", array(&b, false))],
        200_000,
    );
    check(
        "compound 10^6 parquet",
        &r,
        &compound_model(&[a.clone(), b.clone()], false),
        Some(&render),
    );
}

#[test]
fn select_column_values_unique_within_record_matches_the_model() {
    let mut seed = 700;
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        seed += 1;
        let mut rng = SmallRng::seed_from_u64(seed);
        // Values from 0..6 with 10% nulls: rows repeat values, or nulls, often.
        let mut column = |float: bool| -> Vec<Option<V>> {
            (0..n)
                .map(|_| {
                    (!rng.random_bool(0.1)).then(|| {
                        let x = rng.random_range(0..6);
                        if float {
                            V::Float(if x == 0 { -0.0 } else { x as f64 })
                        } else {
                            V::Int(x)
                        }
                    })
                })
                .collect()
        };
        for float in [false, true] {
            let columns = vec![column(float), column(float), column(float)];
            let data = batches(
                &[
                    ("a", array(&columns[0], false)),
                    ("b", array(&columns[1], false)),
                    ("c", array(&columns[2], false)),
                ],
                16_384,
            );
            let body = "type = \"expect_select_column_values_to_be_unique_within_record\"\ncolumn_list = [\"a\", \"b\", \"c\"]";
            // The listed values' shape (array or object) is GE conformance's
            // business; counts and positions are compared here.
            check(
                &format!("within record {n} float={float}"),
                &run(body, &data),
                &within_record_model(&columns),
                None,
            );
        }
    }
}

#[test]
fn within_record_compares_numbers_across_types_and_nulls_as_one_value() {
    let data = batches(
        &[
            (
                "i",
                array(
                    &[
                        Some(V::Int(1)),
                        Some(V::Int(1)),
                        None,
                        Some(V::Int(0)),
                        None,
                    ],
                    false,
                ),
            ),
            (
                "f",
                array(
                    &[
                        Some(V::Float(1.0)),
                        Some(V::Float(2.0)),
                        None,
                        Some(V::Float(-0.0)),
                        Some(V::Float(f64::NAN)),
                    ],
                    false,
                ),
            ),
            (
                "s",
                array(
                    &[
                        Some(V::Text("1".into())),
                        None,
                        None,
                        Some(V::Text("0".into())),
                        Some(V::Text("x".into())),
                    ],
                    false,
                ),
            ),
        ],
        16_384,
    );
    let r = run(
        "type = \"expect_select_column_values_to_be_unique_within_record\"\ncolumn_list = [\"i\", \"f\", \"s\"]",
        &data,
    );
    // Row 0: 1 == 1.0. Row 1: distinct (one null). Row 2: all missing, left
    // out. Row 3: 0 == -0.0. Row 4: null and NaN are both missing: one value.
    assert_eq!(r["result"]["unexpected_index_list"], json!([0, 3, 4]));
    assert_eq!(r["result"]["missing_count"], json!(1));
}

/// `nunique()` of the model: distinct identities of the non-missing cells,
/// and how many cells are non-missing.
fn distinct_model(values: &[Option<V>]) -> (usize, usize) {
    let ids: Vec<Id> = values.iter().map(id).filter(|i| *i != Id::Null).collect();
    let nonmissing = ids.len();
    let distinct: std::collections::HashSet<Id> = ids.into_iter().collect();
    (distinct.len(), nonmissing)
}

const UNIQUE_COUNT: &str =
    "type = \"expect_column_unique_value_count_to_be_between\"\ncolumn = \"x\"\nmin_value = 0";
const UNIQUE_PROPORTION: &str = "type = \"expect_column_proportion_of_unique_values_to_be_between\"\ncolumn = \"x\"\nmin_value = 0\nmax_value = 1";

fn check_distinct(label: &str, count: &Value, proportion: &Value, want: (usize, usize)) {
    let (distinct, nonmissing) = want;
    for r in [count, proportion] {
        assert_eq!(
            r["exception_info"]["raised_exception"], false,
            "{label}: {r}"
        );
        assert_eq!(r["success"], json!(true), "{label}: {r}");
    }
    assert_eq!(
        count["result"]["observed_value"].as_f64(),
        Some(distinct as f64),
        "{label}: unique value count"
    );
    assert_eq!(
        proportion["result"]["observed_value"].as_f64(),
        Some(distinct as f64 / nonmissing as f64),
        "{label}: proportion of unique values"
    );
}

#[test]
fn distinct_value_counts_match_the_model() {
    let shapes = [Shape::Unique, Shape::FewRepeats, Shape::ManyRepeats];
    let mut seed = 500;
    for n in [1_000, 100_000] {
        for shape in shapes {
            for (kind, values) in [
                ("int64", ints(n, shape, seed)),
                ("int64 dense", dense_ints(n, shape, seed + 3)),
                ("float64", floats(n, shape, seed + 1)),
                ("text", texts(n, shape, seed + 2)),
            ] {
                seed += 4;
                let want = distinct_model(&values);
                for dictionary in [false, kind == "text"] {
                    let label = format!("{kind} {n} {shape:?} dictionary={dictionary}");
                    let column = array(&values, dictionary);
                    let data = batches(&[("x", column.clone())], 4_096);
                    check_distinct(
                        &label,
                        &run(UNIQUE_COUNT, &data),
                        &run(UNIQUE_PROPORTION, &data),
                        want,
                    );
                    // Several partitions (row groups of n/7 rows), merged.
                    let r = run_parquet_suite(
                        &[UNIQUE_COUNT, UNIQUE_PROPORTION],
                        &[("x", column)],
                        n / 7,
                    );
                    check_distinct(&format!("{label} parquet"), &r[0], &r[1], want);
                }
            }
        }
    }
}

#[test]
fn distinct_value_counts_match_the_model_at_a_million_rows() {
    for (kind, values) in [
        ("int64", ints(1_000_000, Shape::ManyRepeats, 601)),
        (
            "int64 dense",
            dense_ints(1_000_000, Shape::ManyRepeats, 604),
        ),
        ("float64", floats(1_000_000, Shape::FewRepeats, 602)),
        ("text", texts(1_000_000, Shape::ManyRepeats, 603)),
    ] {
        let want = distinct_model(&values);
        // One row group, which the reader splits into row ranges, and
        // several row groups.
        for group in [1_000_000, 150_000] {
            let r = run_parquet_suite(
                &[UNIQUE_COUNT, UNIQUE_PROPORTION],
                &[("x", array(&values, false))],
                group,
            );
            check_distinct(
                &format!("{kind} 10^6 groups of {group}"),
                &r[0],
                &r[1],
                want,
            );
        }
    }
}

#[test]
fn distinct_value_counts_are_exact_beside_value_counts() {
    // The same column also read for its most common value (which counts
    // every value): the distinct count stays exact for integers beyond
    // 2^53 that one f64 cannot tell apart.
    let values: Vec<Option<V>> = (0..10_000)
        .map(|i| match i % 10 {
            0 => None,
            1..4 => Some(V::Int(7)),
            _ => Some(V::Int((1 << 60) + i)),
        })
        .collect();
    let want = distinct_model(&values);
    assert_eq!(want, (6_001, 9_000));
    let mode =
        "type = \"expect_column_most_common_value_to_be_in_set\"\ncolumn = \"x\"\nvalue_set = [7]";
    let r = run_parquet_suite(
        &[mode, UNIQUE_COUNT, UNIQUE_PROPORTION],
        &[("x", array(&values, false))],
        3_000,
    );
    assert_eq!(r[0]["success"], json!(true), "{}", r[0]);
    check_distinct("beside the mode", &r[1], &r[2], want);
}
